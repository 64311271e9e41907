"""A search of the toy: :func:`residual_stack_search`, the library's search step
(:func:`dartslib.engine.steps.search_step`), optimizers and hooks on :class:`~dartslib.book.toys.supernet.ToySupernet`,
with each seed's :class:`~dartslib.engine.config.SearchConfig` (:func:`toy_config`); it returns a :class:`ToyRun`.
See :mod:`dartslib.book.toys`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from dartslib.book.toys.supernet import ToySupernet, _toy_loss, toy_forward
from dartslib.book.toys.teachers import WIDTH, _check_cell, _teacher_data
from dartslib.engine.config import SearchConfig
from dartslib.engine.loop import SearchHook, StepContext
from dartslib.engine.steps import ARCH_OPTIMIZERS, make_optimizers, search_step
from dartslib.hooks import arch_loss_terms, call_hooks
from dartslib.methods.presets import build_hooks, prepare_supernet

__all__ = ["TOY_UPDATES", "toy_config", "ToyRun", "residual_stack_search"]

TOY_UPDATES = ("bilevel-1st", "bilevel-2nd", "same-subset", "single-level")


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
    if form not in ("softmax", "sigmoid", "sparse-smooth"):
        raise ValueError(f"unknown toy op-weight form {form!r}; choose from: softmax, sigmoid, sparse-smooth")
    if grad_correlation and update == "bilevel-2nd":
        raise ValueError("grad_correlation is measured for bilevel-1st, same-subset and single-level updates")
    ops = tuple(ops)
    seeds = list(seeds)
    S, M, n_conv = len(seeds), len(ops), max(sum(op == "conv" for op in ops), 1)
    configs = [toy_config(s, update=update, op_weights=form, epochs=epochs, batch_size=batch, lr=weight_lr,
                          arch_lr=arch_lr, zero_one_loss=zero_one, w01=w01, aux_skip=aux_skip,
                          aux_skip_beta0=aux_beta0, t_sp=t_sp, t_sm=t_sm, p_low=p_low, p_up=p_up,
                          p_warmup_epochs=warmup_epochs) for s in seeds]
    cfg = configs[0]

    gens = [torch.Generator().manual_seed(s) for s in seeds]
    train = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
    valid = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
    x_train, y_train = torch.stack([d[0] for d in train]), torch.stack([d[1] for d in train])
    x_val, y_val = torch.stack([d[0] for d in valid]), torch.stack([d[1] for d in valid])
    W = torch.stack([torch.randn(depth, n_conv, WIDTH, WIDTH, generator=g) / math.sqrt(WIDTH) for g in gens])
    alpha = torch.stack([1e-3 * torch.randn(depth, M, generator=g) for g in gens])
    weight_idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)
    arch_idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)
    alphas0 = alpha.clone()

    model = ToySupernet(ops, W, alpha, form)
    for seed, config in zip(model.seeds, configs):
        prepare_supernet(seed, config)  # SP-DARTS' form with the config's temperatures, DARTS-' aux skips
    hooks: list[list[SearchHook]] = [build_hooks(config) for config in configs]
    hooked = list(zip(model.seeds, hooks))  # each seed's hooks act on its own supernet
    arch_terms = arch_loss_terms(hooked)
    weight_opt, arch_opt = make_optimizers(model, cfg, arch_optimizer)
    rows = torch.arange(S)[:, None]
    # the alphas' batches: the validation set, or other batches of the training set (same-subset)
    arch_x, arch_y = (x_train, y_train) if update == "same-subset" else (x_val, y_val)
    targets: list[torch.Tensor] = []

    def loss_fn(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if model.batch_log is not None:
            targets.append(target)
        return _toy_loss(prediction, target)

    def eval_weights() -> torch.Tensor:
        call_hooks(hooked, "eval_mode")
        with torch.no_grad():
            return model.op_weights().clone()

    history: dict[str, list] = {"beta": [], "p": [], "sparse": [], "grad_correlation": []}
    records, record_steps = [], []
    epoch_of = [step * epochs // steps for step in range(steps)]
    for epoch in range(epochs):
        epoch_steps = [step for step in range(steps) if epoch_of[step] == epoch]
        call_hooks(hooked, "on_epoch_start", epoch, epochs)
        for i, step in enumerate(epoch_steps):
            call_hooks(hooked, "before_step", StepContext(epoch, epochs, i, len(epoch_steps)))
            beta = model.aux_betas()
            history["beta"].append(float(beta[0, 0]) if isinstance(beta, torch.Tensor) else beta)
            if form == "sparse-smooth":
                described = {k: v for h in hooks[0] for k, v in h.describe().items()}
                history["p"].append(described["sp_p"])
                history["sparse"].append(torch.tensor([seed.op_weight_form.temperature == seed.op_weight_form.t_sp
                                                       for seed in model.seeds]))
            xw, yw = x_train[rows, weight_idx[step]], y_train[rows, weight_idx[step]]
            if grad_correlation:  # where the step starts from; the batches come from the step itself
                with torch.no_grad():
                    start = (model.conv_weights.detach().clone(), model.op_weights().detach(), beta)
                model.batch_log, targets = [], []
            # the library's search step (xi of the second-order step: the weights' lr, constant here)
            arch_batch = (arch_x[rows, arch_idx[step]], arch_y[rows, arch_idx[step]])
            search_step(model, update, (xw, yw), arch_batch, weight_opt, arch_opt, arch_terms=arch_terms,
                        loss_fn=loss_fn)
            if grad_correlation:
                used = list(zip(model.batch_log, targets))
                model.batch_log = None
                g_first, g_last = _conv_grads(model, *start, [used[0], used[-1]])
                history["grad_correlation"].append((g_first * g_last).flatten(1).sum(1))
            if (step + 1) % record_every == 0 or step + 1 == steps:
                records.append(eval_weights())
                record_steps.append(step + 1)

    final = eval_weights()
    form0 = model.seeds[0].op_weight_form
    eval_t = float(getattr(form0, "temperature", 1.0))
    hist = {"beta": torch.tensor(history["beta"])}
    if history["p"]:
        hist["p"] = torch.tensor(history["p"])
        hist["sparse"] = torch.stack(history["sparse"])
    if history["grad_correlation"]:
        hist["grad_correlation"] = torch.stack(history["grad_correlation"])
    return ToyRun(ops, form, update, final, torch.stack(records), torch.tensor(record_steps), alphas0,
                  model.alphas.detach().clone(), eval_t, hist,
                  {"conv_weights": model.conv_weights.detach().clone(), "data": (x_train, y_train, x_val, y_val),
                   "configs": configs}, answer)
