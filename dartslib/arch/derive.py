"""Deriving a discrete architecture from op weights.

Four rules:

* :func:`derive_darts` - DARTS (Liu et al., 2019, Sec. 2.4): for each intermediate node keep the two
  incoming edges whose strongest non-``none`` op weighs most, and on each the argmax non-``none`` op.
* :func:`derive_threshold` - FairDARTS (Chu et al., 2020, Sec. 4.3 and footnote 8): on each edge the
  strongest op whose sigmoid weight is at least ``threshold`` (0.85), if any (one op per edge, not every
  passing op); per node at most ``max_edges`` (2) such edges, the strongest first; the result uses
  (op, to, from) triples, so a node may end with 0, 1 or 2 inputs.
* :func:`derive_nb201` - NAS-Bench-201: argmax over all ops (``none`` included) of each edge.
* :func:`derive_gdas` - GDAS' DARTS-space rule (Dong & Yang, 2019; the authors' code): for each intermediate
  node the two strongest (op, input) pairs over every non-``none`` op of every incoming edge, so both may
  come from the same input.

All rules take ``{cell_type: (num_edges, num_ops)}`` op weights as tensors or nested lists.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from dartslib.arch.genotype import Genotype
from dartslib.arch.nb201 import format_nb201_arch
from dartslib.space.spaces import SearchSpace, get_space

__all__ = ["derive_darts", "derive_threshold", "derive_nb201", "derive_gdas", "derive", "DERIVATION_RULES"]

WeightsLike = Mapping[str, "torch.Tensor | Sequence[Sequence[float]]"]


def _as_tensor(weights: "torch.Tensor | Sequence[Sequence[float]]") -> torch.Tensor:
    return torch.as_tensor(weights, dtype=torch.float64).detach().cpu()


def _check_shape(space: SearchSpace, cell_type: str, w: torch.Tensor) -> None:
    expected = (len(space.edge_ops[cell_type]), space.num_ops(cell_type))
    if tuple(w.shape) != expected:
        raise ValueError(f"{cell_type} op weights have shape {tuple(w.shape)}, space {space.name!r} "
                         f"expects {expected}")


EDGE_TIES = ("earlier", "later")


def _darts_cell(space: SearchSpace, cell_type: str, w: torch.Tensor, max_skip: int | None,
                decimals: int | None = None, edge_ties: str = "earlier") -> list[tuple[str, int]]:
    _check_shape(space, cell_type, w)
    if decimals is not None:
        w = torch.round(w, decimals=decimals)
    chosen = _top2_per_node(space, cell_type, w, edge_ties)
    if max_skip is not None:
        while sum(op == "skip_connect" for _, _, op, _ in chosen) > max_skip:
            w = _zero_weakest_skip(space, cell_type, w, chosen)
            chosen = _top2_per_node(space, cell_type, w, edge_ties)
    return [(op, src) for _, _, op, src in chosen]


def _top2_per_node(space: SearchSpace, cell_type: str, w: torch.Tensor,
                   edge_ties: str) -> list[tuple[float, int, str, int]]:
    """DARTS' ``genotype()``: per node the two edges whose strongest non-none op weighs most (ties: the
    earlier input first, as DARTS' stable sort; ``edge_ties="later"``: the later input first, as
    SP-DARTS' code, which sorts the reversed edge list), and on each its argmax non-none op (ties: the
    first op). Returns (strength, edge, op, from) per kept edge, strongest first."""
    edges = space.edges
    chosen: list[tuple[float, int, str, int]] = []  # (strength, edge, op, from) per kept edge
    for node in sorted({to for to, _ in edges}):
        candidates = []
        for e, (to, src) in enumerate(edges):
            if to != node:
                continue
            ops = space.ops_of(cell_type, e)
            best = max((k for k, op in enumerate(ops) if op != "none"), key=lambda k: w[e, k].item(), default=None)
            if best is not None:
                candidates.append((w[e, best].item(), e, ops[best], src))
        if edge_ties == "later":
            candidates.reverse()
        candidates.sort(key=lambda c: -c[0])  # stable: ties keep the (possibly reversed) edge order
        chosen.extend(candidates[:2])  # strongest first, as DARTS' genotype() lists them
    return chosen


def _zero_weakest_skip(space: SearchSpace, cell_type: str, w: torch.Tensor,
                       chosen: list[tuple[float, int, str, int]]) -> torch.Tensor:
    """P-DARTS' ``delete_min_sk_prob``: of the kept edges whose op is skip_connect, remove the skip of the one
    where it is weakest (a copy of ``w`` with that weight at -inf; P-DARTS sets the probability to 0, the
    same unless every other op of the edge weighs exactly 0, where -inf still ends the loop)."""
    e = min((c[1] for c in chosen if c[2] == "skip_connect"),
            key=lambda e: w[e, space.ops_of(cell_type, e).index("skip_connect")].item())
    ops = space.ops_of(cell_type, e)
    if not any(op not in ("none", "skip_connect") for op in ops):
        raise ValueError(f"cannot limit skip connections: an edge of {cell_type!r} has no other op")
    w = w.clone()
    w[e, ops.index("skip_connect")] = float("-inf")
    return w


def derive_darts(op_weights: WeightsLike, space: str | SearchSpace = "darts", max_skip: int | None = None,
                 decimals: int | None = None, edge_ties: str = "earlier") -> Genotype:
    """DARTS' rule (Liu et al., 2019, Sec. 2.4): two strongest incoming edges per node, argmax non-none op
    on each.

    ``max_skip`` applies the M-skip prior of P-DARTS (Chen et al., 2019, Sec. 3.3) / DARTS+ to the normal
    cell (at most M skip connections; the papers use M = 2) as P-DARTS' code does (``train_search.py``
    of ``chenxin061/pdarts``: ``delete_min_sk_prob``, ``keep_1_on``, ``keep_2_branches``): while more than
    M skips are kept, the weakest kept skip is removed (its weight zeroed) and the whole cell is derived again (each
    edge's argmax, the two strongest edges per node), so that edge may give way to another edge of its node
    instead of only changing its op.

    ``decimals`` rounds the weights first and ``edge_ties`` breaks ties between equally strong edges
    (``"earlier"``: DARTS; ``"later"``: the later input wins), the two details by which SP-DARTS' code
    (``chaoji90/SP-DARTS``, ``SP-DARTS/model_search.py``, ``genotype``) differs from DARTS'.
    """
    space = get_space(space)
    if space.topology != "darts":
        raise ValueError(f"the DARTS rule needs a DARTS-topology space, not {space.name!r}")
    if edge_ties not in EDGE_TIES:
        raise ValueError(f"unknown edge_ties {edge_ties!r}; choose from: {', '.join(EDGE_TIES)}")
    normal = _darts_cell(space, "normal", _as_tensor(op_weights["normal"]), max_skip, decimals, edge_ties)
    reduce = _darts_cell(space, "reduce", _as_tensor(op_weights["reduce"]), None, decimals, edge_ties)
    return Genotype(normal=normal, normal_concat=[2, 3, 4, 5], reduce=reduce, reduce_concat=[2, 3, 4, 5])


def _threshold_cell(space: SearchSpace, cell_type: str, w: torch.Tensor, threshold: float,
                    max_edges: int) -> list[tuple[str, int, int]]:
    _check_shape(space, cell_type, w)
    triples: list[tuple[str, int, int]] = []
    for node in sorted({to for to, _ in space.edges}):
        kept = []
        for e, (to, src) in enumerate(space.edges):
            if to != node:
                continue
            ops = space.ops_of(cell_type, e)
            passing = [(w[e, k].item(), ops[k]) for k in range(len(ops)) if ops[k] != "none" and w[e, k] >= threshold]
            if passing:
                strength, op = max(passing)
                kept.append((strength, src, op))
        kept.sort(key=lambda c: -c[0])
        triples.extend((op, node, src) for _, src, op in sorted(kept[:max_edges], key=lambda c: c[1]))
    return triples


def derive_threshold(op_weights: WeightsLike, space: str | SearchSpace = "darts-nonone",
                     threshold: float = 0.85, max_edges: int = 2) -> Genotype:
    """FairDARTS' rule (Chu et al., 2020, Sec. 4.3 and footnote 8): on each edge, the strongest op whose
    weight is at least ``threshold`` (only that one, even when several pass); per node at most ``max_edges``
    such edges, the strongest first.
    Nodes with no passing edge get no input. Returns (op, to, from) triples.
    """
    space = get_space(space)
    if space.topology != "darts":
        raise ValueError(f"the threshold rule needs a DARTS-topology space, not {space.name!r}")
    normal = _threshold_cell(space, "normal", _as_tensor(op_weights["normal"]), threshold, max_edges)
    reduce = _threshold_cell(space, "reduce", _as_tensor(op_weights["reduce"]), threshold, max_edges)
    return Genotype(normal=normal, normal_concat=[2, 3, 4, 5], reduce=reduce, reduce_concat=[2, 3, 4, 5])


def derive_nb201(op_weights: WeightsLike, space: str | SearchSpace = "nb201") -> str:
    """NAS-Bench-201's rule: argmax op per edge (``none`` included); returns the architecture string."""
    space = get_space(space)
    if space.topology != "nb201":
        raise ValueError(f"the NB201 rule needs the nb201 space, not {space.name!r}")
    w = _as_tensor(op_weights["cell"])
    _check_shape(space, "cell", w)
    return format_nb201_arch([space.ops_of("cell", e)[int(w[e].argmax())] for e in range(w.shape[0])])


def _gdas_cell(space: SearchSpace, cell_type: str, w: torch.Tensor) -> list[tuple[str, int]]:
    _check_shape(space, cell_type, w)
    chosen: list[tuple[str, int]] = []
    for node in sorted({to for to, _ in space.edges}):
        pairs = [(w[e, k].item(), op, src) for e, (to, src) in enumerate(space.edges) if to == node
                 for k, op in enumerate(space.ops_of(cell_type, e)) if op != "none"]
        pairs.sort(key=lambda p: -p[0])  # stable: ties keep the (input, op) order, as the code's sorted()
        chosen.extend((op, src) for _, op, src in pairs[:2])
    return chosen


def derive_gdas(op_weights: WeightsLike, space: str | SearchSpace = "darts") -> Genotype:
    """GDAS' DARTS-space rule (Dong & Yang, 2019), as the authors' code derives a cell (``D-X-Y/AutoDL-Projects``,
    ``xautodl/models/cell_searchs/search_model_gdas_nasnet.py``, ``NASNetworkGDAS.genotype``; the same in
    ``search_model_gdas_frc_nasnet.py``): per node, every (op, input) pair of its incoming edges except
    ``none``, ranked by its weight (the softmax of the alphas; a stable sort, so ties keep the input-then-op
    order); the two strongest are kept, strongest first. Unlike DARTS' rule (:func:`derive_darts`), which
    keeps two different inputs and one op on each, both pairs may come from one input (two ops on one edge).
    Both cells are derived by it (the code's FRC variant searches only the normal cell)."""
    space = get_space(space)
    if space.topology != "darts":
        raise ValueError(f"the GDAS rule needs a DARTS-topology space, not {space.name!r}")
    normal = _gdas_cell(space, "normal", _as_tensor(op_weights["normal"]))
    reduce = _gdas_cell(space, "reduce", _as_tensor(op_weights["reduce"]))
    return Genotype(normal=normal, normal_concat=[2, 3, 4, 5], reduce=reduce, reduce_concat=[2, 3, 4, 5])


DERIVATION_RULES = ("darts", "threshold", "nb201", "gdas")


def derive(op_weights: WeightsLike, space: str | SearchSpace, rule: str | None = None,
           **options: float) -> "Genotype | str":
    """Derive with ``rule`` (default: ``"nb201"`` for the NB201 space, else ``"darts"``)."""
    space = get_space(space)
    rule = rule or ("nb201" if space.topology == "nb201" else "darts")
    if rule == "darts":
        return derive_darts(op_weights, space, **options)
    if rule == "threshold":
        return derive_threshold(op_weights, space, **options)
    if rule == "nb201":
        return derive_nb201(op_weights, space)
    if rule == "gdas":
        return derive_gdas(op_weights, space)
    raise ValueError(f"unknown derivation rule {rule!r}; choose from: {', '.join(DERIVATION_RULES)}")
