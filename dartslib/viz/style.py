"""The book's figure style: one colour per op and per method, and the matplotlib settings every figure uses.

A leaf module: :mod:`dartslib.viz.plots` and :mod:`dartslib.viz.cell_drawing` both draw with it (and re-export its
names), so neither imports the other for its colours.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import matplotlib
from matplotlib.figure import Figure

__all__ = ["OP_COLORS", "OP_SHORT", "OP_ORDER", "METHOD_COLORS", "BOOK_RC", "op_color", "method_color", "method_colors",
           "is_method", "run_colors", "style"]

# ------------------------------------------------------------------------------------------ palette

OP_COLORS: dict[str, str] = {
    # parameter-free: warm and grey
    "skip_connect": "#e6550d",   # red-orange, the op that takes over
    "max_pool_3x3": "#8c510a",   # brown
    "avg_pool_3x3": "#d8b365",   # sand
    "none": "#a6a6a6",           # grey
    "noise": "#525252",          # dark grey
    # parametric: cool
    "sep_conv_3x3": "#2166ac",   # blue
    "sep_conv_5x5": "#67a9cf",   # light blue
    "sep_conv_7x7": "#053061",   # navy
    "dil_conv_3x3": "#1b7837",   # green
    "dil_conv_5x5": "#7fbf7b",   # light green
    "nor_conv_1x1": "#c2a5cf",   # lilac
    "nor_conv_3x3": "#762a83",   # purple
}
"""One colour per op, the same in every figure of the book."""

OP_SHORT: dict[str, str] = {
    "skip_connect": "skip", "max_pool_3x3": "max3", "avg_pool_3x3": "avg3", "none": "none", "noise": "noise",
    "sep_conv_3x3": "sep3", "sep_conv_5x5": "sep5", "sep_conv_7x7": "sep7", "dil_conv_3x3": "dil3",
    "dil_conv_5x5": "dil5", "nor_conv_1x1": "conv1", "nor_conv_3x3": "conv3",
}
"""Short op names for crowded axes."""

OP_ORDER: tuple[str, ...] = tuple(OP_COLORS)
"""Legend and stacking order: parameter-free ops first (skip at the bottom of a stack), then parametric."""

METHOD_COLORS: dict[str, str] = {
    "darts": "#404040",                    # dark grey: the baseline every chapter compares with
    "darts2nd": "#8a8a8a",                 # grey
    "fairdarts": "#0072b2",                # blue
    "dartsminus": "#009e73",               # green
    "spdarts": "#d55e00",                  # vermillion
    "singledarts": "#cc79a7",              # pink
    "singledartssoftmax": "#aa4499",       # purple
    "singledartssigmoidinit0": "#44aa99",  # teal
    "singledartssigmoid": "#882255",       # wine
    "dartsgaussian": "#e69f00",            # orange
    "dartsm2": "#56b4e9",                  # sky blue
    "dartsnoskip": "#999933",              # olive
    "dartslargearchlr": "#6a3d9a",         # violet
    "pcdarts": "#8c564b",                  # brown
    "gdas": "#17becf",                     # cyan
}
"""The one colour of every method preset (:data:`dartslib.methods.presets.METHODS`) in every figure of the book.

Keys are the preset name lower-cased without punctuation (``"darts-minus"`` -> ``"dartsminus"``); look a method
up with :func:`method_color`, which also accepts the names the book prints (``"DARTS-"``, ``"SP-DARTS"``)."""

_METHOD_ALIASES: dict[str, str] = {"darts1st": "darts", "dartsfirstorder": "darts", "dartssecondorder": "darts2nd",
                                   "darts2ndorder": "darts2nd"}
_SPARE_PALETTE = ("#117733", "#88ccee", "#661100", "#ddcc77", "#332288", "#aa4466", "#888888")

_RUN_PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#404040", "#f0e442")
_NODE_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d")

BOOK_RC: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "lines.linewidth": 1.6, "figure.dpi": 100, "savefig.dpi": 150, "svg.fonttype": "none",
    "axes.titleweight": "normal", "figure.titlesize": 11,
}


def op_color(op: str) -> str:
    """The book colour of ``op`` (an unknown op gets a stable grey-ish fallback)."""
    if op in OP_COLORS:
        return OP_COLORS[op]
    spare = ("#999933", "#882255", "#44aa99", "#332288", "#aa4499", "#117733")
    return spare[sum(map(ord, op)) % len(spare)]


def _op_key(op: str) -> int:
    return OP_ORDER.index(op) if op in OP_ORDER else len(OP_ORDER)


def _method_key(label: str) -> str:
    """``"DARTS-"`` -> ``"dartsminus"``, ``"fair-darts"`` -> ``"fairdarts"``, ``"darts-2nd"`` -> ``"darts2nd"``."""
    key = label.strip().lower()
    if key.endswith("-"):
        key = key[:-1] + "minus"
    return re.sub(r"[^a-z0-9]", "", key)


def method_color(name: str) -> str:
    """The book colour of the method ``name``: a preset name (``"sp-darts"``) or its printed form (``"SP-DARTS"``).

    Every chapter draws a method in this colour. A name that is not a preset (an ablation arm such as
    ``"sparse-only"``) gets a stable colour of a spare palette that no preset uses."""
    key = _method_key(name)
    key = _METHOD_ALIASES.get(key, key)
    if key in METHOD_COLORS:
        return METHOD_COLORS[key]
    return _SPARE_PALETTE[sum(map(ord, key)) % len(_SPARE_PALETTE)]


def is_method(name: str) -> bool:
    """Whether ``name`` names a preset of :data:`METHOD_COLORS` (in any of the spellings :func:`method_color` reads)."""
    key = _method_key(name)
    return _METHOD_ALIASES.get(key, key) in METHOD_COLORS


def method_colors(names: Sequence[str]) -> dict[str, str]:
    """``name -> colour`` for several methods: a preset's own colour; other names a spare colour, distinct
    from each other and from the presets'."""
    out = {n: method_color(n) for n in dict.fromkeys(names) if is_method(n)}
    spare = [c for c in _SPARE_PALETTE + _RUN_PALETTE if c not in METHOD_COLORS.values()]
    for n in dict.fromkeys(names):
        if n not in out:
            free = [c for c in spare if c not in out.values()] or list(_SPARE_PALETTE)
            out[n] = free[0]
    return out


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    """A colour per distinct label: a method's fixed colour (:func:`method_color`) when the label names a
    method, else a colour of the palette that no other label of ``labels`` has."""
    out: dict[str, str] = {}
    for label in dict.fromkeys(labels):
        if is_method(label) and method_color(label) not in out.values():
            out[label] = method_color(label)
    for label in dict.fromkeys(labels):
        if label not in out:
            free = [c for c in _RUN_PALETTE if c not in out.values()] or list(_RUN_PALETTE)
            out[label] = free[0]
    return out


@contextmanager
def style() -> Iterator[None]:
    """The book's matplotlib settings, for the duration of the block (nothing global changes)."""
    with matplotlib.rc_context(BOOK_RC):
        yield


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")
