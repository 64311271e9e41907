"""The landing page's figure: the whole argument of the book in one picture.

The collapse (a DARTS cell whose edges are taken over by parameter-free ops), its causes, the fix each paper
proposes, and where the book shows each: on a toy, on dartslib's real supernet (committed runs), at the
papers' scale. A static image, so the build spends nothing on it; the colours are the book's own
(:func:`dartslib.viz.style.method_color`, :data:`dartslib.viz.style.OP_COLORS`). It states no result: the
chapters measure them.

Run from the repository root after changing it, and commit the image (``tests/test_book_pages.py`` runs the
script and checks that the landing page shows the committed image)::

    python book/figures/story.py          # writes _static/story.png
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

from dartslib.viz.style import OP_COLORS, method_color, style

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "_static" / "story.png"

# (cause, what goes wrong, method, its fix, chapter)
CAUSES = [
    ("Unfair advantage", "ops compete for one softmax share; the skip helps training, so it wins",
     "FairDARTS", "independent sigmoid gates", 2),
    ("Discretization gap", "weights end far from one-hot; rounding them loses the supernet",
     "FairDARTS", "zero-one loss on the gates", 3),
    ("Residual benefit", "the supernet needs the skip to train, not as a candidate op",
     "DARTS-", "auxiliary skip, decayed to 0", 4),
    ("Information leakage", "losing ops still pass information; the cell cannot do without them",
     "SP-DARTS", "sparse and smooth temperatures", 5),
    ("Bi-level correlation", "weights and alphas step on different batches, which favours the leader",
     "Single-DARTS", "one step on the same batch", 6),
]
WHERE = ["toy", "real\nsupernet", "paper"]

WIDTH, HEIGHT = 7.8, 7.85
"""Inches. The landing page scales the image to its text column (774 CSS px): at 7.8 in, a 9-pt text displays at
9.3 pt (:func:`dartslib.viz.style.displayed_font_pt`); ``tests/test_figure_sizes.py`` checks every text of it."""


def _box(ax, x, y, w, h, face):
    ax.add_patch(Rectangle((x, y), w, h, facecolor=face, edgecolor="none"))


def _cell(ax, x0, y0, size, colours, title):
    """A four-node NAS-Bench-201 cell, ``size`` inches wide: six edges, each in the colour(s) of its op(s)."""
    nodes = [(x0, y0 + size * 0.25), (x0 + size * 0.35, y0 + size * 0.5), (x0 + size * 0.65, y0),
             (x0 + size, y0 + size * 0.25)]
    edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for (a, b), cs in zip(edges, colours):
        (xa, ya), (xb, yb) = nodes[a], nodes[b]
        dx, dy = xb - xa, yb - ya
        norm = (dx * dx + dy * dy) ** 0.5
        px, py = -dy / norm * 0.03, dx / norm * 0.03  # 0.03 in between the lines of one edge
        for k, c in enumerate(cs):
            off = k - (len(cs) - 1) / 2
            ax.plot([xa + off * px, xb + off * px], [ya + off * py, yb + off * py], color=c,
                    lw=1.3 if len(cs) > 1 else 2.6, solid_capstyle="round")
    for x, y in nodes:
        ax.plot(x, y, "o", ms=7, color="white", mec="#303030", mew=1.2)
    ax.text(x0 + size / 2, y0 - 0.2, title, ha="center", va="top", fontsize=9)


def story_figure() -> Figure:
    """The figure: the collapse on top, then one row per cause with its fix and where it is shown. The axes
    span the figure and their data coordinates are inches."""
    with style():
        fig = Figure(figsize=(WIDTH, HEIGHT))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, WIDTH)
        ax.set_ylim(7.4 - HEIGHT, 7.4)
        ax.set_axis_off()
        text = dict(va="center")

        # the collapse: a mixed cell becomes a cell of skips
        skip, conv, conv1, pool, none = (OP_COLORS[o] for o in ("skip_connect", "nor_conv_3x3", "nor_conv_1x1",
                                                              "avg_pool_3x3", "none"))
        mixed = [[skip, conv, pool, conv1, none]] * 6
        ax.text(0.15, 7.15, "DARTS collapses", fontsize=13, weight="bold", **text)
        _cell(ax, 0.35, 5.65, 1.9, mixed, "the supernet: every op\non every edge")
        ax.add_patch(FancyArrowPatch((2.55, 6.15), (3.35, 6.15), arrowstyle="-|>", mutation_scale=14,
                                     color="#303030"))
        _cell(ax, 3.65, 5.65, 1.9, [[skip], [skip], [conv], [skip], [pool], [skip]],
              "the derived cell: parameter-free\nops (skip) take the edges")
        ops = [("skip", skip), ("conv", conv), ("conv 1x1", conv1), ("pool", pool), ("none", none)]
        handles = [Line2D([], [], color=c, lw=2.6, label=n) for n, c in ops]
        ax.legend(handles=handles, loc="center", bbox_to_anchor=(6.75, 6.3), ncol=2, frameon=False,
                  handlelength=1.4, columnspacing=0.9, bbox_transform=ax.transData)
        ax.text(6.75, 5.45, "Ch. 1: on a toy and on\ndartslib's real supernet", ha="center", color="#404040",
                **text)

        # the table of causes
        cols = {"cause": 0.2, "why": 1.95, "fix": 3.95}
        where = [6.25, 6.87, 7.49]  # the centres of the three "where" columns
        header = dict(fontsize=10, weight="bold", color="#303030", **text)
        ax.text(cols["cause"], 4.45, "cause", **header)
        ax.text(cols["why"], 4.45, "what goes wrong", **header)
        ax.text(cols["fix"], 4.45, "the fix (paper)", **header)
        ax.text(where[1], 4.8, "where the book shows it", ha="center", color="#303030", fontsize=9, **text)
        for x, label in zip(where, WHERE):
            ax.text(x, 4.45, label, ha="center", fontsize=9, weight="bold", color="#303030", linespacing=1.0,
                    **text)
        row_h, top = 0.74, 3.85
        for i, (cause, why, method, fix, chapter) in enumerate(CAUSES):
            y = top - i * row_h
            colour = method_color(method)
            _box(ax, 0.08, y - row_h * 0.45, WIDTH - 0.12, row_h * 0.9, "#f4f4f4")
            _box(ax, 0.08, y - row_h * 0.45, 0.05, row_h * 0.9, colour)
            ax.text(cols["cause"], y + 0.12, cause, fontsize=10.5, weight="bold", **text)
            ax.text(cols["cause"], y - 0.15, f"Ch. {chapter}", fontsize=9, color="#505050", **text)
            ax.text(cols["why"], y, textwrap.fill(why, 26, break_on_hyphens=False), fontsize=9, linespacing=1.2, **text)
            ax.text(cols["fix"], y + 0.17, method, fontsize=10.5, weight="bold", color=colour, **text)
            ax.text(cols["fix"], y + 0.02, textwrap.fill(fix, 28, break_on_hyphens=False), fontsize=9, linespacing=1.2, va="top")
            for x, ch in zip(where, (chapter, chapter, 8)):
                ax.text(x, y, f"Ch. {ch}", ha="center", fontsize=9, color="#303030", **text)
        y = top - len(CAUSES) * row_h + 0.1
        ax.text(0.2, y, "Every fix on the same spaces and seeds, and combinations no paper ran: Ch. 7.",
                fontsize=9.5, color="#303030", **text)
        ax.text(0.2, y - 0.3, "The papers' commands, what they cost, and their reported numbers: Ch. 8.",
                fontsize=9.5, color="#303030", **text)
        fig.patch.set_facecolor("white")
    return fig


def main(out: Path = OUT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with style():
        story_figure().savefig(out, dpi=110, facecolor="white", metadata={"Software": None})
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
