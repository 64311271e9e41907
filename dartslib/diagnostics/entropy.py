"""The summed entropy of op weights (IES, Zhang & Ding, 2023, Eq. 21): how far a relaxed architecture is from
one-hot. ``IES = -sum_e sum_m a_e^m log a_e^m`` over every edge ``e`` of every cell type; 0 for one-hot
weights, ``E log M`` for uniform ones. SP-DARTS uses it to show that sparse training removes the
"information bypass leakage" through the subordinate ops (Sec. IV-D, Fig. 3a).

Only meaningful for weights that sum to one per edge (softmax forms); for sigmoid gates see
:func:`dartslib.methods.zero_one.zero_one_loss`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

__all__ = ["summed_entropy", "edge_entropies"]


def edge_entropies(op_weights: torch.Tensor | Sequence) -> torch.Tensor:
    """Entropy (nats) of every edge's op distribution: ``(..., num_ops) -> (...)``. ``0 log 0 = 0``."""
    w = torch.as_tensor(op_weights, dtype=torch.float64)
    return -(w * torch.log(w.clamp_min(1e-300))).sum(-1)


def summed_entropy(op_weights: torch.Tensor | Sequence | Mapping[str, torch.Tensor | Sequence]) -> float:
    """IES of Zhang & Ding, 2023, Eq. 21: the entropies of all edges added up.

    Args:
        op_weights: ``{cell_type: (num_edges, num_ops)}`` (all cell types are summed), or one tensor /
            nested list whose last dimension indexes the ops.
    """
    if isinstance(op_weights, Mapping):
        return float(sum(edge_entropies(w).sum().item() for w in op_weights.values()))
    return float(edge_entropies(op_weights).sum().item())
