"""Search spaces: which ops each edge of each cell type may choose from.

A :class:`SearchSpace` fixes the cell topology (``"darts"``: 2 inputs, 4 intermediate nodes, 14 edges;
``"nb201"``: 4 nodes, 6 edges) and, for every cell type, one op list per edge. All edges of a cell type
have the same number of candidates, so the architecture parameters of a cell type are one
``(num_edges, num_ops)`` tensor, but the ops behind the columns may differ per edge (RobustDARTS S1).
"""
from __future__ import annotations

from dataclasses import dataclass

from dartslib.space.ops import OPS

__all__ = ["SearchSpace", "SPACES", "get_space", "darts_edges", "NB201_EDGES",
           "DARTS_OPS", "DARTS_NONONE_OPS", "NB201_OPS"]

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
DARTS_NONONE_OPS = DARTS_OPS[1:]
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def darts_edges(steps: int = 4) -> tuple[tuple[int, int], ...]:
    """``(to_node, from_node)`` of every edge of a DARTS cell, in the usual order.

    Nodes 0 and 1 are the cell inputs; node ``2 + i`` takes one edge from every earlier node.
    With 4 steps: (2,0), (2,1), (3,0), (3,1), (3,2), (4,0) ... (5,4): 14 edges.
    """
    return tuple((2 + i, j) for i in range(steps) for j in range(2 + i))


NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""``(to_node, from_node)`` of the 6 NAS-Bench-201 edges, in the order of its architecture strings."""

_S1_ALIASES = {"skip": "skip_connect", "sep3": "sep_conv_3x3", "dil3": "dil_conv_3x3",
               "dil5": "dil_conv_5x5", "max": "max_pool_3x3", "max_pool": "max_pool_3x3",
               "avg": "avg_pool_3x3"}
_S1_NORMAL = [["skip", "dil3"], ["skip", "dil5"], ["skip", "dil5"], ["skip", "sep3"], ["skip", "dil3"],
              ["max_pool", "skip"], ["skip", "sep3"], ["skip", "sep3"], ["skip", "dil3"], ["skip", "sep3"],
              ["max_pool", "skip"], ["skip", "dil3"], ["dil3", "dil5"], ["dil3", "dil5"]]
_S1_REDUCE = [["max", "avg"], ["max", "dil3"], ["max", "avg"], ["max", "avg"], ["skip", "dil5"],
              ["max", "avg"], ["max", "sep3"], ["skip", "dil3"], ["skip", "dil5"], ["max", "avg"],
              ["max", "avg"], ["skip", "dil5"], ["skip", "dil5"], ["skip", "dil5"]]


@dataclass(frozen=True)
class SearchSpace:
    """A named search space.

    Attributes:
        name: the name ``get_space`` knows it by.
        topology: ``"darts"`` (two-input cells, normal and reduce types) or ``"nb201"`` (one cell type).
        edge_ops: ``{cell_type: ((op, ...) per edge)}``; cell types are ``"normal"`` and ``"reduce"``
            for DARTS topologies and ``"cell"`` for NB201.
        description: one line for ``--help`` and the book.
    """

    name: str
    topology: str
    edge_ops: dict[str, tuple[tuple[str, ...], ...]]
    description: str = ""

    def __post_init__(self) -> None:
        for cell_type, per_edge in self.edge_ops.items():
            widths = {len(ops) for ops in per_edge}
            if len(widths) != 1:
                raise ValueError(f"space {self.name!r}: every {cell_type} edge needs the same number of ops")
            for ops in per_edge:
                for op in ops:
                    if op not in OPS:
                        raise ValueError(f"space {self.name!r}: unknown op {op!r}; known ops: {', '.join(OPS)}")

    @property
    def cell_types(self) -> tuple[str, ...]:
        return tuple(self.edge_ops)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """``(to_node, from_node)`` per edge, in alpha-row order."""
        return NB201_EDGES if self.topology == "nb201" else darts_edges(4)

    def num_ops(self, cell_type: str) -> int:
        return len(self.edge_ops[cell_type][0])

    def ops_of(self, cell_type: str, edge: int) -> tuple[str, ...]:
        return self.edge_ops[cell_type][edge]

    def op_names(self, cell_type: str) -> tuple[str, ...]:
        """All distinct ops of a cell type, in first-seen order (for legends and counts)."""
        seen: dict[str, None] = {}
        for ops in self.edge_ops[cell_type]:
            seen.update(dict.fromkeys(ops))
        return tuple(seen)

    def shared_ops(self, cell_type: str) -> tuple[str, ...] | None:
        """The op list if every edge has the same one (column j is always the same op), else None."""
        first = self.edge_ops[cell_type][0]
        return first if all(ops == first for ops in self.edge_ops[cell_type]) else None

    def without(self, op: str, name: str | None = None) -> "SearchSpace":
        """The same space with ``op`` removed from every edge (e.g. S \\ {skip}, Chu et al., 2020, Sec. 6.1)."""
        edge_ops = {}
        for cell_type, per_edge in self.edge_ops.items():
            new = tuple(tuple(o for o in ops if o != op) for ops in per_edge)
            if any(not ops for ops in new):
                raise ValueError(f"removing {op!r} from space {self.name!r} leaves an edge with no op")
            edge_ops[cell_type] = new
        return SearchSpace(name or f"{self.name}-no-{op}", self.topology, edge_ops,
                           f"{self.description} without {op}")


def _uniform(ops: tuple[str, ...], n_edges: int) -> tuple[tuple[str, ...], ...]:
    return tuple(ops for _ in range(n_edges))


def _darts_space(name: str, ops: tuple[str, ...], description: str) -> SearchSpace:
    return SearchSpace(name, "darts", {"normal": _uniform(ops, 14), "reduce": _uniform(ops, 14)}, description)


SPACES: dict[str, SearchSpace] = {
    "darts": _darts_space("darts", DARTS_OPS, "DARTS CIFAR cell space, 8 ops (Liu et al., 2019)"),
    "darts-nonone": _darts_space("darts-nonone", DARTS_NONONE_OPS,
                                 "DARTS space without none, 7 ops (as FairDARTS and SP-DARTS search)"),
    "s1": SearchSpace("s1", "darts", {
        "normal": tuple(tuple(_S1_ALIASES[o] for o in pair) for pair in _S1_NORMAL),
        "reduce": tuple(tuple(_S1_ALIASES[o] for o in pair) for pair in _S1_REDUCE)},
        "RobustDARTS S1: a different pair of ops on every edge (Zela et al., 2020)"),
    "s2": _darts_space("s2", ("skip_connect", "sep_conv_3x3"), "RobustDARTS S2: {skip_connect, sep_conv_3x3}"),
    "s3": _darts_space("s3", ("none", "skip_connect", "sep_conv_3x3"),
                       "RobustDARTS S3: {none, skip_connect, sep_conv_3x3}"),
    "s4": _darts_space("s4", ("noise", "sep_conv_3x3"), "RobustDARTS S4: {noise, sep_conv_3x3}"),
    "nb201": SearchSpace("nb201", "nb201", {"cell": _uniform(NB201_OPS, 6)},
                         "NAS-Bench-201 cell, 5 ops on 6 edges (Dong & Yang, 2020)"),
}
# S \ {skip} (Chu et al., 2020, Sec. 6.1): what the darts-noskip preset searches.
for _name in ("darts", "darts-nonone", "nb201"):
    SPACES[f"{_name}-noskip"] = SPACES[_name].without("skip_connect", f"{_name}-noskip")
del _name


def get_space(space: str | SearchSpace) -> SearchSpace:
    """Look a space up by name (a :class:`SearchSpace` passes through); unknown names raise ValueError."""
    if isinstance(space, SearchSpace):
        return space
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; choose from: {', '.join(SPACES)}")
    return SPACES[space]
