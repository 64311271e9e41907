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

__all__ = ["OP_COLORS", "OP_SHORT", "OP_ORDER", "METHOD_COLORS", "BOOK_RC", "op_color", "run_colors", "style"]

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
    "darts": "#404040", "darts2nd": "#8a8a8a", "fairdarts": "#0072b2", "dartsminus": "#009e73",
    "spdarts": "#d55e00", "singledarts": "#cc79a7", "singledartssigmoid": "#882255",
    "dartsgaussian": "#e69f00", "dartsm2": "#56b4e9", "dartsnoskip": "#999933", "dartslargearchlr": "#b15928",
}
"""Fixed colours of the methods (keys: the method name lower-cased without punctuation)."""

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


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    """A colour per distinct label: a method's fixed colour when the label names one, else the palette."""
    out: dict[str, str] = {}
    spare = [c for c in _RUN_PALETTE]
    for label in dict.fromkeys(labels):
        key = _method_key(label)
        if key in METHOD_COLORS and METHOD_COLORS[key] not in out.values():
            out[label] = METHOD_COLORS[key]
    for label in dict.fromkeys(labels):
        if label not in out:
            free = [c for c in spare if c not in out.values()] or list(_RUN_PALETTE)
            out[label] = free[0]
    return out


@contextmanager
def style() -> Iterator[None]:
    """The book's matplotlib settings, for the duration of the block (nothing global changes)."""
    with matplotlib.rc_context(BOOK_RC):
        yield


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")
