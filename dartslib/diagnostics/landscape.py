"""The validation-accuracy landscape of a supernet around its alphas (Chu et al., 2021, Fig. 3, 7, 8).

Following Li et al. (2018, "Visualizing the loss landscape of neural nets"), two random directions
``d1, d2`` in alpha space are *filter-normalised*: each edge's row (the alphas of one edge play the role
of one filter) is rescaled to the norm of the alphas on that edge, so the perturbation is of the same
relative size everywhere. The landscape is the accuracy at ``alpha + a d1 + b d2`` on a grid of
``(a, b)`` in ``[-span, span]^2``; the centre is the supernet itself. The perturbed alphas only ever go
through the op-weight form into ``model(x, op_weights=...)``: the model is never written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from dartslib.diagnostics.measures import Batches, accuracy

__all__ = ["Landscape", "filter_normalized_direction", "accuracy_landscape"]


@dataclass
class Landscape:
    """A grid of accuracies (%) and losses: ``acc[i, j]`` at ``alpha + coords[i] * d1 + coords[j] * d2``."""

    coords: np.ndarray   # (n,)
    acc: np.ndarray      # (n, n)
    loss: np.ndarray     # (n, n)

    def to_dict(self) -> dict[str, Any]:
        return {"coords": self.coords.tolist(), "acc": self.acc.tolist(), "loss": self.loss.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Landscape":
        return cls(np.asarray(d["coords"], float), np.asarray(d["acc"], float),
                   np.asarray(d.get("loss", np.full_like(np.asarray(d["acc"], float), np.nan)), float))

    @property
    def center(self) -> float:
        """Accuracy at the origin (the supernet itself; exact when the number of points is odd)."""
        i = int(np.argmin(np.abs(self.coords)))
        return float(self.acc[i, i])


def filter_normalized_direction(alphas: Mapping[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A Gaussian direction with each edge's row rescaled to the norm of that edge's alphas (Li et al.
    2018, filter normalisation with one edge = one filter). A row of all-zero alphas keeps a unit-norm
    direction (there is no scale to match)."""
    out = {}
    for cell_type, a in alphas.items():
        a = a.detach()
        d = torch.randn(a.shape, generator=generator, dtype=torch.float64).to(a)
        d_norm = d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        a_norm = a.norm(dim=1, keepdim=True)
        scale = torch.where(a_norm > 0, a_norm, torch.ones_like(a_norm))
        out[cell_type] = d / d_norm * scale
    return out


def accuracy_landscape(model: nn.Module, batches: Batches, span: float = 1.0, points: int = 11, seed: int = 0,
                       directions: tuple[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]] | None = None,
                       bn: str = "batch") -> Landscape:
    """Accuracy of the supernet at ``alpha + a d1 + b d2`` for ``a, b`` on ``points`` values in
    ``[-span, span]`` (odd ``points`` include the supernet itself at the centre).

    ``directions``: ``(d1, d2)`` as ``{cell_type: tensor}``; by default two filter-normalised Gaussian
    directions from a private generator seeded with ``seed``. ``bn``: see :func:`dartslib.diagnostics.measures.accuracy`.
    """
    if points < 1:
        raise ValueError(f"points must be positive, got {points}")
    batches = list(batches)
    alphas = {ct: p.detach() for ct, p in model.arch_params.items()}
    if directions is None:
        generator = torch.Generator().manual_seed(seed)
        directions = (filter_normalized_direction(alphas, generator), filter_normalized_direction(alphas, generator))
    d1, d2 = directions
    coords = np.linspace(-span, span, points) if points > 1 else np.zeros(1)
    coords[np.abs(coords) < 1e-9 * max(span, 1e-12)] = 0.0  # the centre exactly at the supernet
    acc = np.zeros((points, points))
    loss = np.zeros((points, points))
    form = model.op_weight_form
    for i, a in enumerate(coords):
        for j, b in enumerate(coords):
            with torch.no_grad():
                weights = {ct: form(alpha + float(a) * d1[ct] + float(b) * d2[ct]) for ct, alpha in alphas.items()}
            loss[i, j], acc[i, j] = accuracy(model, batches, weights, bn)
    return Landscape(coords, acc, loss)
