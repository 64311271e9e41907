"""Toy searches where each mechanism of the collapse and its fixes shows in seconds on a CPU.

The book's chapters start from these; ``tests/test_mechanisms.py`` asserts the papers' claims on them, each
against the same toy with the mechanism switched off.

**The residual-stack toy.** A regression task whose true function is a residual network, and a one-path
supernet that must find it:

* Teacher: ``x ~ N(0, I_16)``, ``h_0 = x``, ``h_{l+1} = h_l + c * BN(relu(h_l) A_l^T)`` for ``depth`` layers
  with fixed random ``A_l`` and ``c = strength = 1.5``; the target is ``y = h_depth``, scaled to unit
  variance. Every block is "identity + a residual branch 1.5 times as strong", so the best student keeps
  *both* branches (the ResNet block that FairDARTS says a skip connection lives in, Chu et al., 2020,
  Sec. 3.2).
* Student (the supernet, :class:`ToySupernet`): a chain of ``depth`` mixed edges
  ``h_{l+1} = sum_m w_{l,m} o_m(h_l)`` with ops ``skip`` (identity), ``conv`` (ReLU -> linear -> affine-free
  BN: DARTS' ReLU-Conv-BN on vectors) and ``none``; its output ``h_depth`` is the prediction, with no
  readout, so the sizes of the branches are part of the fit.
* Search: DARTS' loop on a training and a validation set of 4096 samples each (weights: SGD lr 0.1,
  momentum 0.9, weight decay 3e-4, on training batches; alphas: Adam betas (0.5, 0.999), weight decay 1e-3,
  on validation batches; or momentum SGD on the alphas, ``arch_optimizer="sgd"``), or single-level /
  same-subset updates; 400 steps, ``epochs = 10`` blocks of steps for the schedules.

**Two teachers, two questions.** :func:`residual_teacher` (above) needs both ops on every edge, so no
discrete cell fits it: it shows the softmax's budget (one share per edge cannot keep identity and branch at
full strength, Chu et al., 2020, Sec. 3.2) and the collapse's dynamics, but "discretized R^2" on it rewards
sharpness, not choosing well. :func:`discrete_teacher` *is* a cell of the space (``answer``, default
``skip, conv, skip, conv``): the right cell fits it and every other is clearly worse, so a method is scored
by the cell it derives -- its regret against the best of all ``2^4`` cells trained stand-alone
(:func:`standalone_scores`, :func:`regret`, :func:`regret_experiment`). On a chain a skip is the identity,
so cells with the same number of convs are the same net (:func:`cell_function`): that teacher identifies
how many edges should be conv, not which.

**The same machinery as the image supernets.** The toy is one more search space of the library, not a
second implementation of the methods. A search is a :class:`~dartslib.engine.config.SearchConfig` (one per seed);
the op weights come from that config's form in :mod:`dartslib.space.op_weights`; every step is a step of
:mod:`dartslib.engine.steps` (``weight_step``, ``arch_step_first_order``, ``arch_step_second_order``,
``single_level_step``), given the toy's mean-squared error as ``loss_fn``; and the methods act through the
hooks that :func:`dartslib.methods.presets.build_hooks` builds from the config, called as
:meth:`dartslib.engine.loop.Search.run_epoch` calls them: DARTS-' :class:`~dartslib.methods.aux_skip.AuxiliarySkip` sets
``beta`` on the edges, SP-DARTS' :class:`~dartslib.methods.temperature.TemperatureMixing` draws each step's
temperature, FairDARTS' :class:`~dartslib.methods.zero_one.ZeroOneLoss` adds its term to the architecture loss. A
bug in any of them shows in the mechanism tests (``tests/test_mechanisms.py`` breaks each on purpose).

**Seeds in one tensor.** ``S`` seeds are ``S`` independent searches batched along a leading dimension:
the loss is the sum of the per-seed losses, and SGD and Adam act elementwise, so seed ``s`` follows the
trajectory it would follow alone, up to float rounding (its own data, batches, initialisation and, for
SP-DARTS, its own temperature draws). Each seed is also a supernet of its own for the hooks
(:class:`ToySeed`: its op-weight form, its op weights, its edges), with its own hooks built from its own
config (``seed = s``).

Toy choices (not from the papers): vectors instead of images, and a larger architecture lr (1.5e-2, 3e-3
in the leakage toy) so that 400 steps do what 50 epochs do. The SGD on the weights matters: an edge's
weight gradient is scaled by its op weight, which is how a losing op also learns more slowly (Adam would
undo that). No gradient clipping.

**The pure-softmax toy** (Hou et al., 2021, Theorems 4.2, 4.3): ``L = sum_i p_i s_i`` with ``p =
softmax(alpha)`` and fixed scores ``s_i = dL/dx_bar . x_i`` (a linear ``g``), run by plain gradient descent;
see :func:`softmax_race`.
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from dartslib.engine import steps as _steps
from dartslib.engine.config import SearchConfig
from dartslib.diagnostics.entropy import summed_entropy
from dartslib.methods.aux_skip import aux_beta
from dartslib.methods.presets import build_hooks, prepare_supernet
from dartslib.space.op_weights import OpWeightForm, build_op_weight_form
from dartslib.engine.loop import SearchHook, StepContext
from dartslib.engine.steps import ARCH_OPTIMIZERS, make_optimizers, search_step
from dartslib.hooks import arch_loss_terms, call_hooks
from dartslib.space.supernet import MixedEdge

__all__ = [
    "WIDTH", "TOY_OPS", "TOY_UPDATES", "residual_teacher", "toy_forward", "ToyEdge", "ToySeed", "ToySupernet",
    "toy_config", "ToyRun", "residual_stack_search", "DISCRETE_ANSWER", "discrete_teacher",
    "candidate_cells", "cell_function", "standalone_r2", "standalone_scores", "pooled_scores", "DERIVE_RULES",
    "derived_cells",
    "regret", "regret_experiment", "regret_summary",
    "discretization_scores", "run_entropies", "near_extremes_fraction", "last_crossing_steps",
    "unfair_advantage_experiment", "zero_one_experiment", "aux_skip_experiment", "leakage_experiment",
    "gradient_correlation_experiment", "softmax_race", "theorem_4_3_bound", "corrected_race_bound",
    "theorem_4_2_counterexample",
]

WIDTH = 16
TOY_OPS = ("skip", "conv", "none")
TOY_UPDATES = ("bilevel-1st", "bilevel-2nd", "same-subset", "single-level")
_TEACHER_SEED = 1000


# ------------------------------------------------------------------------------------------ the task
def _bn(z: torch.Tensor) -> torch.Tensor:
    """Affine-free batch norm over the sample dimension: ``(..., B, D) -> (..., B, D)``, batch statistics."""
    return (z - z.mean(-2, keepdim=True)) / torch.sqrt(z.var(-2, unbiased=False, keepdim=True) + 1e-5)


def _teacher_blocks(depth: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(_TEACHER_SEED)
    return [torch.randn(WIDTH, WIDTH, generator=g) / math.sqrt(WIDTH) for _ in range(depth)]


def _teacher_raw(x: torch.Tensor, depth: int, strength: float) -> torch.Tensor:
    h = x
    for a in _teacher_blocks(depth):
        h = h + strength * _bn(torch.relu(h) @ a.T)
    return h


@functools.lru_cache(maxsize=None)
def _teacher_scale(depth: int, strength: float) -> float:
    x = torch.randn(8192, WIDTH, generator=torch.Generator().manual_seed(_TEACHER_SEED + 1))
    return _teacher_raw(x, depth, strength).std().item()


def residual_teacher(n: int, depth: int = 4, strength: float = 1.5,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of the teacher: ``x (n, 16) ~ N(0, I)``, ``y (n, 16)`` of unit variance overall.

    The teacher's blocks are fixed (the same function for every seed); ``generator`` draws the inputs.

    What it can show: the softmax's budget -- every block needs identity *and* a branch 1.5 times as strong,
    which one softmax share per edge cannot give (Chu et al., 2020, Sec. 3.2) -- and the drift of the
    shares. What it cannot show: whether a method chooses well. No discrete cell fits it (the best of the
    16 trained stand-alone reaches held-out R^2 0.727, cells with 1 to 4 convs lie within 0.05 of each
    other), so a derived cell's score there mostly measures how sharp the op weights were; for that
    question use :func:`discrete_teacher` and :func:`regret`.
    """
    x = torch.randn(n, WIDTH, generator=generator)
    return x, _teacher_raw(x, depth, strength) / _teacher_scale(depth, strength)


DISCRETE_ANSWER = ("skip", "conv", "skip", "conv")


def _check_cell(cell: Sequence[str], name: str = "answer", allow_none: bool = False) -> tuple[str, ...]:
    cell = tuple(cell)
    if not cell:
        raise ValueError(f"{name} is empty: give one op per edge, e.g. {DISCRETE_ANSWER}")
    allowed = ("skip", "conv", "none") if allow_none else ("skip", "conv")
    for op in cell:
        if op not in allowed:
            raise ValueError(f"{name} has op {op!r}; a cell's edges are {' or '.join(map(repr, allowed))}")
    return cell


def _discrete_raw(x: torch.Tensor, answer: tuple[str, ...]) -> torch.Tensor:
    h = x
    for a, op in zip(_teacher_blocks(len(answer)), answer):
        if op == "conv":
            h = _bn(torch.relu(h) @ a.T)
    return h


@functools.lru_cache(maxsize=None)
def _discrete_scale(answer: tuple[str, ...]) -> float:
    x = torch.randn(8192, WIDTH, generator=torch.Generator().manual_seed(_TEACHER_SEED + 1))
    return _discrete_raw(x, answer).std().item()


def discrete_teacher(n: int, answer: Sequence[str] = DISCRETE_ANSWER,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of a teacher that *is* a discrete cell of the toy's space: ``x (n, 16) ~ N(0, I)``,
    ``y (n, 16)`` of unit variance overall.

    Edge ``l`` of ``answer`` is ``h_{l+1} = h_l`` (``"skip"``) or ``h_{l+1} = BN(relu(h_l) A_l^T)``
    (``"conv"``, the same fixed ``A_l`` as :func:`residual_teacher`'s blocks): the student's ops with weight 1
    and nothing else (strength 1 for the answer's op, 0 for the other), so the right discrete cell fits it
    exactly and every other cell has too few or too many convs. Measured (:func:`standalone_scores`, 8
    seeds, 400 steps): for the default answer the 6 right cells reach held-out R^2 0.940-0.949, the best
    wrong one 0.879; for ``skip, skip, skip, conv`` 1.000 vs 0.896; for ``conv, conv, conv, skip`` only
    0.831-0.844 vs 0.806 (three chained convs train less well in 400 steps).

    What it can show: whether a search derives the right cell, scored by regret against cells trained
    stand-alone (:func:`standalone_scores`, :func:`regret`) -- which :func:`residual_teacher` cannot, since
    no discrete cell fits that one. What it cannot show: *which* edges should skip. The toy is a chain and a
    skip is the identity, so every cell with the same number of convs computes the same family of functions
    (:func:`cell_function`): the answer is identified up to where its skips sit, and "the right cell" means
    any cell equivalent to ``answer``. Nor does it show the softmax budget of a block that needs both
    branches (:func:`residual_teacher`'s point, Chu et al., 2020, Sec. 3.2).
    """
    answer = _check_cell(answer)
    x = torch.randn(n, WIDTH, generator=generator)
    return x, _discrete_raw(x, answer) / _discrete_scale(answer)


def _teacher_data(n: int, depth: int, strength: float, answer: tuple[str, ...] | None,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if answer is None:
        return residual_teacher(n, depth, strength, generator)
    return discrete_teacher(n, answer, generator)


def toy_forward(x: torch.Tensor, ops: Sequence[str], conv_weights: torch.Tensor, op_weights: torch.Tensor,
                beta: float | torch.Tensor = 0.0) -> torch.Tensor:
    """The student supernet, batched over seeds.

    Args:
        x: ``(S, B, 16)`` inputs.
        ops: the candidate ops of every edge, from :data:`TOY_OPS` (``conv`` may repeat: independent weights).
        conv_weights: ``(S, depth, num_conv, 16, 16)``.
        op_weights: ``(S, depth, len(ops))``.
        beta: DARTS-' auxiliary skip, ``beta * h`` added to every edge outside the weighted sum: a number, or
            ``(S, depth)`` per seed and edge.

    Returns ``(S, B, 16)``.
    """
    per_edge = isinstance(beta, torch.Tensor)
    h = x
    for layer in range(op_weights.shape[1]):
        if per_edge:
            out = beta[:, layer, None, None] * h
        else:
            out = beta * h if beta else torch.zeros_like(h)
        conv = 0
        for m, op in enumerate(ops):
            if op == "skip":
                y = h
            elif op == "conv":
                y = _bn(torch.relu(h) @ conv_weights[:, layer, conv].transpose(-1, -2))
                conv += 1
            elif op == "none":
                continue
            else:
                raise ValueError(f"unknown toy op {op!r}; choose from: {', '.join(TOY_OPS)}")
            out = out + op_weights[:, layer, m, None, None] * y
        h = out
    return h


# ------------------------------------------------------------------------------------------ the supernet
class ToyEdge(MixedEdge):
    """One seed's mixed edge of the toy, as the method switches see an edge: they inject their edge
    extensions into it (:mod:`dartslib.space.extensions`; DARTS-' auxiliary branch from
    :func:`dartslib.methods.aux_skip.add_auxiliary_skips`, whose beta :class:`~dartslib.methods.aux_skip.AuxiliarySkip`
    sets); :class:`ToySupernet` reads them (:func:`dartslib.methods.aux_skip.aux_beta`) and computes every seed's
    edges at once (:func:`toy_forward`), so the edge itself has no ops and no forward of its own."""

    def __init__(self, ops: Sequence[str]) -> None:
        super().__init__((), WIDTH, 1)  # no image ops: the toy's are computed batched
        self.op_names = tuple(ops)
        self.skip_index = self.op_names.index("skip") if "skip" in self.op_names else None

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        raise TypeError("a ToyEdge is computed by its ToySupernet (toys.toy_forward), not on its own")


class ToySeed(nn.Module):
    """Seed ``index`` of a :class:`ToySupernet`, as a supernet of its own for the method hooks and
    :func:`dartslib.methods.presets.prepare_supernet`: its op-weight form (``op_weight_form``), its op weights
    (``op_weights()``, ``{"edge": (depth, M)}``) and its ``depth`` edges (:class:`ToyEdge`, in
    ``modules()``). Not a submodule of the supernet (the supernet's parameters are its own)."""

    def __init__(self, owner: "ToySupernet", index: int, form: str | OpWeightForm) -> None:
        super().__init__()
        self._owner = (owner,)  # a tuple: no module cycle
        self.index = index
        self.op_weight_form = build_op_weight_form(form)
        self.edges = nn.ModuleList(ToyEdge(owner.ops) for _ in range(owner.depth))

    def op_weights(self) -> dict[str, torch.Tensor]:
        """``{"edge": (depth, M)}``: this seed's op weights from its form (at the form's current temperature)."""
        return {"edge": self.op_weight_form(self._owner[0].alphas[self.index])}

    def aux_betas(self) -> list[float]:
        """``beta`` of every edge's auxiliary skip (0 where it has none)."""
        return [aux_beta(edge) for edge in self.edges]


class ToySupernet(nn.Module):
    """The toy's supernet for ``S`` seeds at once, with the interface :mod:`dartslib.engine.steps` uses:
    ``model(x)``, ``arch_parameters()``, ``weight_parameters()``, ``named_weight_parameters()``.

    Args:
        ops: the candidate ops of every edge (:data:`TOY_OPS`).
        conv_weights: ``(S, depth, num_conv, 16, 16)``, the network weights (``conv_weights``).
        alphas: ``(S, depth, M)``, the architecture parameters (``alphas``).
        form: the op-weight form (a name of :data:`dartslib.space.op_weights.OP_WEIGHT_FORMS`); every seed gets
            its own instance (SP-DARTS' temperature is drawn per seed).

    ``forward``: ``(S, B, 16) -> (S, B, 16)``. ``seeds`` lists the per-seed views (:class:`ToySeed`).
    ``batch_log``, when set to a list, collects the inputs of every forward (see :func:`residual_stack_search`,
    ``grad_correlation``).
    """

    def __init__(self, ops: Sequence[str], conv_weights: torch.Tensor, alphas: torch.Tensor,
                 form: str | OpWeightForm = "softmax") -> None:
        super().__init__()
        for op in ops:
            if op not in TOY_OPS:
                raise ValueError(f"unknown toy op {op!r}; choose from: {', '.join(TOY_OPS)}")
        self.ops = tuple(ops)
        self.depth = alphas.shape[1]
        self.conv_weights = nn.Parameter(conv_weights)
        self.alphas = nn.Parameter(alphas)
        self.seeds: list[ToySeed] = [ToySeed(self, s, form) for s in range(alphas.shape[0])]  # not submodules
        self.batch_log: list[torch.Tensor] | None = None

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alphas]

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        return iter([self.conv_weights])

    def named_weight_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return iter([("conv_weights", self.conv_weights)])

    def op_weights(self) -> torch.Tensor:
        """``(S, depth, M)``: every seed's op weights from its own form; in one call of the first seed's form
        when every seed's form is the same function (same type and temperature: forms hold no other state)."""
        forms = [seed.op_weight_form for seed in self.seeds]
        first = forms[0]
        if all(type(f) is type(first) and getattr(f, "temperature", None) == getattr(first, "temperature", None)
               for f in forms[1:]):
            return first(self.alphas)
        return torch.stack([seed.op_weights()["edge"] for seed in self.seeds])

    def aux_betas(self) -> torch.Tensor | float:
        """``(S, depth)`` auxiliary-skip coefficients as the hooks set them on the edges; 0.0 when none is on."""
        betas = [seed.aux_betas() for seed in self.seeds]
        if not any(b for row in betas for b in row):
            return 0.0
        return torch.tensor(betas, dtype=self.alphas.dtype)

    def forward(self, x: torch.Tensor, op_weights: torch.Tensor | None = None) -> torch.Tensor:
        if self.batch_log is not None:
            self.batch_log.append(x)
        w = self.op_weights() if op_weights is None else op_weights
        return toy_forward(x, self.ops, self.conv_weights, w, self.aux_betas())


def _toy_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The sum over seeds of each seed's mean squared error: ``(S, B, 16), (S, B, 16) -> ()``."""
    return ((prediction - target) ** 2).mean(dim=(1, 2)).sum()


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
            search_step(model, update, (xw, yw), lambda: (arch_x[rows, arch_idx[step]], arch_y[rows, arch_idx[step]]),
                        weight_opt, arch_opt, arch_terms=arch_terms, loss_fn=loss_fn)
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


# ------------------------------------------------------------------------------------------ measurements
@torch.no_grad()
def discretization_scores(run: ToyRun) -> tuple[torch.Tensor, torch.Tensor]:
    """``(supernet, discretized)`` validation R^2 per seed, ``(S,)`` each: the supernet with its op weights at
    the evaluation temperature, and the same weights with each edge's argmax op alone (weight 1), as the
    derivation would keep it. R^2 = 1 - MSE / Var(y) plays the part of the papers' accuracy."""
    _, _, x_val, y_val = run.state["data"]
    W = run.state["conv_weights"]
    one_hot = torch.nn.functional.one_hot(run.alphas.argmax(-1), len(run.ops)).float()
    var = y_val.var(dim=(1, 2), unbiased=False)

    def r2(w: torch.Tensor) -> torch.Tensor:
        return 1 - ((toy_forward(x_val, run.ops, W, w) - y_val) ** 2).mean(dim=(1, 2)) / var

    return r2(run.op_weights), r2(one_hot)


# ------------------------------------------------------------------------------------------ regret
Cell = tuple[str, ...]
_STANDALONE_SEED = 20_000  # stand-alone training draws its data and weights from seed + this: not the search's


def candidate_cells(depth: int = 4, ops: Sequence[str] = ("skip", "conv")) -> list[Cell]:
    """Every discrete cell of ``depth`` edges with one op of ``ops`` each (``len(ops) ** depth`` cells), in
    :func:`itertools.product` order (``("skip",) * depth`` first)."""
    for op in ops:
        if op not in ("skip", "conv"):
            raise ValueError(f"candidate op {op!r}: candidate cells' edges are 'skip' or 'conv' "
                             "(score the cut cell with standalone_r2(..., cut=True))")
    return list(itertools.product(tuple(ops), repeat=depth))


def cell_function(cell: Sequence[str]) -> Cell:
    """The ops a cell actually applies, in order: its skips removed. Two cells with the same value compute
    the same family of functions (a skip on a chain is the identity), so they are equally right: in the
    toy's ``{skip, conv}`` space this is the number of convs. A cell with a ``none`` edge (the threshold
    rule's edge where no op passes) cuts the chain: its net is the constant 0, ``("none",)``."""
    if "none" in cell:
        return ("none",)
    return tuple(op for op in cell if op != "skip")


def standalone_r2(answer: Sequence[str] | None = DISCRETE_ANSWER, *, cells: Sequence[Sequence[str]] | None = None,
                  seeds: Sequence[int] = range(8), depth: int | None = None, strength: float = 1.5,
                  steps: int = 400, samples: int = 4096, batch: int = 64, lr: float = 0.1,
                  cut: bool = False) -> dict[Cell, torch.Tensor]:
    """Train every candidate cell stand-alone on the teacher and return its held-out R^2 per seed,
    ``{cell: (S,)}``: the reference a derived cell's regret is measured against.

    A cell is trained as its derived net would be -- only its ops, each with weight 1 -- from scratch with
    the search's weight optimiser (SGD, ``lr``, momentum 0.9, weight decay 3e-4, ``steps`` batches of
    ``batch``) on ``samples`` fresh training samples, and scored on ``samples`` held-out ones
    (R^2 = 1 - MSE / Var(y), as :func:`discretization_scores`). Per seed, every cell sees the same data,
    batches and per-edge initial weights (common random numbers: the cells' differences are not the draws'),
    drawn from ``_STANDALONE_SEED + seed``, apart from the searches' seeds.

    Args:
        answer: the :func:`discrete_teacher`'s cell, or ``None`` for :func:`residual_teacher`
            (``depth``, ``strength``).
        cells: the cells to train (default :func:`candidate_cells`: all ``2 ** depth``).
        depth: edges (default ``len(answer)``, 4 for the residual teacher).
        cut: also score the cut cell ``("none",) * depth``, the net the threshold rule derives when an edge
            keeps no op (every cut cell predicts 0: one score serves them all, see :func:`regret`).

    Batched: all cells with ``k`` convs and all seeds are one :class:`ToySupernet` of ``k`` edges whose only op
    is ``conv`` (weight 1), trained by :func:`dartslib.engine.steps.weight_step` (a skip with weight 1 is the
    identity, so this is exactly the cell's own net, skips dropped); the all-skip cell
    has nothing to train (its prediction is ``x``), nor has a cell with a ``none`` edge (its prediction is 0).
    """
    if answer is not None:
        answer = _check_cell(answer)
        depth = len(answer) if depth is None else depth
        if depth != len(answer):
            raise ValueError(f"answer has {len(answer)} edges but depth is {depth}")
    depth = 4 if depth is None else depth
    cells = candidate_cells(depth) if cells is None else [_check_cell(c, "cell", allow_none=True) for c in cells]
    if cut:
        cells = [*cells, ("none",) * depth]
    for cell in cells:
        if len(cell) != depth:
            raise ValueError(f"cell {cell} has {len(cell)} edges but the teacher has {depth}")
    seeds = list(seeds)
    S = len(seeds)
    gens = [torch.Generator().manual_seed(_STANDALONE_SEED + s) for s in seeds]
    train = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
    test = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
    x_tr, y_tr = torch.stack([d[0] for d in train]), torch.stack([d[1] for d in train])
    x_te, y_te = torch.stack([d[0] for d in test]), torch.stack([d[1] for d in test])
    W0 = torch.stack([torch.randn(depth, WIDTH, WIDTH, generator=g) / math.sqrt(WIDTH) for g in gens])
    idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)  # (steps, S, batch)
    var = y_te.var(dim=(1, 2), unbiased=False)
    rows = torch.arange(S)[:, None]
    out: dict[Cell, torch.Tensor] = {}
    by_convs: dict[int, list[Cell]] = {}
    for cell in dict.fromkeys(cells):
        if "none" in cell:  # the chain is cut: the net predicts 0
            out[cell] = 1 - (y_te ** 2).mean(dim=(1, 2)) / var
        else:
            by_convs.setdefault(len(cell_function(cell)), []).append(cell)
    for k, group in sorted(by_convs.items()):
        G = len(group)
        if k == 0:
            r2 = 1 - ((x_te - y_te) ** 2).mean(dim=(1, 2)) / var
            for cell in group:
                out[cell] = r2.clone()
            continue
        edges = torch.tensor([[l for l, op in enumerate(cell) if op == "conv"] for cell in group])  # (G, k)
        # the cells as a ToySupernet with one op per edge (softmax of one alpha: weight exactly 1), trained
        # by the library's weight step
        net = ToySupernet(("conv",), W0[:, edges].transpose(0, 1).reshape(G * S, k, 1, WIDTH, WIDTH).clone(),
                          torch.zeros(G * S, k, 1))
        opt = torch.optim.SGD(net.weight_parameters(), lr, momentum=0.9, weight_decay=3e-4)
        for step in range(steps):
            xb, yb = x_tr[rows, idx[step]].repeat(G, 1, 1), y_tr[rows, idx[step]].repeat(G, 1, 1)
            _steps.weight_step(net, xb, yb, opt, None, loss_fn=_toy_loss)
        with torch.no_grad():
            pred = net(x_te.repeat(G, 1, 1)).view(G, S, *y_te.shape[1:])
            r2 = 1 - ((pred - y_te) ** 2).mean(dim=(2, 3)) / var  # (G, S)
        for cell, row in zip(group, r2):
            out[cell] = row
    return {tuple(cell): out[tuple(cell)] for cell in cells}


def standalone_scores(answer: Sequence[str] | None = DISCRETE_ANSWER, *, pool: bool = False,
                      **kwargs: Any) -> dict[Cell, float]:
    """``{cell: mean held-out R^2 over seeds}`` of :func:`standalone_r2` (same arguments).

    ``pool=True`` gives every cell the mean over the cells equivalent to it (same :func:`cell_function`):
    they are one family of functions, so their differences are training noise, and pooled, every cell
    equivalent to the best has regret 0."""
    r2 = standalone_r2(answer, **kwargs)
    scores = {cell: float(v.mean()) for cell, v in r2.items()}
    return pooled_scores(scores) if pool else scores


def pooled_scores(scores: dict[Cell, float]) -> dict[Cell, float]:
    """Each cell's score replaced by the mean score of the cells with its :func:`cell_function`."""
    classes: dict[Cell, list[float]] = {}
    for cell, v in scores.items():
        classes.setdefault(cell_function(cell), []).append(v)
    return {cell: sum(classes[cell_function(cell)]) / len(classes[cell_function(cell)]) for cell in scores}


DERIVE_RULES = ("argmax", "threshold", "own")


def derived_cells(run: ToyRun, rule: str = "argmax", threshold: float = 0.85) -> list[Cell]:
    """Every seed's derived cell, ``none`` never chosen as an op.

    Rules: ``"argmax"``, on each edge the op with the largest alpha (DARTS' rule, Liu et al., 2019, Sec. 2.4;
    for sigmoid gates and SP-DARTS' temperatures the same op as the largest op weight, the forms being
    monotone); ``"threshold"``, FairDARTS' rule as :func:`dartslib.arch.derive.derive_threshold` applies it (Chu et
    al., 2020, Sec. 4.3 and footnote 8: the strongest op whose final op weight is at least ``threshold``,
    0.85), and ``"none"`` on an edge where no op passes -- on the toy's chain that cuts the net; ``"own"``,
    the threshold rule for sigmoid runs and argmax for the others.

    The two rules disagree on FairDARTS' toy runs: every conv ends in a BN, so an edge's overall scale does
    not matter to the next conv, and the zero-one loss can drive *both* gates of an edge to about 0.01
    while the supernet still fits; argmax reads the ratio of two small gates, the threshold keeps nothing
    (on :func:`discrete_teacher`'s default answer 7 of 8 seeds derive a cut net by the threshold rule, none
    by argmax)."""
    if rule not in DERIVE_RULES:
        raise ValueError(f"unknown derivation rule {rule!r}; choose from: {', '.join(DERIVE_RULES)}")
    if rule == "own":
        rule = "threshold" if run.form == "sigmoid" else "argmax"
    keep = torch.tensor([op != "none" for op in run.ops])
    if rule == "argmax":
        scores, passing = run.alphas, keep.expand_as(run.alphas)
    else:
        scores, passing = run.op_weights, keep & (run.op_weights >= threshold)
    best = scores.masked_fill(~passing, -math.inf).argmax(-1)
    cut = ~passing.any(-1)
    return [tuple("none" if c else run.ops[m] for m, c in zip(row, cut_row))
            for row, cut_row in zip(best.tolist(), cut.tolist())]


def regret(run_or_cell: ToyRun | Sequence[str], scores: dict[Cell, float],
           rule: str = "argmax") -> float | torch.Tensor:
    """Regret of a cell against the best stand-alone cell, ``max(scores) - scores[cell]`` (R^2 points,
    ``>= 0``): a float for a cell, ``(S,)`` for a :class:`ToyRun` (each seed's cell by ``rule``, see
    :func:`derived_cells`). A cell missing from ``scores`` gets the mean score of the cells there that are
    equivalent to it (:func:`cell_function`; a cut cell needs ``standalone_r2(..., cut=True)``)."""
    best = max(scores.values())

    edges = len(next(iter(scores)))

    def one(cell: Sequence[str]) -> float:
        cell = tuple(cell)
        if len(cell) != edges:
            raise ValueError(f"cell {cell} has {len(cell)} edges but the scored cells have {edges}")
        if cell in scores:
            return best - scores[cell]
        same = [v for c, v in scores.items() if cell_function(c) == cell_function(cell)]
        if not same:
            hint = " (a cut cell: score with standalone_r2(..., cut=True))" if "none" in cell else ""
            raise ValueError(f"cell {cell} has no stand-alone score nor an equivalent one; scores cover "
                             f"{len(scores)} cells{hint}")
        return best - sum(same) / len(same)

    if isinstance(run_or_cell, ToyRun):
        return torch.tensor([one(cell) for cell in derived_cells(run_or_cell, rule)])
    return one(run_or_cell)


def regret_experiment(seeds: Sequence[int] = range(8), answer: Sequence[str] = DISCRETE_ANSWER,
                      **kwargs: Any) -> dict[str, ToyRun]:
    """Each method of the library searching :func:`discrete_teacher` (``answer``), ``{skip, conv}``, the same
    architecture lr for all (``arch_lr``, default 1.5e-2): DARTS (softmax, Liu et al., 2019), FairDARTS
    (sigmoid with the zero-one loss, ``w01 = 10``, Chu et al., 2020), DARTS- (auxiliary skip, linear beta
    from 1, Chu et al., 2021), SP-DARTS (sparse/smooth temperatures, Zhang & Ding, 2023) and single-level
    DARTS (Hou et al., 2021). Score them with :func:`regret_summary`."""
    answer = _check_cell(answer)
    kwargs.setdefault("depth", len(answer))
    ops = ("skip", "conv")
    search = functools.partial(residual_stack_search, ops, seeds=seeds, answer=answer, **kwargs)
    return {"darts": search("softmax"),
            "fairdarts": search("sigmoid", zero_one="l01"),
            "darts-minus": search("softmax", aux_skip="linear"),
            "sp-darts": search("sparse-smooth"),
            "single-level": search("softmax", update="single-level")}


def regret_summary(runs: dict[str, ToyRun], scores: dict[Cell, float], rule: str = "argmax") -> list[dict[str, Any]]:
    """One row per run: ``method``, ``seeds``, ``rule`` (the derivation rule used, :func:`derived_cells`),
    ``cells`` (each seed's derived cell), ``convs`` (mean number of conv edges derived), ``regret`` and
    ``regret_sd`` (over seeds, R^2 points), ``right`` (fraction of seeds whose cell is equivalent to the
    run's answer, :func:`cell_function`; ``None`` without an answer)."""
    rows = []
    for name, run in runs.items():
        own = ("threshold" if run.form == "sigmoid" else "argmax") if rule == "own" else rule
        cells = derived_cells(run, own)
        r = regret(run, scores, own)
        right = (None if run.answer is None else
                 sum(cell_function(c) == cell_function(run.answer) for c in cells) / len(cells))
        rows.append({"method": name, "seeds": len(cells), "rule": own, "cells": cells,
                     "convs": sum(c.count("conv") for c in cells) / len(cells),
                     "regret": float(r.mean()), "regret_sd": float(r.std()) if len(cells) > 1 else 0.0,
                     "right": right})
    return rows


def run_entropies(run: ToyRun) -> torch.Tensor:
    """IES (:func:`dartslib.diagnostics.entropy.summed_entropy`) of every seed's final op weights at the evaluation
    temperature, ``(S,)``."""
    return torch.tensor([summed_entropy(w) for w in run.op_weights])


def near_extremes_fraction(gates: torch.Tensor, margin: float = 0.1) -> float:
    """Fraction of gate values within ``margin`` of 0 or 1."""
    return ((gates < margin) | (gates > 1 - margin)).float().mean().item()


def last_crossing_steps(run: ToyRun) -> torch.Tensor:
    """For every gate of a sigmoid run, ``(S, L, M)``: the last record step at which it crossed 0.5 (0 if its
    side never changed after the first record): when the search made up its mind about that op."""
    side = run.trajectory > 0.5
    changed = side[1:] != side[:-1]
    when = run.steps[1:].view(-1, *([1] * (changed.dim() - 1))).expand_as(changed)
    return torch.where(changed, when, torch.zeros_like(when)).amax(0)


# ------------------------------------------------------------------------------------------ experiments
def unfair_advantage_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """FairDARTS (Chu et al., 2020), Sec. 3.2, 4.1 and 6.1 on the toy: ``{skip, conv}`` with softmax (exclusive
    competition: skip gets most of the weight and single ops dominate edges), with sigmoid (collaboration: the conv gate
    grows along with the skip gate) and softmax without skip (``{conv, conv}``: no op takes over).

    What the toy does and does not show: a softmax cannot keep both branches of the teacher's blocks at full
    strength, and training the weights with the shares fixed gives the lowest validation loss near
    p_skip = 0.55 -- so here the skip's win is mostly the exclusive competition itself (FairDARTS' second
    factor), not a share beyond the softmax optimum. The advantage the skip draws from being useful before
    the convs are trained shows in :func:`aux_skip_experiment`: take that role away and the skip loses."""
    return {"softmax": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, **kwargs),
            "sigmoid": residual_stack_search(("skip", "conv"), "sigmoid", seeds=seeds, **kwargs),
            "no-skip": residual_stack_search(("conv", "conv"), "softmax", seeds=seeds, **kwargs)}


def zero_one_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """FairDARTS (Chu et al., 2020), Sec. 4.2 and 6.2 on the toy: sigmoid gates without a zero-one loss, with ``L01``
    (``w01 = 10``) and with the control ``L'01``; records every step (for :func:`last_crossing_steps`)."""
    kwargs.setdefault("record_every", 1)
    return {name: residual_stack_search(("skip", "conv"), "sigmoid", seeds=seeds, zero_one=zo, **kwargs)
            for name, zo in (("none", None), ("l01", "l01"), ("l01-abs", "l01-abs"))}


def aux_skip_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """DARTS- (Chu et al., 2021), Sec. 3.2 on the toy: softmax ``{skip, conv}`` without and with the auxiliary skip
    (linear beta from 1)."""
    return {"darts": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, **kwargs),
            "darts-minus": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, aux_skip="linear",
                                                 **kwargs)}


def leakage_experiment(seeds: Sequence[int] = range(8), arch_lr: float = 3e-3, **kwargs: Any) -> dict[str, ToyRun]:
    """SP-DARTS (Zhang & Ding, 2023), Sec. II-IV on the toy: DARTS, DARTS with a large architecture lr (0.1,
    "DARTS-0.1" of Table VI), SP-DARTS' sparse/smooth mixing (t_sp = 1e-3, t_sm = 1e-2, one warm-up epoch, p from 0 to 1),
    and its two halves alone: only the smooth softmax (p = 0, i.e. DARTS at temperature t_sm) and only the
    sparse one (p = 1 from the start: the gradient saturation of Eq. 10 that the mixing is there to avoid).
    Every run uses the same architecture lr except DARTS-0.1."""
    ops = ("skip", "conv")
    return {"darts": residual_stack_search(ops, "softmax", seeds=seeds, arch_lr=arch_lr, **kwargs),
            "darts-large-arch-lr": residual_stack_search(ops, "softmax", seeds=seeds, arch_lr=0.1, **kwargs),
            "sp-darts": residual_stack_search(ops, "sparse-smooth", seeds=seeds, arch_lr=arch_lr, **kwargs),
            "smooth-only": residual_stack_search(ops, "sparse-smooth", seeds=seeds, arch_lr=arch_lr, p_up=0.0,
                                                 **kwargs),
            "sparse-only": residual_stack_search(ops, "sparse-smooth", seeds=seeds, arch_lr=arch_lr, p_low=1.0,
                                                 warmup_epochs=0, **kwargs)}


def gradient_correlation_experiment(seeds: Sequence[int] = range(8), batch: int = 16,
                                    **kwargs: Any) -> dict[str, ToyRun]:
    """Single-DARTS (Hou et al., 2021), Sec. 5.2.1, Fig. 2 on the toy: Eq. 8's correlation term along a bi-level and a
    single-level search (small batches, as the term's noise part shrinks with the batch size)."""
    return {update: residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, update=update, batch=batch,
                                          grad_correlation=True, **kwargs)
            for update in ("bilevel-1st", "single-level")}


# ------------------------------------------------------------------------------------------ pure softmax
def softmax_race(scores: Sequence[float] | torch.Tensor, eta: float = 0.1, eps: float = 0.1,
                 alphas0: Sequence[float] | torch.Tensor | None = None,
                 max_steps: int = 1_000_000) -> dict[str, Any]:
    """Gradient descent on ``L(alpha) = sum_i softmax(alpha)_i s_i`` (Hou et al., 2021, Theorems 4.2 and
    4.3 with ``g`` linear, so ``dL/dx_bar . x_i = s_i`` is fixed): ``alpha_i -= eta p_i (s_i - sum_k p_k s_k)``.

    Runs until the best op ``i* = argmin s`` has ``p_i* > 1 - eps`` (float64).

    Returns ``{"steps": t or None, "best": i*, "delta": min_{i != i*} s_i - s_i*, "min_gap_increase": the
    smallest one-step change of any gap alpha_i* - alpha_i (Theorem 4.2 says >= 0), "p_best": (t + 1,)
    trajectory of p_i*}``.
    """
    s = torch.as_tensor(scores, dtype=torch.float64)
    n = len(s)
    best = int(s.argmin())
    alpha = torch.zeros(n, dtype=torch.float64) if alphas0 is None else torch.as_tensor(alphas0, dtype=torch.float64).clone()
    if alpha[best] < alpha.max():
        raise ValueError("Theorems 4.2/4.3 start from alpha_best >= alpha_i for every i")
    others = [i for i in range(n) if i != best]
    delta = (s[others] - s[best]).min().item()
    p_best, min_increase, steps = [], math.inf, None
    for t in range(max_steps + 1):
        p = torch.softmax(alpha, 0)
        p_best.append(p[best].item())
        if p[best] > 1 - eps:
            steps = t
            break
        grad = p * (s - (p * s).sum())
        new = alpha - eta * grad
        gaps_before = alpha[best] - alpha[others]
        gaps_after = new[best] - new[others]
        min_increase = min(min_increase, (gaps_after - gaps_before).min().item())
        alpha = new
    return {"steps": steps, "best": best, "delta": delta, "min_gap_increase": min_increase,
            "p_best": torch.tensor(p_best)}


def theorem_4_3_bound(n: int, eps: float, eta: float, delta: float) -> float:
    """Hou et al. (2021), Eq. 15 as printed: ``t <= n ln((1 - eps) n) / (eta delta)``.

    The printed bound does not hold in general (its last step bounds ``sum_i exp(alpha_i - alpha_i*)`` by
    ``n exp(-gap)``, dropping the ``i = i*`` term, and the gap's growth ``p_i* delta`` per step in Eq. 17
    should be ``p_i* (1 - p_i*) delta``); it grows only like ``ln n`` as ``eps -> 0``, while the real time
    grows like ``1/eps``. See :func:`corrected_race_bound`.
    """
    return n * math.log((1 - eps) * n) / (eta * delta)


def corrected_race_bound(n: int, eps: float, eta: float, delta: float) -> float:
    """A bound that holds for :func:`softmax_race` from equal alphas (gradient flow; the tests check the
    discrete steps): ``t <= (ln((n - 1)(1 - eps) / eps) + n - 1) / (eta delta eps)``.

    Derivation: every gap ``G_i = alpha_i* - alpha_i`` grows at least ``eta delta p*(1 - p*)`` per step (for
    ``s_i >= s_bar`` directly; for ``s_i < s_bar`` because ``p_i <= p*``), ``1 - p* >= eps`` until done and
    ``p* >= 1 / (1 + (n-1) e^-G)``; ``p* > 1 - eps`` once ``G >= ln((n-1)(1-eps)/eps)``; integrate.
    """
    return (math.log((n - 1) * (1 - eps) / eps) + n - 1) / (eta * delta * eps)


def theorem_4_2_counterexample() -> dict[str, float]:
    """Three ops where Theorem 4.2's premises hold for ``(j, i)`` but its conclusion fails.

    ``s = (s_j, s_i, s_k) = (0, 1, -2.75)``, ``p = (0.5, 0.1, 0.4)``: ``s_j < s_i`` and ``alpha_j >= alpha_i``,
    yet ``dL/dalpha_j = p_j (s_j - s_bar) = 0.5 > dL/dalpha_i = 0.2``, so gradient descent *closes* the gap
    between the richer, better ``j`` and ``i``. The appendix proof (C.1) only covers ``j = i*``, the best op
    (there ``s_i* <= s_bar``), which is what :func:`softmax_race` checks.
    """
    s = torch.tensor([0.0, 1.0, -2.75], dtype=torch.float64)
    p = torch.tensor([0.5, 0.1, 0.4], dtype=torch.float64)
    grad = p * (s - (p * s).sum())
    return {"s_j": s[0].item(), "s_i": s[1].item(), "alpha_j": math.log(0.5), "alpha_i": math.log(0.1),
            "grad_j": grad[0].item(), "grad_i": grad[1].item()}
