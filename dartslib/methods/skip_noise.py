"""The "DARTS + Gaussian" baseline: noise on the skip connection, which FairDARTS derives from its theory
(Chu et al., 2020, Sec. 6.3, Table 3).

If skip connections win because they make the supernet easy to train (the unfair advantage), disturbing
them should remove the advantage. FairDARTS adds a standard Gaussian noise with a cosine decay over the 50
search epochs to the skip connections and reports 97.12 +- 0.23 % on CIFAR-10 (Table 3).

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
from typing import Any

from torch import nn

from dartslib.hooks import Knob, SearchHook, StepContext, Switch
from dartslib.space.spaces import get_space
from dartslib.space.supernet import MixedEdge, Supernet

__all__ = ["noise_std", "set_skip_noise", "SkipNoise", "SKIP_NOISE_SWITCH"]


def noise_std(epoch: int, epochs: int, std0: float = 1.0, decay_epochs: int | None = None) -> float:
    """The skip noise std at 0-based ``epoch``: cosine from ``std0`` to 0 over ``decay_epochs`` epochs
    (default ``epochs``), 0 after them."""
    span = max(epochs if decay_epochs is None else decay_epochs, 1)
    if epoch > span:
        return 0.0
    return std0 * 0.5 * (1.0 + math.cos(math.pi * epoch / span))


def set_skip_noise(model: nn.Module, std: float) -> None:
    """Set the std of the noise added to skip_connect's output on every stride-1 edge of ``model`` (stride-2
    edges, whose skip is a FactorizedReduce, stay at 0, as in FairDARTS' code)."""
    for edge in model.modules():
        if isinstance(edge, MixedEdge):
            edge.skip_noise_std = float(std) if edge.stride == 1 else 0.0


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


def _hooks(config: Any) -> list[SearchHook]:
    return [SkipNoise(config.skip_noise_std, config.skip_noise_decay_epochs)] if config.skip_noise else []


SKIP_NOISE_SWITCH = Switch(
    "skip_noise", summary="Gaussian noise on skip_connect's output (\"DARTS + Gaussian\", Chu et al., 2020, Sec. 6.3)",
    knobs=(Knob("skip_noise", "Gaussian noise on skip_connect's output, std cosine-decayed from --skip-noise-std",
                type=bool),
           Knob("skip_noise_std", "initial std of the skip noise (default 1)", type=float, sign="non-negative"),
           Knob("skip_noise_decay_epochs", "the skip noise's cosine T_max in epochs (default: all epochs, the "
                "paper's 50; FairDARTS' code: 30)", type=int, sign="positive", optional=True, metavar="T")),
    check=_check, hooks=_hooks)
"""The switch (:class:`dartslib.hooks.Switch`): config ``skip_noise``, ``skip_noise_std``,
``skip_noise_decay_epochs``."""
