"""FairDARTS' zero-one loss (Chu et al., 2020, Sec. 4.2, Eq. 7-10).

With independent sigmoid op weights z = sigma(alpha) (Eq. 6) nothing forces a gate to decide; the zero-one
loss pushes every gate towards 0 or 1 so that thresholding at the end loses little (the discretization gap):

* ``"l01"`` (Eq. 7, the proposed loss): ``L01 = -(1/N) sum_i (z_i - 0.5)^2``. Its gradient
  ``-2 (z - 0.5) / N`` vanishes at z = 0.5, so gates near the fair start may still move either way, and
  grows as a gate leaves the middle.
* ``"l01-abs"`` (Eq. 9, the control): ``L'01 = -(1/N) sum_i |z_i - 0.5|``. Its gradient has the same size
  everywhere, so each gate is pushed from the first step in the direction of its initial deviation from
  0.5: it commits early, "depending greatly on the initialization" (Sec. 6.2).

The total architecture loss is ``L_val + w01 * L01`` (Eq. 8, ``w01 = 10``, Sec. 6.2), in every architecture
step from the first epoch. N counts every gate of both cell types, as the authors' code concatenates
``sigmoid(alphas_normal)`` and ``sigmoid(alphas_reduce)`` before the mean.

The loss is meant for sigmoid weights. With a softmax it still runs (and :func:`dartslib.methods.presets.build_hooks`
warns): the authors explain that it "cannot be directly applied to DARTS given the exclusive competition by
softmax" (Sec. 4.2) -- pushing one softmax weight up pushes the others down, so the weights of an edge
cannot all separate towards 0 and 1.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import torch

from dartslib.hooks import Knob, SearchHook, SearchSettings, Switch
from dartslib.space.op_weights import OP_WEIGHT_FORMS
from dartslib.space.supernet import Supernet

__all__ = ["zero_one_loss", "ZeroOneLoss", "ZERO_ONE_KINDS", "ZERO_ONE_SWITCH"]

ZERO_ONE_KINDS = ("l01", "l01-abs")


def _flat(gates: torch.Tensor | Mapping[str, torch.Tensor]) -> torch.Tensor:
    if isinstance(gates, Mapping):
        return torch.cat([g.reshape(-1) for g in gates.values()])
    return gates.reshape(-1)


def zero_one_loss(gates: torch.Tensor | Mapping[str, torch.Tensor], kind: str = "l01") -> torch.Tensor:
    """``L01`` (Eq. 7) or ``L'01`` (Eq. 9) of op weights in [0, 1], averaged over every gate.

    Args:
        gates: a tensor of any shape, or ``{cell_type: (num_edges, num_ops)}`` (all cell types pooled).
        kind: ``"l01"`` or ``"l01-abs"``.

    Returns a scalar; -0.25 when every gate is at 0 or 1 (``l01``), 0 when every gate is at 0.5.
    """
    z = _flat(gates)
    if kind == "l01":
        return -((z - 0.5) ** 2).mean()
    if kind == "l01-abs":
        return -(z - 0.5).abs().mean()
    raise ValueError(f"unknown zero-one loss {kind!r}; choose from: {', '.join(ZERO_ONE_KINDS)}")


class ZeroOneLoss(SearchHook):
    """Adds ``w01 * zero_one_loss(op weights)`` to the architecture loss (bi-level: the validation loss of
    every architecture step; single-level: the shared training loss)."""

    def __init__(self, kind: str = "l01", w01: float = 10.0) -> None:
        if kind not in ZERO_ONE_KINDS:
            raise ValueError(f"unknown zero-one loss {kind!r}; choose from: {', '.join(ZERO_ONE_KINDS)}")
        self.kind, self.w01 = kind, float(w01)
        self._last: float | None = None

    def arch_loss(self, model: Supernet) -> torch.Tensor:
        loss = zero_one_loss(model.op_weights(), self.kind)
        self._last = loss.item()
        return self.w01 * loss

    def describe(self) -> dict[str, Any]:
        return {"zero_one_loss": self._last}  # unweighted, at the last architecture step


def _hooks(config: SearchSettings) -> list[SearchHook]:
    if not config.zero_one_loss:
        return []
    if OP_WEIGHT_FORMS[config.op_weights].exclusive:
        warnings.warn(f"the zero-one loss is meant for sigmoid op weights; with {config.op_weights!r} weights "
                      f"it cannot push every weight of an edge towards 0 or 1 (Chu et al., 2020, Sec. 4.2)",
                      UserWarning, stacklevel=4)  # the caller of dartslib.methods.presets.build_hooks
    return [ZeroOneLoss(config.zero_one_loss, config.w01)]


ZERO_ONE_SWITCH = Switch(
    "zero_one", summary="FairDARTS' L01 or L'01 on the architecture loss (Chu et al., 2020, Eq. 7-9)",
    knobs=(Knob("zero_one_loss", "FairDARTS' zero-one loss (l01: Eq. 7; l01-abs: the control of Eq. 9; none: off)",
                choices=ZERO_ONE_KINDS, optional=True, off="none", flag="--zero-one"),
           Knob("w01", "weight of the zero-one loss (FairDARTS: 10)", type=float, sign="non-negative")),
    hooks=_hooks)
"""The switch (:class:`dartslib.hooks.Switch`): config ``zero_one_loss`` (None: off) and ``w01``."""
