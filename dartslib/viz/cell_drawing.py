"""Drawing a cell from a genotype with matplotlib alone (no Graphviz): a DAG with one coloured, labelled
arrow per kept op, in the book's op palette (:data:`dartslib.viz.style.OP_COLORS`).

DARTS cells (pairs or FairDARTS triples) are drawn left to right: the two inputs ``c_{k-2}`` (top) and
``c_{k-1}`` (bottom), the intermediate nodes 0..3 in a column, and the output ``c_{k}`` (the concatenation,
dashed grey arrows). Edges between neighbouring nodes are straight, longer ones bow out to the right so
they do not run through other nodes. NAS-Bench-201 cells (an architecture string) have nodes 0..3,
``none`` edges omitted (drawn faint with ``show_none=True``).
"""
from __future__ import annotations

from typing import Any, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from dartslib.arch.architecture import ArchitectureLike, NB201Arch, parse_architecture
from dartslib.viz.style import MAX_FIGURE_WIDTH_IN, OP_SHORT, _new_figure, op_color, style

__all__ = ["draw_cell", "draw_genotype", "cell_layout"]

_NODE_STYLE = {
    "input": ("#d9f0d3", "#4d9221"),
    "inner": ("#deebf7", "#2171b5"),
    "output": ("#fff7bc", "#cc9a06"),
}


def cell_layout(edges: Sequence[tuple[str, int, int]], nb201: bool = False
                ) -> tuple[dict[Any, tuple[float, float]], dict[Any, str], dict[Any, str]]:
    """Node positions, labels and kinds for a cell's ``(op, to, from)`` edges.

    DARTS cells: the inputs on the left (``c_{k-2}`` top, ``c_{k-1}`` bottom), the intermediate nodes in
    one column (so every edge from an input is a straight line that meets no other node), the output on
    the right. NB201 cells: nodes 0..3 in a row. Returns ``(positions, labels, kinds)`` keyed by node id
    (``"out"`` for a DARTS cell's output).
    """
    if nb201:
        pos = {n: (2.2 * n, 0.0) for n in range(4)}
        labels = {n: str(n) for n in range(4)}
        kinds = {0: "input", 1: "inner", 2: "inner", 3: "output"}
        return pos, labels, kinds
    inner = sorted({to for _, to, _ in edges} | {2, 3, 4, 5})
    top = (len(inner) - 1) * 1.0
    pos: dict[Any, tuple[float, float]] = {0: (0.0, 2.4), 1: (0.0, -2.4)}
    for i, n in enumerate(inner):
        pos[n] = (3.6, top - 2.0 * i)
    pos["out"] = (7.0, 0.0)
    labels = {0: r"$c_{k-2}$", 1: r"$c_{k-1}$", "out": r"$c_{k}$"}
    labels.update({n: str(n - 2) for n in inner})
    kinds = {0: "input", 1: "input", "out": "output"}
    kinds.update({n: "inner" for n in inner})
    return pos, labels, kinds


def _rad(src: Any, dst: Any, nb201: bool) -> float:
    """Curvature of an edge (matplotlib's ``arc3`` rad): straight between neighbours and from the inputs,
    bowing out (above in a row, right of the column) when an edge jumps over nodes."""
    if nb201:  # 0->2 above, 1->3 below, 0->3 higher above
        return {(0, 2): -0.45, (1, 3): 0.45, (0, 3): -0.42}.get((int(src), int(dst)), 0.0)
    if src in (0, 1) or dst == "out":
        return 0.0
    hops = int(dst) - int(src)
    return 0.0 if hops <= 1 else -(0.5 if hops == 2 else 0.45)


def _label_point(p1: tuple[float, float], p2: tuple[float, float], rad: float) -> tuple[float, float]:
    """The midpoint of matplotlib's ``arc3`` curve (a quadratic Bezier) from ``p1`` to ``p2``."""
    (x1, y1), (x2, y2) = p1, p2
    dx, dy = x2 - x1, y2 - y1
    return (x1 + x2) / 2 + 0.5 * rad * dy, (y1 + y2) / 2 - 0.5 * rad * dx


def draw_cell(genotype: ArchitectureLike, cell: str = "normal", ax: Axes | None = None, title: str | None = None,
              show_none: bool = False, short_labels: bool = False) -> Figure:
    """Draw one cell of a genotype (DARTS text or :data:`Genotype`, or an NB201 architecture string).

    Args:
        genotype: the architecture (anything :func:`~dartslib.arch.architecture.parse_architecture`
            reads; a cell with no op is drawn, with a note).
        cell: ``"normal"`` or ``"reduce"`` (ignored for NB201).
        ax: draw into these axes (else a new figure).
        title: axes title (default: the cell's name and its op counts).
        show_none: draw NB201 ``none`` edges, faint and dotted.
        short_labels: ``sep3`` instead of ``sep_conv_3x3``.
    """
    arch = parse_architecture(genotype, allow_empty=True)
    nb201 = isinstance(arch, NB201Arch)
    edges = arch.edges() if nb201 else arch.edges(cell)
    pos, labels, kinds = cell_layout(edges, nb201)
    with style():
        if ax is None:
            # DARTS: the full op names at the page's 9 pt need a larger drawing than the short ones
            fig = _new_figure(5.6, 2.8) if nb201 else _new_figure(4.6, 4.4) if short_labels else _new_figure(6.2, 5.8)
            ax = fig.add_subplot(1, 1, 1)
        fig = ax.figure
        ax.set_axis_off()
        ax.set_aspect("equal")
        boxes = {}
        for n, (x, y) in pos.items():
            if n == "out" and nb201:
                continue
            face, edge = _NODE_STYLE[kinds[n]]
            w = 0.95 if n in (0, 1, "out") and not nb201 else 0.8
            boxes[n] = FancyBboxPatch((x - w / 2, y - 0.3), w, 0.6, boxstyle="round,pad=0.02,rounding_size=0.15",
                                      fc=face, ec=edge, lw=1.2, zorder=3)
            ax.add_patch(boxes[n])
            ax.text(x, y, labels[n], ha="center", va="center", fontsize=9, zorder=5)
        drawn = [e for e in edges if show_none or e[0] != "none"]
        concat = []
        if not nb201:  # as the evaluation network: a node with no input from a live node is left out
            live = {0, 1}
            for node in sorted({to for _, to, _ in edges}):
                if any(to == node and src in live for _, to, src in edges):
                    live.add(node)
            drawn = [e for e in drawn if e[2] in live]
            concat = [n for n in (2, 3, 4, 5) if n in live]
        for n in concat:
            rad = _rad(n, "out", nb201)
            ax.add_patch(FancyArrowPatch(pos[n], pos["out"], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                         mutation_scale=9, color="#9e9e9e", lw=1.0, ls=(0, (3, 2)),
                                         patchA=boxes[n], patchB=boxes["out"], shrinkA=1, shrinkB=1, zorder=1))
        for op, to, src in drawn:
            rad = _rad(src, to, nb201)
            colour = op_color(op)
            faint = op == "none"
            ax.add_patch(FancyArrowPatch(pos[src], pos[to], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                         mutation_scale=11, color=colour if not faint else "#c8c8c8",
                                         lw=2.0 if not faint else 1.0, ls="-" if not faint else ":",
                                         patchA=boxes[src], patchB=boxes[to], shrinkA=1, shrinkB=1, zorder=2))
            lx, ly = _label_point(pos[src], pos[to], rad)
            text = OP_SHORT.get(op, op) if short_labels else op
            ax.text(lx, ly, text, ha="center", va="center", fontsize=9, zorder=4, color="#202020",
                    bbox=dict(boxstyle="round,pad=0.18", fc="white", ec=colour, lw=1.0, alpha=0.95))
        if not any(op != "none" for op, _, _ in drawn):
            note = "no op kept" if nb201 else "no op kept\n(nothing passed the derivation rule)"
            ax.text(*((3.3, -0.8) if nb201 else (1.8, 0.0)), note, ha="center", va="center", fontsize=9,
                    color="#808080", style="italic", zorder=6)
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        pad_y = 1.7 if nb201 else 0.6
        ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
        ax.set_ylim(min(ys) - (1.25 if nb201 else pad_y), max(ys) + pad_y)
        if title is None:
            kept = [op for op, _, _ in edges if op != "none"]
            skips = sum(op == "skip_connect" for op in kept)
            name = "NB201 cell" if nb201 else f"{cell} cell"
            title = f"{name}: {len(kept)} ops, {skips} skip"
        ax.set_title(title)
    return fig


def draw_genotype(genotype: ArchitectureLike, title: str | None = None, short_labels: bool | None = None) -> Figure:
    """Both cells of a DARTS genotype side by side (an NB201 string: its one cell).

    ``short_labels`` (``sep3`` for ``sep_conv_3x3``) defaults to ``True`` for the two DARTS cells, whose full op
    names would overlap at a legible size in a figure as wide as the page, and to ``False`` for an NB201 cell."""
    arch = parse_architecture(genotype, allow_empty=True)
    if isinstance(arch, NB201Arch):
        fig = draw_cell(arch, title=title, short_labels=bool(short_labels))
        return fig
    short_labels = True if short_labels is None else short_labels
    with style():
        fig = _new_figure(MAX_FIGURE_WIDTH_IN, 4.2)
        for i, cell in enumerate(arch.cells):
            draw_cell(arch, cell, ax=fig.add_subplot(1, 2, i + 1), short_labels=short_labels)
        if title:
            fig.suptitle(title)
    return fig
