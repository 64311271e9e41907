"""SP-DARTS' batch-mixed sparse training (Zhang & Ding, sp-darts.md Sec. III, Eq. 15-20, Alg. 1).

Each mini-batch draws ``phi ~ Bernoulli(p)``: with phi = 1 both its weight step and its architecture step
use the sparse softmax ``softmax(A / t_sp)``, otherwise the smooth ``softmax(A / t_sm)`` (Eq. 15); in
expectation this minimises the sum of the sparse and smooth objectives (Eq. 13) at the cost of one pass.
``p`` follows Eq. 20: 0 during ``i_wp`` warm-up epochs, then linear from ``p_low`` to ``p_up``.

Choices:

* Eq. 20 with a 0-based epoch ``e`` of ``E``: ``p = 0`` for ``e < i_wp``, else
  ``p_low + (p_up - p_low) (e - i_wp) / (E - 1 - i_wp)`` (``p_up`` when ``E - 1 = i_wp``). Read literally,
  Eq. 20 with 0-based epochs never reaches ``p_up`` and with 1-based epochs has no warm-up when
  ``i_wp = 1, p_low = 0``; ours has both: ``i_wp`` epochs at 0, ``p_low`` right after, ``p_up`` at the end.
* Alg. 1 draws the epoch's indicators at once; we draw one per step, the same distribution, from the
  hook's own ``torch.Generator`` (seeded from the search seed, checkpointed in ``state_dict``).
* The supernet is evaluated at ``t_sm`` (recorded as ``eval_temperature``); reported op weights are at
  ``t_sm`` too; the genotype is derived at temperature 1 (see
  :class:`dartslib.op_weights.SparseSmoothWeights`).
"""
from __future__ import annotations

from typing import Any

import torch

from .op_weights import SparseSmoothWeights
from .search import SearchHook, StepContext
from .supernet import Supernet

__all__ = ["p_schedule", "TemperatureMixing"]

_SEED_OFFSET = 0x5D  # the hook's generator must not replay the data streams' draws


def p_schedule(epoch: int, epochs: int, p_low: float = 0.0, p_up: float = 1.0, warmup_epochs: int = 1) -> float:
    """sp-darts.md Eq. 20 for 0-based ``epoch``: the probability that a batch uses the sparse temperature."""
    if epoch < warmup_epochs:
        return 0.0
    span = epochs - 1 - warmup_epochs
    if span <= 0:
        return float(p_up)
    return p_low + (p_up - p_low) * min(epoch - warmup_epochs, span) / span


class TemperatureMixing(SearchHook):
    """Draws each step's temperature and sets it on the supernet's :class:`SparseSmoothWeights`."""

    def __init__(self, t_sp: float = 1e-3, t_sm: float | None = None, p_low: float = 0.0, p_up: float = 1.0,
                 warmup_epochs: int = 1, seed: int = 0) -> None:
        self.t_sp = float(t_sp)
        self.t_sm = 10.0 * self.t_sp if t_sm is None else float(t_sm)
        self.p_low, self.p_up, self.warmup_epochs = float(p_low), float(p_up), int(warmup_epochs)
        self.generator = torch.Generator().manual_seed(seed + _SEED_OFFSET)
        self.p = 0.0
        self.sparse_steps = self.steps = 0

    def _form(self, model: Supernet) -> SparseSmoothWeights:
        form = model.op_weight_form
        if not isinstance(form, SparseSmoothWeights):
            raise TypeError(f"temperature mixing needs 'sparse-smooth' op weights, the supernet has {form!r}")
        form.t_sp, form.t_sm = self.t_sp, self.t_sm
        return form

    def on_epoch_start(self, model: Supernet, epoch: int, epochs: int) -> None:
        self.sparse_steps = self.steps = 0

    def before_step(self, model: Supernet, ctx: StepContext) -> None:
        form = self._form(model)
        self.p = p_schedule(ctx.epoch, ctx.epochs, self.p_low, self.p_up, self.warmup_epochs)
        sparse = torch.rand((), generator=self.generator).item() < self.p
        form.sparse() if sparse else form.smooth()
        self.sparse_steps += int(sparse)
        self.steps += 1

    def eval_mode(self, model: Supernet) -> None:
        self._form(model).smooth()

    def describe(self) -> dict[str, Any]:
        return {"sp_p": self.p, "sp_sparse_fraction": self.sparse_steps / max(self.steps, 1),
                "eval_temperature": self.t_sm, "op_weights_temperature": self.t_sm,
                "derive_temperature": SparseSmoothWeights.reference_temperature}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "sparse_steps": self.sparse_steps, "steps": self.steps,
                "p": self.p}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.sparse_steps, self.steps, self.p = state["sparse_steps"], state["steps"], state["p"]
