"""DARTS-' auxiliary skip connection (Chu et al., 2021, Sec. 3.2, Eq. 4, Alg. 1).

Every mixed edge gets an extra branch outside the softmax, ``o(x) = beta * x + sum_o softmax(alpha)_o o(x)``
(Eq. 4): the fixed skip carries the gradient flow that otherwise makes the *candidate* skip connection win
(its "unfair advantage"), so ``alpha_skip`` is left to say whether skip is a good op. ``beta`` is not
learned and not used in derivation; it decays over the search so that the supernet ends close to plain
DARTS (Alg. 1: ``beta_e`` is fixed within epoch ``e``).

The branch is an edge extension (:mod:`dartslib.space.extensions`): :func:`add_auxiliary_skips` injects an
:class:`AuxiliarySkipBranch` into every mixed edge, and the hook :class:`AuxiliarySkip` sets its beta; the edge
itself knows nothing of DARTS-.

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
from typing import Any, Callable, Sequence

import torch
from torch import nn

from dartslib.hooks import Knob, SearchHook, StepContext, Switch
from dartslib.space.extensions import EdgeExtension, Mix, SeedStack, attach_extension, edge_extension
from dartslib.space.ops import FactorizedReduce, Identity
from dartslib.space.supernet import MixedEdge, Supernet

__all__ = ["AUX_SKIP_KINDS", "BETA_SCHEDULES", "beta_schedule", "AuxiliarySkipBranch", "add_auxiliary_skips",
           "set_aux_beta", "aux_beta", "AuxiliarySkip", "AUX_SKIP_SWITCH"]

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


class AuxiliarySkipBranch(EdgeExtension):
    """The auxiliary branch of one edge, injected into it (:mod:`dartslib.space.extensions`):
    ``forward_edge`` returns ``mix(x) + beta * branch(x)``, the branch outside the weighted sum (Eq. 4), and
    just ``mix(x)`` while ``beta`` is 0. ``branch``: ``(B, C, H, W) -> (B, C, H/stride, W/stride)``.

    ``supernet_only``: a derived architecture has no auxiliary skip, so a discretised supernet is measured
    without it (:func:`dartslib.space.extensions.supernet_only_off`)."""

    name = "aux_skip"
    supernet_only = True
    stackable = True

    def __init__(self, branch: nn.Module, beta: float = 0.0) -> None:
        super().__init__()
        self.branch = branch
        self.beta = float(beta)

    def forward_edge(self, edge: nn.Module, x: torch.Tensor, weights: torch.Tensor, share: Any,
                     mix: Mix) -> torch.Tensor:
        out = mix(x, weights, share)
        if self.beta:
            out = out + self.beta * self.branch(x)
        return out

    @classmethod
    def stacked_forward_edge(cls, extensions: Sequence[EdgeExtension], edge: nn.Module, x: torch.Tensor,
                             mix: Callable[[torch.Tensor], torch.Tensor], stack: SeedStack) -> torch.Tensor:
        """Every seed's ``mix(x) + beta_s * branch(x)`` (a seed whose beta is 0 adds nothing, as a single seed)."""
        out = mix(x)
        betas = [e.beta for e in extensions]  # type: ignore[attr-defined]
        if any(betas):
            aux = stack.module(extensions[0].branch, x)  # type: ignore[attr-defined]  # the blueprint's branch
            if all(b == betas[0] for b in betas):
                out = out + betas[0] * aux
            else:
                out = out + aux * stack.per_channel(betas, aux)
        return out


def add_auxiliary_skips(model: nn.Module, kind: str = "identity") -> int:
    """Inject an :class:`AuxiliarySkipBranch` into every :class:`MixedEdge` of ``model``; returns how many
    edges got one. An edge that has one gets the new branch and keeps its beta.

    Call before the optimizers are built (``conv1x1`` and stride-2 branches have weights). Beta starts at 0;
    :class:`AuxiliarySkip` sets it every step.
    """
    if kind not in AUX_SKIP_KINDS:
        raise ValueError(f"unknown auxiliary skip kind {kind!r}; choose from: {', '.join(AUX_SKIP_KINDS)}")
    count = 0
    for edge in list(model.modules()):
        if isinstance(edge, MixedEdge):
            if edge.stride != 1:
                branch: nn.Module = FactorizedReduce(edge.C, edge.C, affine=False)
            else:
                branch = _conv1x1_identity(edge.C) if kind == "conv1x1" else Identity()
            if getattr(model, "channels_last", False):
                branch.to(memory_format=torch.channels_last)  # the supernet's layout (same numbers)
            old = edge_extension(edge, AuxiliarySkipBranch.name)
            if old is None:
                edge.register_load_state_dict_pre_hook(_legacy_keys)
            attach_extension(edge, AuxiliarySkipBranch(branch, old.beta if old is not None else 0.0))
            count += 1
    return count


def _legacy_keys(edge: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Checkpoints written before the edge extension point kept the branch at ``EDGE.aux_skip.*``; load them
    into ``EDGE.extensions.aux_skip.branch.*`` (the same tensors)."""
    old, new = prefix + "aux_skip.", prefix + f"extensions.{AuxiliarySkipBranch.name}.branch."
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[new + key[len(old):]] = state_dict.pop(key)


def set_aux_beta(model: nn.Module, beta: float) -> None:
    """Set the auxiliary branch's coefficient on every edge of ``model`` that has one."""
    for module in model.modules():
        if isinstance(module, AuxiliarySkipBranch):
            module.beta = float(beta)


def aux_beta(edge: nn.Module) -> float:
    """The coefficient of ``edge``'s auxiliary branch: 0 where it has none, or has it switched off."""
    extension = edge_extension(edge, AuxiliarySkipBranch.name)
    return extension.beta if extension is not None and extension.active else 0.0


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
