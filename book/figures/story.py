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
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

from dartslib.viz.style import OP_COLORS, method_color, style

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "_static" / "story.png"

# (cause, what goes wrong, method, its fix, chapter)
CAUSES = [
    ("Unfair advantage", "ops compete for one softmax share;\nthe skip helps training, so it wins",
     "FairDARTS", "independent sigmoid gates", 2),
    ("Discretization gap", "weights end far from one-hot;\nrounding them loses the supernet",
     "FairDARTS", "zero-one loss on the gates", 3),
    ("Residual benefit", "the supernet needs the skip to train,\nnot as a candidate op",
     "DARTS-", "auxiliary skip, decayed to 0", 4),
    ("Information leakage", "losing ops still pass information;\nthe cell cannot do without them",
     "SP-DARTS", "sparse and smooth temperatures", 5),
    ("Bi-level correlation", "weights and alphas step on different\nbatches, which favours the leader",
     "Single-DARTS", "one step on the same batch", 6),
]
WHERE = ["toy", "real supernet", "paper"]


def _box(ax, x, y, w, h, face):
    ax.add_patch(Rectangle((x, y), w, h, facecolor=face, edgecolor="none", transform=ax.transAxes))


def _cell(ax, x0, y0, size, colours, title):
    """A four-node NAS-Bench-201 cell: six edges, each drawn in the colour(s) of its op(s)."""
    nodes = [(x0, y0 + size * 0.5), (x0 + size * 0.35, y0 + size), (x0 + size * 0.65, y0), (x0 + size, y0 + size * 0.5)]
    edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for (a, b), cs in zip(edges, colours):
        (xa, ya), (xb, yb) = nodes[a], nodes[b]
        dx, dy = xb - xa, (yb - ya) * 2  # the axes are about twice as wide as tall
        norm = (dx * dx + dy * dy) ** 0.5
        px, py = -dy / norm * 0.004, dx / norm * 0.008
        for k, c in enumerate(cs):
            off = k - (len(cs) - 1) / 2
            ax.plot([xa + off * px, xb + off * px], [ya + off * py, yb + off * py], color=c,
                    lw=1.3 if len(cs) > 1 else 2.6, transform=ax.transAxes, solid_capstyle="round")
    for x, y in nodes:
        ax.plot(x, y, "o", ms=7, color="white", mec="#303030", mew=1.2, transform=ax.transAxes)
    ax.text(x0 + size / 2, y0 - 0.05, title, ha="center", va="top", fontsize=9, transform=ax.transAxes)


def story_figure() -> Figure:
    """The figure: collapse on the left, one row per cause with its fix and where it is shown."""
    with style():
        fig = Figure(figsize=(12, 5.6))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        text = dict(transform=ax.transAxes, va="center")

        # the collapse: a mixed cell becomes a cell of skips
        skip, conv, conv1, pool, none = (OP_COLORS[o] for o in ("skip_connect", "nor_conv_3x3", "nor_conv_1x1",
                                                              "avg_pool_3x3", "none"))
        mixed = [[skip, conv, pool, conv1, none]] * 6
        ax.text(0.115, 0.95, "DARTS collapses", ha="center", fontsize=13, weight="bold", **text)
        _cell(ax, 0.04, 0.69, 0.15, mixed, "the supernet: every op on every edge")
        ax.add_patch(FancyArrowPatch((0.115, 0.48), (0.115, 0.40), arrowstyle="-|>", mutation_scale=14,
                                     color="#303030", transform=ax.transAxes))
        _cell(ax, 0.04, 0.20, 0.15, [[skip], [skip], [conv], [skip], [pool], [skip]],
              "the derived cell: parameter-free\nops (skip) take the edges")
        ax.text(0.115, 0.05, "Ch. 1: on a toy and on dartslib's\nreal supernet", ha="center", fontsize=9,
                color="#404040", **text)
        ops = [("skip", skip), ("conv", conv), ("conv 1x1", conv1), ("pool", pool), ("none", none)]
        handles = [Line2D([], [], color=c, lw=2.6, label=n) for n, c in ops]
        ax.legend(handles=handles, loc="center", bbox_to_anchor=(0.115, 0.54), ncol=3, fontsize=9, frameon=False,
                  handlelength=1.4, columnspacing=0.9, bbox_transform=ax.transAxes)

        # the table of causes
        left, top, row_h = 0.265, 0.83, 0.14
        cols = {"cause": left, "why": left + 0.16, "fix": left + 0.39, "where": left + 0.585}
        step = 0.055  # between the three "where" columns
        header = dict(fontsize=10, weight="bold", color="#303030", **text)
        ax.text(cols["cause"], 0.915, "cause", **header)
        ax.text(cols["why"], 0.915, "what goes wrong", **header)
        ax.text(cols["fix"], 0.915, "the fix (paper)", **header)
        ax.text(cols["where"] + step, 0.965, "where the book shows it", ha="center", fontsize=9, color="#303030",
                transform=ax.transAxes, va="center")
        for k, label in enumerate(["toy", "real\nsupernet", "paper"]):
            ax.text(cols["where"] + k * step, 0.915, label, ha="center", rotation=0, fontsize=9,
                    weight="bold", color="#303030", transform=ax.transAxes, va="center")
        for i, (cause, why, method, fix, chapter) in enumerate(CAUSES):
            y = top - i * row_h
            colour = method_color(method)
            _box(ax, left - 0.012, y - row_h * 0.45, 0.73, row_h * 0.9, "#f4f4f4")
            _box(ax, left - 0.012, y - row_h * 0.45, 0.005, row_h * 0.9, colour)
            ax.text(cols["cause"], y + 0.015, cause, fontsize=10.5, weight="bold", **text)
            ax.text(cols["cause"], y - 0.03, f"Ch. {chapter}", fontsize=9, color="#505050", **text)
            ax.text(cols["why"], y, why, fontsize=9, linespacing=1.25, **text)
            ax.text(cols["fix"], y + 0.02, method, fontsize=10.5, weight="bold", color=colour, **text)
            ax.text(cols["fix"], y - 0.025, fix, fontsize=9, **text)
            for k, ch in enumerate((chapter, chapter, 8)):
                ax.text(cols["where"] + k * step, y, f"Ch. {ch}", ha="center", fontsize=9,
                        color="#303030", transform=ax.transAxes, va="center")
        y = top - len(CAUSES) * row_h + 0.02
        ax.text(left, y - 0.02, "Every fix on the same spaces and seeds, and combinations no paper ran: Ch. 7.",
                fontsize=9.5, color="#303030", **text)
        ax.text(left, y - 0.065, "The papers' commands, what they cost, and their reported numbers: Ch. 8.",
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
