"""Toy searches where each mechanism of the collapse and its fixes shows in seconds on a CPU.

The book's chapters start from these; ``tests/test_mechanisms.py`` asserts the papers' claims on them, each
against the same toy with the mechanism switched off.

**The residual-stack toy.** A regression task whose true function is a residual network, and a one-path
supernet that must find it:

* Teacher: ``x ~ N(0, I_16)``, ``h_0 = x``, ``h_{l+1} = h_l + c * BN(relu(h_l) A_l^T)`` for ``depth`` layers
  with fixed random ``A_l`` and ``c = strength = 1.5``; the target is ``y = h_depth``, scaled to unit
  variance. Every block is "identity + a residual branch 1.5 times as strong", so the best student keeps
  *both* branches (the ResNet block that FairDARTS says a skip connection lives in, fair-darts.md Sec. 3.2).
* Student (the supernet): a chain of ``depth`` mixed edges ``h_{l+1} = sum_m w_{l,m} o_m(h_l)`` with ops
  ``skip`` (identity), ``conv`` (ReLU -> linear -> affine-free BN: DARTS' ReLU-Conv-BN on vectors) and
  ``none``; its output ``h_depth`` is the prediction, with no readout, so the sizes of the branches are part
  of the fit. ``w`` comes from the alphas through a softmax, a sigmoid, or SP-DARTS' per-batch temperature.
* Search: DARTS' loop on a training and a validation set of 4096 samples each (weights: SGD lr 0.1,
  momentum 0.9, weight decay 3e-4, on training batches; alphas: Adam betas (0.5, 0.999), weight decay 1e-3,
  on validation batches), or
  single-level / same-subset updates; 400 steps, ``epochs = 10`` blocks of steps for the schedules.

Toy choices (not from the papers): vectors instead of images, and a larger architecture lr (1.5e-2, 3e-3
in the leakage toy) so that 400 steps do what 50 epochs do. The SGD on the weights matters: an edge's
weight gradient is scaled by its op weight, which is how a losing op also learns more slowly (Adam would
undo that).

**Seeds in one tensor.** ``S`` seeds are ``S`` independent searches batched along a leading dimension:
the loss is the sum of the per-seed losses, and SGD and Adam act elementwise, so seed ``s`` follows the
trajectory it would follow alone, up to float rounding (its own data, batches, initialisation and, for
SP-DARTS, its own Bernoulli draws), at a fraction of the cost of separate runs.

**The pure-softmax toy** (single-darts.md Theorems 4.2, 4.3): ``L = sum_i p_i s_i`` with ``p =
softmax(alpha)`` and fixed scores ``s_i = dL/dx_bar . x_i`` (a linear ``g``), run by plain gradient descent;
see :func:`softmax_race`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from .aux_skip import beta_schedule
from .entropy import summed_entropy
from .temperature import p_schedule
from .zero_one import zero_one_loss

__all__ = [
    "WIDTH", "TOY_OPS", "residual_teacher", "toy_forward", "ToyRun", "residual_stack_search",
    "discretization_scores", "run_entropies", "near_extremes_fraction", "last_crossing_steps",
    "unfair_advantage_experiment", "zero_one_experiment", "aux_skip_experiment", "leakage_experiment",
    "gradient_correlation_experiment", "softmax_race", "theorem_4_3_bound", "corrected_race_bound",
    "theorem_4_2_counterexample",
]

WIDTH = 16
TOY_OPS = ("skip", "conv", "none")
_TEACHER_SEED = 1000
_TEMPERATURE_SEED_OFFSET = 7919


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
    """
    x = torch.randn(n, WIDTH, generator=generator)
    return x, _teacher_raw(x, depth, strength) / _teacher_scale(depth, strength)


def toy_forward(x: torch.Tensor, ops: Sequence[str], conv_weights: torch.Tensor, op_weights: torch.Tensor,
                beta: float = 0.0) -> torch.Tensor:
    """The student supernet, batched over seeds.

    Args:
        x: ``(S, B, 16)`` inputs.
        ops: the candidate ops of every edge, from :data:`TOY_OPS` (``conv`` may repeat: independent weights).
        conv_weights: ``(S, depth, num_conv, 16, 16)``.
        op_weights: ``(S, depth, len(ops))``.
        beta: DARTS-' auxiliary skip, ``beta * h`` added to every edge outside the weighted sum.

    Returns ``(S, B, 16)``.
    """
    h = x
    for layer in range(op_weights.shape[1]):
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


# ------------------------------------------------------------------------------------------ a search
@dataclass
class ToyRun:
    """What :func:`residual_stack_search` returns (``S`` seeds, ``L`` edges, ``M`` ops, ``T`` records).

    Attributes:
        ops, form, update: as passed.
        op_weights: ``(S, L, M)`` final op weights at the evaluation temperature (1; ``t_sm`` for SP-DARTS).
        trajectory: ``(T, S, L, M)`` op weights (evaluation temperature) after the steps in ``steps``.
        steps: ``(T,)`` 1-based step counts of the records.
        alphas0, alphas: ``(S, L, M)`` initial and final architecture parameters.
        eval_temperature: the softmax temperature ``op_weights`` and evaluations use.
        history: per-step values, ``{name: (num_steps, ...)}``: ``beta``, ``p`` (SP-DARTS), ``sparse``
            ``(num_steps, S)``, ``grad_correlation`` ``(num_steps, S)``.
        state: what evaluation needs: ``conv_weights``, the data ``(x_train, y_train, x_val, y_val)``.
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


def residual_stack_search(ops: Sequence[str] = ("skip", "conv"), form: str = "softmax", *, depth: int = 4,
                          seeds: Sequence[int] = range(8), steps: int = 400, epochs: int = 10,
                          update: str = "bilevel-1st", arch_lr: float = 1.5e-2, weight_lr: float = 0.1,
                          strength: float = 1.5, samples: int = 4096, batch: int = 64,
                          zero_one: str | None = None, w01: float = 10.0,
                          aux_skip: str | None = None, aux_beta0: float = 1.0,
                          t_sp: float = 1e-3, t_sm: float | None = None, p_low: float = 0.0, p_up: float = 1.0,
                          warmup_epochs: int = 1, record_every: int = 10,
                          grad_correlation: bool = False) -> ToyRun:
    """Search the residual-stack toy with any combination of the library's switches; see the module doc.

    Args:
        ops: candidate ops of every edge (:data:`TOY_OPS`).
        form: ``"softmax"``, ``"sigmoid"`` or ``"sparse-smooth"`` (SP-DARTS: per step and seed, temperature
            ``t_sp`` with probability ``p`` of :func:`dartslib.temperature.p_schedule`, else ``t_sm``).
        update: ``"bilevel-1st"`` (alphas on validation batches), ``"same-subset"`` (alphas on other
            batches of the training set) or ``"single-level"`` (one step of both on the same batch).
        zero_one, w01: :func:`dartslib.zero_one.zero_one_loss` added to the alphas' loss, per seed.
        aux_skip, aux_beta0: DARTS-' auxiliary skip with :func:`dartslib.aux_skip.beta_schedule`.
        grad_correlation: record, before every step, single-darts.md Eq. 8's correlation term
            ``<grad_W L(arch batch), grad_W L(weight batch)>`` over all conv weights ``W`` (for a linear op the
            double sum of Eq. 8 is exactly this inner product); single-level uses one batch for both.
    """
    if update not in ("bilevel-1st", "same-subset", "single-level"):
        raise ValueError(f"unknown toy update {update!r}; choose from: bilevel-1st, same-subset, single-level")
    if form not in ("softmax", "sigmoid", "sparse-smooth"):
        raise ValueError(f"unknown toy op-weight form {form!r}; choose from: softmax, sigmoid, sparse-smooth")
    ops = tuple(ops)
    seeds = list(seeds)
    S, M, n_conv = len(seeds), len(ops), max(sum(op == "conv" for op in ops), 1)
    t_sm = 10.0 * t_sp if t_sm is None else t_sm
    eval_t = t_sm if form == "sparse-smooth" else 1.0

    gens = [torch.Generator().manual_seed(s) for s in seeds]
    train = [residual_teacher(samples, depth, strength, g) for g in gens]
    valid = [residual_teacher(samples, depth, strength, g) for g in gens]
    x_train, y_train = torch.stack([d[0] for d in train]), torch.stack([d[1] for d in train])
    x_val, y_val = torch.stack([d[0] for d in valid]), torch.stack([d[1] for d in valid])
    W = torch.stack([torch.randn(depth, n_conv, WIDTH, WIDTH, generator=g) / math.sqrt(WIDTH) for g in gens])
    alpha = torch.stack([1e-3 * torch.randn(depth, M, generator=g) for g in gens])
    weight_idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)
    arch_idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)
    t_gens = [torch.Generator().manual_seed(s + _TEMPERATURE_SEED_OFFSET) for s in seeds]
    W.requires_grad_(True)
    alphas0 = alpha.clone()
    alpha.requires_grad_(True)
    weight_opt = torch.optim.SGD([W], weight_lr, momentum=0.9, weight_decay=3e-4)
    arch_opt = torch.optim.Adam([alpha], arch_lr, betas=(0.5, 0.999), weight_decay=1e-3)
    rows = torch.arange(S)[:, None]

    def weights(t: torch.Tensor | float) -> torch.Tensor:
        if form == "sigmoid":
            return torch.sigmoid(alpha)
        t = t[:, None, None] if isinstance(t, torch.Tensor) else t
        return torch.softmax(alpha / t, dim=-1)

    def loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, beta: float) -> torch.Tensor:
        return ((toy_forward(x, ops, W, w, beta) - y) ** 2).mean(dim=(1, 2)).sum()  # sum of per-seed MSEs

    def arch_extra(w: torch.Tensor) -> torch.Tensor | float:
        return w01 * sum(zero_one_loss(w[s], zero_one) for s in range(S)) if zero_one else 0.0

    history: dict[str, list] = {"beta": [], "p": [], "sparse": [], "grad_correlation": []}
    records, record_steps = [], []
    for step in range(steps):
        epoch = step * epochs // steps
        beta = beta_schedule(aux_skip, epoch, epochs, aux_beta0) if aux_skip else 0.0
        if form == "sparse-smooth":
            p = p_schedule(epoch, epochs, p_low, p_up, warmup_epochs)
            sparse = torch.stack([torch.rand((), generator=g) for g in t_gens]) < p
            t: torch.Tensor | float = torch.where(sparse, torch.tensor(t_sp), torch.tensor(t_sm))
            history["p"].append(p)
            history["sparse"].append(sparse)
        else:
            t = 1.0
        history["beta"].append(beta)
        xw, yw = x_train[rows, weight_idx[step]], y_train[rows, weight_idx[step]]
        if update == "single-level":
            xa, ya = xw, yw
        elif update == "same-subset":
            xa, ya = x_train[rows, arch_idx[step]], y_train[rows, arch_idx[step]]
        else:
            xa, ya = x_val[rows, arch_idx[step]], y_val[rows, arch_idx[step]]
        if grad_correlation:
            w_now = weights(t).detach()
            g_arch, = torch.autograd.grad(loss(xa, ya, w_now, beta), W)
            g_weight = g_arch if update == "single-level" else torch.autograd.grad(loss(xw, yw, w_now, beta), W)[0]
            history["grad_correlation"].append((g_arch * g_weight).flatten(1).sum(1))
        if update == "single-level":  # single-darts.md Eq. 16: one backward pass, both steps
            arch_opt.zero_grad()
            weight_opt.zero_grad()
            w = weights(t)
            (loss(xw, yw, w, beta) + arch_extra(w)).backward()
            arch_opt.step()
            weight_opt.step()
        else:  # DARTS' first order: the alphas step, then the weights with the new alphas
            arch_opt.zero_grad()
            w = weights(t)
            (loss(xa, ya, w, beta) + arch_extra(w)).backward()
            arch_opt.step()
            weight_opt.zero_grad()
            loss(xw, yw, weights(t).detach(), beta).backward()
            weight_opt.step()
        if (step + 1) % record_every == 0 or step + 1 == steps:
            records.append(weights(eval_t).detach().clone())
            record_steps.append(step + 1)

    final = weights(eval_t).detach().clone()
    hist = {"beta": torch.tensor(history["beta"])}
    if history["p"]:
        hist["p"] = torch.tensor(history["p"])
        hist["sparse"] = torch.stack(history["sparse"])
    if history["grad_correlation"]:
        hist["grad_correlation"] = torch.stack(history["grad_correlation"])
    return ToyRun(ops, form, update, final, torch.stack(records), torch.tensor(record_steps), alphas0,
                  alpha.detach().clone(), eval_t, hist,
                  {"conv_weights": W.detach().clone(), "data": (x_train, y_train, x_val, y_val)})


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


def run_entropies(run: ToyRun) -> torch.Tensor:
    """IES (:func:`dartslib.entropy.summed_entropy`) of every seed's final op weights at the evaluation
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
    """fair-darts.md Sec. 3.2, 4.1 and 6.1 on the toy: ``{skip, conv}`` with softmax (exclusive competition:
    skip gets most of the weight and single ops dominate edges), with sigmoid (collaboration: the conv gate
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
    """fair-darts.md Sec. 4.2 and 6.2 on the toy: sigmoid gates without a zero-one loss, with ``L01``
    (``w01 = 10``) and with the control ``L'01``; records every step (for :func:`last_crossing_steps`)."""
    kwargs.setdefault("record_every", 1)
    return {name: residual_stack_search(("skip", "conv"), "sigmoid", seeds=seeds, zero_one=zo, **kwargs)
            for name, zo in (("none", None), ("l01", "l01"), ("l01-abs", "l01-abs"))}


def aux_skip_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """darts-minus.md Sec. 3.2 on the toy: softmax ``{skip, conv}`` without and with the auxiliary skip
    (linear beta from 1)."""
    return {"darts": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, **kwargs),
            "darts-minus": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, aux_skip="linear",
                                                 **kwargs)}


def leakage_experiment(seeds: Sequence[int] = range(8), arch_lr: float = 3e-3, **kwargs: Any) -> dict[str, ToyRun]:
    """sp-darts.md Sec. II-IV on the toy: DARTS, DARTS with a large architecture lr (0.1, "DARTS-0.1" of
    Table VI), SP-DARTS' sparse/smooth mixing (t_sp = 1e-3, t_sm = 1e-2, one warm-up epoch, p from 0 to 1),
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
    """single-darts.md Sec. 5.2.1, Fig. 2 on the toy: Eq. 8's correlation term along a bi-level and a
    single-level search (small batches, as the term's noise part shrinks with the batch size)."""
    return {update: residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, update=update, batch=batch,
                                          grad_correlation=True, **kwargs)
            for update in ("bilevel-1st", "single-level")}


# ------------------------------------------------------------------------------------------ pure softmax
def softmax_race(scores: Sequence[float] | torch.Tensor, eta: float = 0.1, eps: float = 0.1,
                 alphas0: Sequence[float] | torch.Tensor | None = None,
                 max_steps: int = 1_000_000) -> dict[str, Any]:
    """Gradient descent on ``L(alpha) = sum_i softmax(alpha)_i s_i`` (single-darts.md Theorems 4.2 and 4.3
    with ``g`` linear, so ``dL/dx_bar . x_i = s_i`` is fixed): ``alpha_i -= eta p_i (s_i - sum_k p_k s_k)``.

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
    """single-darts.md Eq. 15 as printed: ``t <= n ln((1 - eps) n) / (eta delta)``.

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
