"""The book's figure style: one colour per op and per method, the matplotlib settings every figure uses, and the
sizes that keep a figure's text legible on the built page (:func:`displayed_font_pt`: a figure at most
:data:`MAX_FIGURE_WIDTH_IN` wide shows its smallest text, 9 pt, at 9 pt or more).

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
           "is_method", "run_colors", "style", "COLUMN_WIDTH_PX", "FIGURE_COLUMN_PX", "CSS_PX_PER_INCH",
           "MIN_DISPLAY_PT", "SAVE_PAD_IN", "FIGURE_DPI", "MAX_FIGURE_WIDTH_IN", "displayed_font_pt",
           "max_figure_width_in", "saved_width_in", "text_sizes", "small_texts", "overlapping_texts"]

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

# ------------------------------------------------------------------------------------------ sizes on the page
# The built book (Jupyter Book 1.x: sphinx-book-theme 1.3 on pydata-sphinx-theme 0.17) shows a figure in the text
# column. A chapter's figure is a retina PNG (``InlineBackend.figure_formats = ['retina']``: 2 x ``figure.dpi``,
# ``bbox_inches="tight"``) whose <img> is given the width ``png_px / 2``, i.e. ``figure.dpi`` CSS px per inch of
# the saved image; the theme's ``img {max-width: 100%}`` shrinks a wider one to the column. Measured in Chromium
# on a built page: the column of a cell's output is 790 CSS px wide from a 1440-px-wide window up (the article is
# at its max-width there); a ``{figure}`` directive's image with ``:width: 100%`` is 774 px (the figure's margin).

COLUMN_WIDTH_PX = 790
"""Width of the text column of a built page in CSS px, at its widest (browser window 1440 px or wider); a cell's
figure output is shrunk to it. Narrower windows have a narrower column (688 px at 1280)."""

FIGURE_COLUMN_PX = 774
"""Width in CSS px of an image in a ``{figure}`` directive with ``:width: 100%`` (the landing page's story figure),
at the same widest column: the image is scaled to it, up or down."""

CSS_PX_PER_INCH = 96
"""CSS px per inch (CSS fixes 1 in = 96 px; 1 pt = 1/72 in)."""

MIN_DISPLAY_PT = 9.0
"""The smallest size, in CSS pt, at which any text of a figure may be displayed on the page."""

SAVE_PAD_IN = 0.1
"""The padding ``bbox_inches="tight"`` adds on each side of the saved image (``savefig.pad_inches``)."""

FIGURE_DPI = 100
"""``figure.dpi`` of :data:`BOOK_RC`: CSS px per inch of a chapter's figure as the page embeds it (before shrinking)."""

BOOK_RC: dict[str, Any] = {
    "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
    "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11, "figure.labelsize": 10,
    "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "lines.linewidth": 1.6, "figure.dpi": FIGURE_DPI, "savefig.dpi": 150, "svg.fonttype": "none",
    "axes.titleweight": "normal",
}
"""The book's matplotlib settings. The smallest text they set is 9 pt (ticks, legends); with figures at most
:data:`MAX_FIGURE_WIDTH_IN` wide, every text of a figure is displayed at :data:`MIN_DISPLAY_PT` or more."""


def displayed_font_pt(width_in: float, font_pt: float, *, dpi: float | None = FIGURE_DPI,
                      column_px: float = COLUMN_WIDTH_PX) -> float:
    """The size in CSS pt at which a ``font_pt`` text of a saved image ``width_in`` inches wide is displayed.

    The page embeds the image at ``dpi`` CSS px per inch (a chapter's retina figure: ``figure.dpi``) and shrinks it
    to ``column_px`` when it is wider; ``dpi=None``: the image is scaled to ``column_px`` either way (a ``{figure}``
    with ``:width: 100%``). A text of ``font_pt`` is ``font_pt / 72`` in of the image, so on the page it is::

        font_pt * min(dpi, column_px / width_in) / 96      (CSS pt; 96 CSS px per inch)

    e.g. a 9-pt tick label of a 10.2-in-wide image (a 10-in figure and its tight-bbox padding): 9 * 790 / 10.2 / 96
    = 7.3 pt; of a 6-in figure at 100 dpi: 9 * 100 / 96 = 9.4 pt (not shrunk). ``width_in`` is the saved image's
    width: a figure's width plus ``2 * SAVE_PAD_IN`` when it is saved with ``bbox_inches="tight"``
    (:func:`saved_width_in`).
    """
    if width_in <= 0 or font_pt < 0:
        raise ValueError(f"displayed_font_pt: width_in must be > 0 and font_pt >= 0, got {width_in}, {font_pt}")
    px_per_in = column_px / width_in if dpi is None else min(dpi, column_px / width_in)
    return font_pt * px_per_in / CSS_PX_PER_INCH


def max_figure_width_in(font_pt: float, *, min_pt: float = MIN_DISPLAY_PT, column_px: float = COLUMN_WIDTH_PX,
                        pad_in: float = SAVE_PAD_IN) -> float:
    """The widest figure (inches, before its tight-bbox padding) whose ``font_pt`` text displays at ``min_pt``
    or more once shrunk to the column: ``column_px * font_pt / (96 * min_pt) - 2 * pad_in``."""
    return column_px * font_pt / (CSS_PX_PER_INCH * min_pt) - 2 * pad_in


MAX_FIGURE_WIDTH_IN = 8.0
"""The widest a figure of the book may be, in inches: its smallest text (9 pt, :data:`BOOK_RC`) then displays at
9 pt or more (``max_figure_width_in(9) = 8.03``). Multi-panel figures that would be wider take two rows."""


def saved_width_in(fig: Figure) -> float:
    """The width in inches of ``fig`` saved with ``bbox_inches="tight"`` (as a notebook shows it): its tight
    bounding box (which may be narrower than the figure, or wider when text sticks out) plus the padding."""
    fig.draw_without_rendering()  # the layout first: constrained layout moves the axes
    return float(fig.get_tightbbox().width) + 2 * SAVE_PAD_IN


def _drawn_texts(fig: Figure) -> list[tuple[Any, str, float]]:
    """``(text artist, string, font size in pt)`` of every text that drawing ``fig`` puts on the image: what
    the renderer is asked to draw (a hidden text, a tick label of an axis that is off, an empty string are not),
    one entry per line of a multi-line text."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.text import Text

    drawing: list[Any] = []

    class Recorder(RendererAgg):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.texts: list[tuple[Any, str, float]] = []

        def draw_text(self, gc: Any, x: float, y: float, s: str, prop: Any, angle: float, ismath: Any = False,
                      mtext: Any = None) -> None:
            if s.strip():
                self.texts.append((drawing[-1] if drawing else mtext, s, float(prop.get_size_in_points())))

    text_draw = Text.draw

    def draw(self: Text, renderer: Any) -> None:  # which Text a line belongs to (a multi-line one passes None)
        drawing.append(self)
        try:
            text_draw(self, renderer)
        finally:
            drawing.pop()

    width, height = fig.bbox.size
    renderer = Recorder(int(width), int(height), fig.dpi)  # drawing runs the layout engine, as saving does
    Text.draw = draw  # type: ignore[method-assign]
    try:
        fig.draw(renderer)
    finally:
        Text.draw = text_draw  # type: ignore[method-assign]
    return renderer.texts


def text_sizes(fig: Figure, *, width_in: float | None = None, dpi: float | None = FIGURE_DPI,
               column_px: float = COLUMN_WIDTH_PX) -> list[tuple[str, float, float]]:
    """``(text, font_pt, displayed_pt)`` for every text drawn in ``fig`` (titles, labels, tick labels, legend
    entries, annotations, colour-bar and contour labels), displayed as :func:`displayed_font_pt` says;
    ``width_in``: the saved image's width (default :func:`saved_width_in`, a notebook's tight bounding box)."""
    texts = _drawn_texts(fig)  # lays the figure out: its tight bounding box is the saved one
    width = float(fig.get_tightbbox().width) + 2 * SAVE_PAD_IN if width_in is None else width_in
    return [(s, pt, float(displayed_font_pt(width, pt, dpi=dpi, column_px=column_px))) for _, s, pt in texts]


def small_texts(fig: Figure, min_pt: float = MIN_DISPLAY_PT, **kwargs: Any) -> list[tuple[str, float, float]]:
    """The texts of ``fig`` that the page displays below ``min_pt`` (:func:`text_sizes`); empty when all are legible."""
    return [(text, pt, shown) for text, pt, shown in text_sizes(fig, **kwargs) if shown < min_pt - 1e-9]


def overlapping_texts(fig: Figure, gap_px: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of drawn texts of ``fig`` closer than ``gap_px`` (figure pixels) both ways, i.e. overlapping or
    touching (tick labels that run into each other), and texts that stick out of the figure (paired with
    ``"<figure edge>"``)."""
    artists = list(dict.fromkeys(t for t, _, _ in _drawn_texts(fig) if t is not None))
    renderer = fig._get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in artists]
    frame = fig.bbox
    out = []
    for i, (a, ba) in enumerate(boxes):
        if ba.x0 < frame.x0 - 1 or ba.x1 > frame.x1 + 1 or ba.y0 < frame.y0 - 1 or ba.y1 > frame.y1 + 1:
            out.append((a, "<figure edge>"))
        for b, bb in boxes[i + 1:]:
            dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
            dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if dx > -gap_px and dy > -gap_px and (dx > 0 or dy > 0):
                out.append((a, b))
    return out


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
