"""DARTS-' auxiliary skip connection (Chu et al., 2021, Sec. 3.2, Eq. 4, Alg. 1).

Every mixed edge gets an extra branch outside the softmax, ``o(x) = beta * x + sum_o softmax(alpha)_o o(x)``
(Eq. 4): the fixed skip carries the gradient flow that otherwise makes the *candidate* skip connection win
(its "unfair advantage"), so ``alpha_skip`` is left to say whether skip is a good op. ``beta`` is not
learned and not used in derivation; it decays over the search so that the supernet ends close to plain
DARTS (Alg. 1: ``beta_e`` is fixed within epoch ``e``).

Choices (paper vs. code, and where the paper is open):

* Stride-2 edges (reduction cells) cannot use an identity; the auxiliary branch is there a
  ``FactorizedReduce(C, C, affine=False)``, the op DARTS' own ``skip_connect`` uses at stride 2.
* Schedules (``e`` = 0-based epoch, ``E`` = epochs, Sec. 4.4 "insensitive to the type of decay"):
  ``linear`` (default) ``beta0 * (1 - e/E)``: beta0 at the first epoch, ``beta0/E`` at the last (so the last
  epoch is not exactly DARTS); ``cosine`` ``beta0 * (1 + cos(pi e/E)) / 2``; ``step`` beta0 until
  ``round(0.9 E)`` then 0 (the paper's "step decay at epoch 45" of 50); ``constant`` beta0 throughout.
* Long searches (Sec. 4.4, Table 8: 150/200 epochs): ``decay_epochs=50`` holds ``beta0`` and applies the
  schedule over the last 50 epochs only.
* The ablation's ``conv1x1`` branch (Sec. 4.4, "a learnable 1x1 convolution projection initialized with an
  identity tensor"): a bias-free ``Conv2d(C, C, 1)`` with the identity as weight, no ReLU or BN (the paper
  names none), trained with the network weights. It replaces the identity only: stride-2 edges keep the
  ``FactorizedReduce``, as the authors' code does (the paper does not say).

A caution for NB201 (Chu et al., 2021, Table 3 reports it, without details): its cell outputs its last node,
which sums edges from every earlier node, and nothing re-normalises between cells, so the auxiliary
identities compound -- with beta = 1 the activations of our NB201 supernet grow about 8x per cell
(466,000x after the toy scale's 6 cells), and a toy-scale search only starts to learn once beta has decayed.
DARTS-topology cells re-normalise their inputs (ReLU-Conv-BN preprocessing), so they are not affected.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dartslib.space.ops import FactorizedReduce, Identity
from dartslib.hooks import Knob, SearchHook, StepContext, Switch
from dartslib.space.supernet import MixedEdge, Supernet

__all__ = ["AUX_SKIP_KINDS", "BETA_SCHEDULES", "beta_schedule", "add_auxiliary_skips", "set_aux_beta",
           "AuxiliarySkip", "AUX_SKIP_SWITCH"]

AUX_SKIP_KINDS = ("identity", "conv1x1")
BETA_SCHEDULES = ("linear", "cosine", "step", "constant")


def beta_schedule(schedule: str, epoch: int, epochs: int, beta0: float = 1.0,
                  decay_epochs: int | None = None) -> float:
    """``beta`` for 0-based ``epoch`` of ``epochs`` (see the module docstring for the schedules).

    With ``decay_epochs = N`` the first ``epochs - N`` epochs hold ``beta0`` and the schedule runs over the
    last N epochs (N larger than ``epochs`` means all of them).
    """
    window = epochs if decay_epochs is None else min(decay_epochs, epochs)
    k = epoch - (epochs - window)  # position inside the decay window
    if k < 0 or window <= 0:
        return float(beta0)
    if schedule == "linear":
        return beta0 * (1.0 - k / window)
    if schedule == "cosine":
        return beta0 * 0.5 * (1.0 + math.cos(math.pi * k / window))
    if schedule == "step":
        return float(beta0) if k < round(0.9 * window) else 0.0
    if schedule == "constant":
        return float(beta0)
    raise ValueError(f"unknown beta schedule {schedule!r}; choose from: {', '.join(BETA_SCHEDULES)}")


def _conv1x1_identity(C: int) -> nn.Conv2d:
    conv = nn.Conv2d(C, C, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(C).reshape(C, C, 1, 1))
    return conv


def add_auxiliary_skips(model: nn.Module, kind: str = "identity") -> int:
    """Give every :class:`MixedEdge` of ``model`` an auxiliary branch; returns how many edges got one.

    Call before the optimizers are built (``conv1x1`` and stride-2 branches have weights). The weights the
    branch is mixed with start at 0; :class:`AuxiliarySkip` sets them every step.
    """
    if kind not in AUX_SKIP_KINDS:
        raise ValueError(f"unknown auxiliary skip kind {kind!r}; choose from: {', '.join(AUX_SKIP_KINDS)}")
    count = 0
    for edge in model.modules():
        if isinstance(edge, MixedEdge):
            if edge.stride != 1:
                edge.aux_skip = FactorizedReduce(edge.C, edge.C, affine=False)
            else:
                edge.aux_skip = _conv1x1_identity(edge.C) if kind == "conv1x1" else Identity()
            if getattr(model, "channels_last", False):
                edge.aux_skip.to(memory_format=torch.channels_last)  # the supernet's layout (same numbers)
            count += 1
    return count


def set_aux_beta(model: nn.Module, beta: float) -> None:
    """Set the auxiliary branch's coefficient on every edge of ``model``."""
    for edge in model.modules():
        if isinstance(edge, MixedEdge):
            edge.aux_beta = float(beta)


class AuxiliarySkip(SearchHook):
    """Sets ``beta`` from the schedule before every step (a pure function of the epoch, so a resumed
    search needs no state) and records it per epoch as ``aux_beta``."""

    def __init__(self, schedule: str = "linear", beta0: float = 1.0, decay_epochs: int | None = None) -> None:
        beta_schedule(schedule, 0, 1, beta0)  # validate the name early
        self.schedule, self.beta0, self.decay_epochs = schedule, float(beta0), decay_epochs
        self.beta = float(beta0)

    def _apply(self, model: Supernet, epoch: int, epochs: int) -> None:
        self.beta = beta_schedule(self.schedule, epoch, epochs, self.beta0, self.decay_epochs)
        set_aux_beta(model, self.beta)

    def on_epoch_start(self, model: Supernet, epoch: int, epochs: int) -> None:
        self._apply(model, epoch, epochs)

    def before_step(self, model: Supernet, ctx: StepContext) -> None:
        self._apply(model, ctx.epoch, ctx.epochs)

    def describe(self) -> dict[str, Any]:
        return {"aux_beta": self.beta}


def _prepare(model: nn.Module, config: Any) -> None:
    if config.aux_skip:
        add_auxiliary_skips(model, config.aux_skip_kind)  # their weights train with the network's


def _hooks(config: Any) -> list[SearchHook]:
    if not config.aux_skip:
        return []
    return [AuxiliarySkip(config.aux_skip, config.aux_skip_beta0, config.aux_skip_decay_epochs)]


AUX_SKIP_SWITCH = Switch(
    "aux_skip", summary="DARTS-' auxiliary skip with a decaying beta (Chu et al., 2021, Eq. 4)",
    knobs=(Knob("aux_skip", "DARTS-' auxiliary skip with this beta schedule", choices=BETA_SCHEDULES, optional=True),
           Knob("aux_skip_beta0", "the auxiliary skip's initial beta (default 1)", type=float, sign="non-negative",
                flag="--beta0"),
           Knob("aux_skip_kind", "identity (default) or a 1x1 conv initialised to identity (DARTS- ablation)",
                choices=AUX_SKIP_KINDS),
           Knob("aux_skip_decay_epochs", "hold beta0 and decay only over the last N epochs (DARTS- long searches: 50)",
                type=int, sign="positive", optional=True, metavar="N")),
    prepare=_prepare, hooks=_hooks)
"""The switch (:class:`dartslib.hooks.Switch`): config ``aux_skip`` (None: off), ``aux_skip_beta0``,
``aux_skip_kind``, ``aux_skip_decay_epochs``."""
