"""The "DARTS + Gaussian" baseline: noise on the skip connection, which FairDARTS derives from its theory
(Chu et al., 2020, Sec. 6.3, Table 3).

If skip connections win because they make the supernet easy to train (the unfair advantage), disturbing
them should remove the advantage. FairDARTS adds a standard Gaussian noise with a cosine decay over the 50
search epochs to the skip connections and reports 97.12 +- 0.23 % on CIFAR-10 (Table 3).

The noise is an edge extension (:mod:`dartslib.space.extensions`): a :class:`SkipConnectNoise` in every
stride-1 edge with a skip connection changes that op's output before it is weighted; the hook :class:`SkipNoise`
sets its std.

Choices, paper against the authors' code (``xiaomi-automl/FairDARTS``, ``darts/model_search.py``,
``NoiseIdentity`` and ``MixedOp``; ``darts/train_search.py`` with ``--noise_darts``):

* Where the noise goes. The paper says "we mix the skip connections' architectural weights with a standard
  Gaussian noise", which could mean the weight ``w_skip`` or the branch. The code adds it to the skip
  branch's output, ``x + decay * randn_like(x)`` (the same form the authors' later NoisyDARTS paper
  studies), and so do we: ``N(0, std^2)`` on skip_connect's output, in training mode only, in both the
  weight and the architecture steps; evaluation sees the clean supernet. The noise comes from torch's global
  RNG (checkpointed by the search, so resume stays bit-identical).
* Which skips. The code builds the noisy identity only on stride-1 edges (``stride == 1``); the stride-2
  skips of a reduction cell (FactorizedReduce) stay clean. We do the same (:func:`set_skip_noise` leaves
  stride-2 edges at 0). On NAS-Bench-201 every cell edge has stride 1.
* The decay: ``std_e = std0 * (1 + cos(pi e / T)) / 2`` per 0-based epoch ``e`` (the code passes the epoch as
  the step), and 0 for ``e > T``. The paper says "a cosine decay on 50 epochs", i.e. ``T`` = the 50 search
  epochs, which is our default (``T`` = the search's epochs); the code's default is ``--max_step 30``, so
  its noise is gone from epoch 30 on. ``decay_epochs`` (config ``skip_noise_decay_epochs``) sets ``T``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from dartslib.hooks import Knob, SearchHook, StepContext, Switch
from dartslib.space.extensions import EdgeExtension, SeedStack, attach_extension, edge_extension
from dartslib.space.spaces import get_space
from dartslib.space.supernet import MixedEdge, Supernet

__all__ = ["noise_std", "SkipConnectNoise", "set_skip_noise", "skip_noise_std", "SkipNoise", "SKIP_NOISE_SWITCH"]


def noise_std(epoch: int, epochs: int, std0: float = 1.0, decay_epochs: int | None = None) -> float:
    """The skip noise std at 0-based ``epoch``: cosine from ``std0`` to 0 over ``decay_epochs`` epochs
    (default ``epochs``), 0 after them."""
    span = max(epochs if decay_epochs is None else decay_epochs, 1)
    if epoch > span:
        return 0.0
    return std0 * 0.5 * (1.0 + math.cos(math.pi * epoch / span))


class SkipConnectNoise(EdgeExtension):
    """The noise of one edge, injected into it (:mod:`dartslib.space.extensions`): in training mode
    ``skip_connect``'s output ``y`` becomes ``y + std * N(0, 1)`` (``torch.randn_like(y)``, torch's global
    stream) before it is weighted; nothing is drawn while ``std`` is 0 or in evaluation mode."""

    name = "skip_noise"
    stackable = True

    def __init__(self, std: float = 0.0) -> None:
        super().__init__()
        self.std = float(std)

    def changes_op(self, edge: nn.Module, index: int, training: bool) -> bool:
        return bool(self.std) and training and index == edge.skip_index

    def op_output(self, edge: nn.Module, index: int, y: torch.Tensor) -> torch.Tensor:
        return y + self.std * torch.randn_like(y)

    @classmethod
    def stacked_op_output(cls, extensions: Sequence[EdgeExtension], edge: nn.Module, index: int,
                          y: torch.Tensor, stack: SeedStack) -> torch.Tensor:
        """``y + std_s * N(0, 1)`` on seed ``s``'s channels of ``y`` ``(B, S*C, H, W)``, each seed's normals from its
        own stream in its single-seed order and shape (nothing drawn for a seed whose std is 0)."""
        stds = [e.std for e in extensions]  # type: ignore[attr-defined]
        normals = stack.seed_normals(y, [bool(std) for std in stds])
        C = y.shape[1] // stack.S
        parts = [std * n if n is not None else y.new_zeros((y.shape[0], C, *y.shape[2:]))
                 for std, n in zip(stds, normals)]
        return y + torch.cat(parts, dim=1)


def set_skip_noise(model: nn.Module, std: float) -> None:
    """Set the std of the noise added to skip_connect's output on every stride-1 edge of ``model`` that has
    a skip_connect, injecting a :class:`SkipConnectNoise` where there is none yet (the switch injects them when
    the supernet is prepared; stride-2 edges, whose skip
    is a FactorizedReduce, stay clean, as in FairDARTS' code)."""
    for edge in list(model.modules()):
        if isinstance(edge, MixedEdge) and edge.stride == 1 and edge.skip_index is not None:
            noise = edge_extension(edge, SkipConnectNoise.name)
            if noise is None:
                noise = attach_extension(edge, SkipConnectNoise())
            noise.std = float(std)  # type: ignore[attr-defined]


def skip_noise_std(edge: nn.Module) -> float:
    """The std of the noise on ``edge``'s skip_connect: 0 where it has none, or has it switched off."""
    noise = edge_extension(edge, SkipConnectNoise.name)
    return noise.std if noise is not None and noise.active else 0.0


class SkipNoise(SearchHook):
    """Sets the noise std before every step (a function of the epoch only) and records it as ``skip_noise_std``."""

    def __init__(self, std0: float = 1.0, decay_epochs: int | None = None) -> None:
        self.std0 = float(std0)
        self.decay_epochs = decay_epochs
        self.std = self.std0

    def _apply(self, model: Supernet, epoch: int, epochs: int) -> None:
        self.std = noise_std(epoch, epochs, self.std0, self.decay_epochs)
        set_skip_noise(model, self.std)

    def on_epoch_start(self, model: Supernet, epoch: int, epochs: int) -> None:
        self._apply(model, epoch, epochs)

    def before_step(self, model: Supernet, ctx: StepContext) -> None:
        self._apply(model, ctx.epoch, ctx.epochs)

    def describe(self) -> dict[str, Any]:
        return {"skip_noise_std": self.std}


def _check(config: Any) -> None:
    space = get_space(config.space)
    if config.skip_noise and not any("skip_connect" in space.op_names(ct) for ct in space.cell_types):
        raise ValueError(f"skip_noise adds noise to skip_connect, but space {config.space!r} has no skip_connect")


def _prepare(model: nn.Module, config: Any) -> None:
    if config.skip_noise:
        set_skip_noise(model, 0.0)  # the edges' noise, off until the hook sets its std


def _hooks(config: Any) -> list[SearchHook]:
    return [SkipNoise(config.skip_noise_std, config.skip_noise_decay_epochs)] if config.skip_noise else []


SKIP_NOISE_SWITCH = Switch(
    "skip_noise", summary="Gaussian noise on skip_connect's output (\"DARTS + Gaussian\", Chu et al., 2020, Sec. 6.3)",
    knobs=(Knob("skip_noise", "Gaussian noise on skip_connect's output, std cosine-decayed from --skip-noise-std",
                type=bool),
           Knob("skip_noise_std", "initial std of the skip noise (default 1)", type=float, sign="non-negative"),
           Knob("skip_noise_decay_epochs", "the skip noise's cosine T_max in epochs (default: all epochs, the "
                "paper's 50; FairDARTS' code: 30)", type=int, sign="positive", optional=True, metavar="T")),
    check=_check, prepare=_prepare, hooks=_hooks)
"""The switch (:class:`dartslib.hooks.Switch`): config ``skip_noise``, ``skip_noise_std``,
``skip_noise_decay_epochs``."""
