"""SP-DARTS' batch-mixed sparse training (Zhang & Ding, 2023, Sec. III, Eq. 15-20, Alg. 1).

Each mini-batch draws ``phi ~ Bernoulli(p)``: with phi = 1 both its weight step and its architecture step
use the sparse softmax ``softmax(A / t_sp)``, otherwise the smooth ``softmax(A / t_sm)`` (Eq. 15); in
expectation this minimises the sum of the sparse and smooth objectives (Eq. 13) at the cost of one pass.
``p`` follows Eq. 20: 0 during ``i_wp`` warm-up epochs, then linear from ``p_low`` to ``p_up``.

Choices, paper against the authors' code (``chaoji90/SP-DARTS``: ``SP-DARTS/train_search_mf.py`` for the
DARTS space, ``AutoDL-Projects_sp/exps/algos/DARTS-V1-10.py`` and ``DARTS-V1-100.py`` for NB201 CIFAR-10 /
CIFAR-100). Where the paper says something we follow it; where it is silent or ambiguous, the code, except
for the evaluation temperature (below).

* ``p`` (Eq. 20 leaves the epoch indexing open). We follow the code: for 0-based epoch ``e`` of ``E``,
  ``p = 0`` for ``e < i_wp``, else ``p_low + (p_up - p_low) (e - i_wp + 1) / (E - i_wp)`` (the code adds
  ``1 / (E - i_wp)`` to ``C`` at the start of every epoch after the warm-up). So ``p = 1/49`` in epoch 1 of
  50 and ``p_up`` in the last epoch.
* The warm-up temperature. Eq. 20 puts ``p = 0`` in the warm-up, i.e. every batch at ``t_sm``; the code
  trains epoch 0 at ``temp * 10`` with ``temp = 1`` (t = 10, near-uniform op weights; ``DARTS-V1.py`` does
  the same, the two NB201 scripts as released leave ``softmax_temp`` unset before epoch 1). We follow the
  paper (``t_sm``); ``warmup_temperature`` (config ``t_warmup``) sets the code's 10.
* ``t_sm``. Tables II and IV: ``10 t_sp``, which we follow; the NB201 scripts use ``11 t_sp``
  (``softmax_list=[softmax_temp*11, softmax_temp]``). On CIFAR-100 the code also drops ``t_sp`` to 6e-4
  from epoch 45 and freezes ``p`` there (``C`` stays near 0.81); the paper does not mention it (Table II:
  1.3e-3 throughout) and we do not do it.
* Alg. 1 draws the epoch's indicators at once; we draw one per step, the same distribution, from the
  hook's own ``torch.Generator`` (seeded from the search seed, checkpointed in ``state_dict``).
* Evaluation. The paper does not say at which temperature the supernet is evaluated; the code evaluates it
  at ``t_sp / 10`` (1e-4 on NB201) and logs op weights at ``t_sp``. We evaluate and report op weights at
  ``t_sm`` (recorded as ``eval_temperature``, ``op_weights_temperature``): at ``t_sp / 10`` the reported
  weights would be one-hot to float precision. This changes no step of the search.
* Derivation: at ``t_sp``, as the code (see :class:`dartslib.space.op_weights.SparseSmoothWeights`).
* Step order: the DARTS-space code steps the alphas first (DARTS' order, our default); the NB201 scripts step
  the weights first (NAS-Bench-201's order: ``protocol="nb201"`` or ``step_order="weights-first"``).
"""
from __future__ import annotations

from typing import Any

import torch

from dartslib.space.op_weights import SparseSmoothWeights
from dartslib.hooks import Knob, SearchHook, SearchSettings, StepContext, Switch
from dartslib.space.supernet import Supernet

__all__ = ["p_schedule", "TemperatureMixing", "TEMPERATURE_SWITCH"]

_SEED_OFFSET = 0x5D  # the hook's generator must not replay the data streams' draws


def p_schedule(epoch: int, epochs: int, p_low: float = 0.0, p_up: float = 1.0, warmup_epochs: int = 1) -> float:
    """Zhang & Ding (2023), Eq. 20, indexed as the authors' code: the probability that a batch of 0-based
    ``epoch`` of ``epochs`` uses the sparse temperature (0 in the warm-up, ``p_up`` in the last epoch)."""
    if epoch < warmup_epochs:
        return 0.0
    span = epochs - warmup_epochs
    if span <= 0:
        return float(p_up)
    return p_low + (p_up - p_low) * min(epoch - warmup_epochs + 1, span) / span


class TemperatureMixing(SearchHook):
    """Draws each step's temperature and sets it on the supernet's :class:`SparseSmoothWeights`."""

    def __init__(self, t_sp: float = 1e-3, t_sm: float | None = None, p_low: float = 0.0, p_up: float = 1.0,
                 warmup_epochs: int = 1, seed: int = 0, warmup_temperature: float | None = None) -> None:
        self.t_sp = float(t_sp)
        self.t_sm = 10.0 * self.t_sp if t_sm is None else float(t_sm)
        self.warmup_temperature = None if warmup_temperature is None else float(warmup_temperature)
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
        if ctx.epoch < self.warmup_epochs and self.warmup_temperature is not None:
            form.temperature = self.warmup_temperature  # the code's t = 10 in the warm-up
        self.sparse_steps += int(sparse)
        self.steps += 1

    def eval_mode(self, model: Supernet) -> None:
        self._form(model).smooth()

    def describe(self) -> dict[str, Any]:
        return {"sp_p": self.p, "sp_sparse_fraction": self.sparse_steps / max(self.steps, 1),
                "eval_temperature": self.t_sm, "op_weights_temperature": self.t_sm,
                "derive_temperature": self.t_sp}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "sparse_steps": self.sparse_steps, "steps": self.steps,
                "p": self.p}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.sparse_steps, self.steps, self.p = state["sparse_steps"], state["steps"], state["p"]


def _check(config: SearchSettings) -> None:
    if config.t_sm is not None and not config.t_sm >= config.t_sp:
        raise ValueError(f"t_sm must be at least t_sp ({config.t_sp}), got {config.t_sm}")
    if not 0.0 <= config.p_low <= config.p_up <= 1.0:
        raise ValueError(f"p_low and p_up must satisfy 0 <= p_low <= p_up <= 1, got {config.p_low}, {config.p_up}")


def _prepare(model: Supernet, config: SearchSettings) -> None:
    if config.op_weights == "sparse-smooth":
        model.op_weight_form = SparseSmoothWeights(config.t_sp, config.smooth_temperature)


def _hooks(config: SearchSettings) -> list[SearchHook]:
    if config.op_weights != "sparse-smooth":
        return []
    return [TemperatureMixing(config.t_sp, config.smooth_temperature, config.p_low, config.p_up,
                              config.p_warmup_epochs, seed=config.seed, warmup_temperature=config.t_warmup)]


TEMPERATURE_SWITCH = Switch(
    "temperature", summary="SP-DARTS' per-batch sparse/smooth temperature draws, with op_weights='sparse-smooth' "
    "(Zhang & Ding, 2023, Eq. 9-20)",
    knobs=(Knob("t_sp", "SP-DARTS' sparse temperature", type=float, sign="positive"),
           Knob("t_sm", "SP-DARTS' smooth temperature (default 10 t_sp)", type=float, sign="positive", optional=True),
           Knob("p_low", "SP-DARTS: p after the warm-up (Eq. 20)", type=float, sign="non-negative"),
           Knob("p_up", "SP-DARTS: p at the last epoch (Eq. 20)", type=float, sign="non-negative"),
           Knob("p_warmup_epochs", "SP-DARTS: epochs with p = 0", type=int, sign="non-negative"),
           Knob("t_warmup", "SP-DARTS: temperature of the warm-up epochs (default t_sm, Eq. 20; the authors' code: 10)",
                type=float, sign="positive", optional=True)),
    check=_check, prepare=_prepare, hooks=_hooks)
"""The switch (:class:`dartslib.hooks.Switch`): config ``t_sp``, ``t_sm``, ``p_low``, ``p_up``, ``p_warmup_epochs``,
``t_warmup``; it acts when ``op_weights`` is ``"sparse-smooth"``."""
