"""What a method plugs into the search loop: :class:`SearchHook` and the :class:`StepContext` it reads.

A leaf module (it imports nothing of the loop), so the method modules (:mod:`dartslib.methods.zero_one`,
:mod:`dartslib.methods.aux_skip`, :mod:`dartslib.methods.skip_noise`, :mod:`dartslib.methods.temperature`) and the recorders import it
without importing :mod:`dartslib.search`, which imports them. ``dartslib.search`` re-exports both names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from dartslib.engine.loop import Search
    from dartslib.space.supernet import Supernet

__all__ = ["SearchHook", "StepContext"]


@dataclass
class StepContext:
    """What a hook may read about the step about to run."""

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int


class SearchHook:
    """A method's few lines: override what it changes. All methods are no-ops here."""

    def on_epoch_start(self, model: Supernet, epoch: int, epochs: int) -> None:
        """Called before the first step of every epoch (schedules: beta, noise std, p)."""

    def before_step(self, model: Supernet, ctx: StepContext) -> None:
        """Called before every step (e.g. draw this step's softmax temperature)."""

    def arch_loss(self, model: Supernet) -> torch.Tensor | None:
        """An extra term for the architecture loss (e.g. the zero-one loss), or None."""
        return None

    def eval_mode(self, model: Supernet) -> None:
        """Put the supernet into the state its accuracy is reported in (e.g. the smooth temperature)."""

    def on_epoch_end(self, search: "Search", record: dict[str, Any]) -> None:
        """Called after each epoch's evaluation with the history record about to be saved; recorders
        (:mod:`dartslib.diagnostics.measures`) add their measurements to ``record`` or write files into
        ``search.out_dir``."""

    def describe(self) -> dict[str, Any]:
        """Values to record in the history each epoch (e.g. the current beta)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
