"""A search of the toy: :func:`residual_stack_search`, the library's search step
(:func:`dartslib.engine.steps.search_step`), optimizers and hooks on :class:`~dartslib.book.toys.supernet.ToySupernet`,
with each seed's :class:`~dartslib.engine.config.SearchConfig` (:func:`toy_config`), run by the library's epoch and
step loops (:class:`ToySearch`, a :class:`~dartslib.engine.run.Run`); it returns a :class:`ToyRun`.
See :mod:`dartslib.book.toys`."""
from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch

from dartslib.book.toys.supernet import ToySupernet, _toy_loss, toy_forward
from dartslib.book.toys.teachers import WIDTH, _check_cell, _teacher_data
from dartslib.engine.batched import BATCHABLE_FORMS
from dartslib.engine.config import SearchConfig
from dartslib.engine.loop import SearchHook
from dartslib.engine.run import Run
from dartslib.engine.steps import ARCH_OPTIMIZERS, make_optimizers, search_step
from dartslib.hooks import arch_loss_terms, call_hooks
from dartslib.methods.presets import build_hooks, prepare_supernet
from dartslib.methods.switches import UPDATE_SCHEMES

__all__ = ["TOY_UPDATES", "TOY_FORMS", "toy_config", "ToyRun", "ToySearch", "residual_stack_search"]

TOY_UPDATES = UPDATE_SCHEMES
"""The toy's updates: every update scheme of the library (:data:`dartslib.methods.switches.UPDATE_SCHEMES`)."""
TOY_FORMS = BATCHABLE_FORMS
"""The toy's op-weight forms: those the seed-batched engine forms per seed from the alphas
(:data:`dartslib.engine.batched.BATCHABLE_FORMS`; GDAS' Gumbel form samples inside the form)."""


def toy_config(seed: int = 0, **values: Any) -> SearchConfig:
    """The :class:`~dartslib.engine.config.SearchConfig` of one toy seed: the toy's defaults (see the module
    docstring) and ``values``. Only the fields a search step and the hooks read matter (update, optimizers,
    epochs, the methods' switches); the data, the network and the space are the toy's."""
    defaults: dict[str, Any] = {"method": "toy", "epochs": 10, "batch_size": 64, "lr": 0.1, "lr_schedule": "constant",
                                "momentum": 0.9, "weight_decay": 3e-4, "grad_clip": 0.0, "arch_lr": 1.5e-2,
                                "arch_betas": (0.5, 0.999), "arch_weight_decay": 1e-3}
    return SearchConfig(**{**defaults, **values, "seed": seed})


# ------------------------------------------------------------------------------------------ a search
@dataclass
class ToyRun:
    """What :func:`residual_stack_search` returns (``S`` seeds, ``L`` edges, ``M`` ops, ``T`` records).

    Attributes:
        ops, form, update: as passed.
        op_weights: ``(S, L, M)`` final op weights at the evaluation temperature (the temperature the hooks'
            ``eval_mode`` leaves the form at: 1, SP-DARTS' ``t_sm``).
        trajectory: ``(T, S, L, M)`` op weights (evaluation temperature) after the steps in ``steps``.
        steps: ``(T,)`` 1-based step counts of the records.
        alphas0, alphas: ``(S, L, M)`` initial and final architecture parameters.
        eval_temperature: the softmax temperature ``op_weights`` and evaluations use.
        history: per-step values, ``{name: (num_steps, ...)}``: ``beta`` ``(num_steps,)`` (as the
            auxiliary-skip hook set it), SP-DARTS' ``p`` ``(num_steps,)`` (the hook's) and ``sparse``
            ``(num_steps, S)`` (whether each seed's step ran at ``t_sp``), ``grad_correlation`` ``(num_steps, S)``.
        state: what evaluation needs: ``conv_weights``, the data ``(x_train, y_train, x_val, y_val)``, and
            ``configs`` (each seed's :class:`~dartslib.engine.config.SearchConfig`).
        answer: the :func:`discrete_teacher`'s cell the data came from, ``None`` for :func:`residual_teacher`.
    """

    ops: tuple[str, ...]
    form: str
    update: str
    op_weights: torch.Tensor
    trajectory: torch.Tensor
    steps: torch.Tensor
    alphas0: torch.Tensor
    alphas: torch.Tensor
    eval_temperature: float
    history: dict[str, torch.Tensor] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    answer: tuple[str, ...] | None = None


def _conv_grads(model: ToySupernet, conv_weights: torch.Tensor, op_weights: torch.Tensor,
                beta: torch.Tensor | float, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
    """``grad_W L(batch)`` at the given weights for each batch (the same batch object: computed once)."""
    grads: list[torch.Tensor] = []
    for i, (x, y) in enumerate(batches):
        if i and x is batches[0][0] and y is batches[0][1]:
            grads.append(grads[0])
            continue
        W = conv_weights.detach().requires_grad_(True)
        grads.append(torch.autograd.grad(_toy_loss(toy_forward(x, model.ops, W, op_weights, beta), y), W)[0])
    return grads


def residual_stack_search(ops: Sequence[str] = ("skip", "conv"), form: str = "softmax", *, depth: int = 4,
                          seeds: Sequence[int] = range(8), steps: int = 400, epochs: int = 10,
                          update: str = "bilevel-1st", arch_lr: float = 1.5e-2, weight_lr: float = 0.1,
                          arch_optimizer: str = "adam",
                          strength: float = 1.5, samples: int = 4096, batch: int = 64,
                          zero_one: str | None = None, w01: float = 10.0,
                          aux_skip: str | None = None, aux_beta0: float = 1.0,
                          t_sp: float = 1e-3, t_sm: float | None = None, p_low: float = 0.0, p_up: float = 1.0,
                          warmup_epochs: int = 1, record_every: int = 10,
                          grad_correlation: bool = False, answer: Sequence[str] | None = None) -> ToyRun:
    """Search the residual-stack toy with any combination of the library's switches; see the module doc.

    Every argument that is a switch of the library sets that switch of each seed's
    :class:`~dartslib.engine.config.SearchConfig` (:func:`toy_config`), and the library's forms, steps and hooks do
    the rest.

    Args:
        ops: candidate ops of every edge (:data:`TOY_OPS`).
        form: the op-weight form, ``"softmax"``, ``"sigmoid"`` or ``"sparse-smooth"`` (config ``op_weights``;
            SP-DARTS' temperatures ``t_sp``, ``t_sm`` and ``p_low``, ``p_up``, ``warmup_epochs`` of
            :class:`dartslib.methods.temperature.TemperatureMixing`).
        update: ``"bilevel-1st"`` (alphas on validation batches), ``"bilevel-2nd"`` (DARTS' unrolled step,
            ``xi`` = the weights' lr), ``"same-subset"`` (alphas on other batches of the training set) or
            ``"single-level"`` (one step of both on the same batch), as config ``update``.
        arch_optimizer: ``"adam"`` (the toy's default, DARTS' Adam with ``arch_betas``) or ``"sgd"`` (momentum SGD
            at ``arch_lr`` with the weights' momentum and the alphas' weight decay: Hou et al., 2021, Sec. 5.3,
            Tables 4 and 5, use SGD on the alphas; Adam divides out the gradient's magnitude).
        zero_one, w01: FairDARTS' zero-one loss (config ``zero_one_loss``, ``w01``).
        aux_skip, aux_beta0: DARTS-' auxiliary skip (config ``aux_skip``, ``aux_skip_beta0``).
        grad_correlation: record, for every step, Hou et al. (2021), Eq. 8's correlation term
            ``<grad_W L(arch batch), grad_W L(weight batch)>`` over all conv weights ``W`` at the weights the
            step started from (for a linear op the double sum of Eq. 8 is exactly this inner product). The
            batches are the ones the step's forwards actually ran on (its first and its last forward: the
            alphas' and the weights' in the first-order and same-subset steps, one and the same batch in
            single-level), so the term measures the library's steps, not what they are meant to do.
        answer: ``None`` for :func:`residual_teacher` (``depth``, ``strength``), or a cell (one ``"skip"`` or
            ``"conv"`` per edge, ``len(answer) == depth``) for :func:`discrete_teacher`: the search's data
            come from that cell, and :func:`regret` scores the cell it derives.
    """
    if answer is not None:
        answer = _check_cell(answer)
        if len(answer) != depth:
            raise ValueError(f"answer has {len(answer)} edges but depth is {depth}; give depth=len(answer)")
    if arch_optimizer not in ARCH_OPTIMIZERS:
        raise ValueError(f"unknown arch_optimizer {arch_optimizer!r}; choose from: {', '.join(ARCH_OPTIMIZERS)}")
    if update not in TOY_UPDATES:
        raise ValueError(f"unknown toy update {update!r}; choose from: {', '.join(TOY_UPDATES)}")
    if form not in TOY_FORMS:
        raise ValueError(f"unknown toy op-weight form {form!r}; choose from: {', '.join(TOY_FORMS)}")
    if grad_correlation and update == "bilevel-2nd":
        raise ValueError("grad_correlation is measured for bilevel-1st, same-subset and single-level updates")
    ops, seeds = tuple(ops), list(seeds)
    configs = [toy_config(s, update=update, op_weights=form, epochs=epochs, batch_size=batch, lr=weight_lr,
                          arch_lr=arch_lr, zero_one_loss=zero_one, w01=w01, aux_skip=aux_skip,
                          aux_skip_beta0=aux_beta0, t_sp=t_sp, t_sm=t_sm, p_low=p_low, p_up=p_up,
                          p_warmup_epochs=warmup_epochs) for s in seeds]
    return ToySearch(ops, form, configs, depth=depth, steps=steps, strength=strength, samples=samples,
                     answer=answer, arch_optimizer=arch_optimizer, record_every=record_every,
                     grad_correlation=grad_correlation).run()


class ToySearch(Run[ToyRun]):
    """The toy's search as a :class:`~dartslib.engine.run.Run` without an output directory (nothing is saved):
    the library's epoch and step loops, with the toy's parts. ``steps`` steps in all, spread over the epochs
    (epoch ``step * epochs // steps``); the batches of a step are rows of each seed's index tensors into its
    data; :meth:`train_step` is the library's :func:`~dartslib.engine.steps.search_step` and returns the
    step's records, :meth:`accumulate` keeps them; the learning rates are constant (no schedule, nothing to
    check or record per epoch). :meth:`run` returns the :class:`ToyRun`."""

    kind, noun, config_class = "toy", "toy search", SearchConfig

    def __init__(self, ops: tuple[str, ...], form: str, configs: list[SearchConfig], *, depth: int, steps: int,
                 strength: float, samples: int, answer: tuple[str, ...] | None, arch_optimizer: str,
                 record_every: int, grad_correlation: bool) -> None:
        super().__init__(configs[0], None, progress=False, overwrite=False, resuming=False)
        cfg, seeds, epochs = configs[0], [c.seed for c in configs], configs[0].epochs
        self.device = torch.device("cpu")
        self.ops, self.form, self.configs, self.answer = ops, form, configs, answer
        self.steps, self.record_every, self.grad_correlation = steps, record_every, grad_correlation
        S, M, n_conv, batch = len(seeds), len(ops), max(sum(op == "conv" for op in ops), 1), cfg.batch_size

        gens = [torch.Generator().manual_seed(s) for s in seeds]
        train = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
        valid = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
        self.x_train, self.y_train = torch.stack([d[0] for d in train]), torch.stack([d[1] for d in train])
        self.x_val, self.y_val = torch.stack([d[0] for d in valid]), torch.stack([d[1] for d in valid])
        W = torch.stack([torch.randn(depth, n_conv, WIDTH, WIDTH, generator=g) / math.sqrt(WIDTH) for g in gens])
        alpha = torch.stack([1e-3 * torch.randn(depth, M, generator=g) for g in gens])
        self.weight_idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)
        self.arch_idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)
        self.alphas0 = alpha.clone()

        self.model = ToySupernet(ops, W, alpha, form)
        for seed, config in zip(self.model.seeds, configs):
            prepare_supernet(seed, config)  # SP-DARTS' form with the config's temperatures, DARTS-' aux skips
        self.hooks: list[list[SearchHook]] = [build_hooks(config) for config in configs]
        self.hooked = list(zip(self.model.seeds, self.hooks))  # each seed's hooks act on its own supernet
        self.arch_terms = arch_loss_terms(self.hooked)
        self.weight_opt, self.arch_opt = make_optimizers(self.model, cfg, arch_optimizer)
        self.rows = torch.arange(S)[:, None]
        # the alphas' batches: the validation set, or other batches of the training set (same-subset)
        self.arch_x, self.arch_y = ((self.x_train, self.y_train) if cfg.update == "same-subset"
                                    else (self.x_val, self.y_val))
        epoch_of = [step * epochs // steps for step in range(steps)]
        self.first_step = [sum(e < epoch for e in epoch_of) for epoch in range(epochs + 1)]  # of each epoch
        self.targets: list[torch.Tensor] = []
        self.records: dict[str, list[Any]] = {"beta": []}

    # ------------------------------------------------------------ the parts of Run.run_epoch's step loop
    def hooked_models(self) -> list[tuple[Any, list[SearchHook]]]:
        return self.hooked

    def epoch_steps(self) -> int:
        return self.first_step[self.epoch + 1] - self.first_step[self.epoch]

    def start_epoch(self) -> Iterator[int]:
        """The epoch's steps, counted over the whole search: the rows of the index tensors."""
        return iter(range(self.first_step[self.epoch] + self.step, self.first_step[self.epoch + 1]))

    def train_step(self, step: int) -> dict[str, Any]:
        """The library's search step on the step's batches; returns the step's records: ``beta`` (and SP-DARTS'
        ``p`` and ``sparse``) as the hooks set them for it, its ``grad_correlation``, and every
        ``record_every`` steps the op weights (``trajectory``) after it with its 1-based number (``steps``)."""
        model, rows = self.model, self.rows
        beta = model.aux_betas()
        record: dict[str, Any] = {"beta": float(beta[0, 0]) if isinstance(beta, torch.Tensor) else beta}
        if self.form == "sparse-smooth":
            described = {k: v for h in self.hooks[0] for k, v in h.describe().items()}
            record["p"] = described["sp_p"]
            record["sparse"] = torch.tensor([seed.op_weight_form.temperature == seed.op_weight_form.t_sp
                                             for seed in model.seeds])
        xw, yw = self.x_train[rows, self.weight_idx[step]], self.y_train[rows, self.weight_idx[step]]
        if self.grad_correlation:  # where the step starts from; the batches come from the step itself
            with torch.no_grad():
                start = (model.conv_weights.detach().clone(), model.op_weights().detach(), beta)
            model.batch_log, self.targets = [], []
        # the library's search step (xi of the second-order step: the weights' lr, constant here)
        arch_batch = (self.arch_x[rows, self.arch_idx[step]], self.arch_y[rows, self.arch_idx[step]])
        search_step(model, self.config.update, (xw, yw), arch_batch, self.weight_opt, self.arch_opt,
                    arch_terms=self.arch_terms, loss_fn=self._loss)
        if self.grad_correlation:
            used = list(zip(model.batch_log, self.targets))
            model.batch_log = None
            g_first, g_last = _conv_grads(model, *start, [used[0], used[-1]])
            record["grad_correlation"] = (g_first * g_last).flatten(1).sum(1)
        if (step + 1) % self.record_every == 0 or step + 1 == self.steps:
            record.update(trajectory=self.eval_weights(), steps=step + 1)
        return record

    def accumulate(self, stats: dict[str, Any]) -> None:
        for key, value in stats.items():
            self.records.setdefault(key, []).append(value)

    def epoch_stats(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------- the parts of Run.run's epoch loop
    def progress_bar(self) -> Any:
        return nullcontext()  # no bar

    def check_epoch(self, stats: dict[str, Any]) -> None:
        """Nothing to check (the toy's loss is not recorded)."""

    def schedule_epoch(self) -> None:
        """Nothing to schedule (the toy's learning rates are constant)."""

    def record_epoch(self, stats: dict[str, Any], started: float, bar: Any) -> None:
        """Nothing to record per epoch (:meth:`train_step` records per step)."""

    def finish(self) -> ToyRun:
        records = self.records
        final = self.eval_weights()
        form0 = self.model.seeds[0].op_weight_form
        history = {"beta": torch.tensor(records["beta"])}
        if records.get("p"):
            history["p"] = torch.tensor(records["p"])
            history["sparse"] = torch.stack(records["sparse"])
        if records.get("grad_correlation"):
            history["grad_correlation"] = torch.stack(records["grad_correlation"])
        return ToyRun(self.ops, self.form, self.config.update, final, torch.stack(records.get("trajectory", [])),
                      torch.tensor(records.get("steps", [])), self.alphas0, self.model.alphas.detach().clone(),
                      float(getattr(form0, "temperature", 1.0)), history,
                      {"conv_weights": self.model.conv_weights.detach().clone(),
                       "data": (self.x_train, self.y_train, self.x_val, self.y_val), "configs": self.configs},
                      self.answer)

    # ------------------------------------------------------------------------------------ helpers
    def _loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The toy's loss; while ``batch_log`` is set, it also keeps the targets of the step's forwards."""
        if self.model.batch_log is not None:
            self.targets.append(target)
        return _toy_loss(prediction, target)

    def eval_weights(self) -> torch.Tensor:
        """The op weights at the evaluation temperature (the hooks' ``eval_mode``)."""
        call_hooks(self.hooked, "eval_mode")
        with torch.no_grad():
            return self.model.op_weights().clone()
