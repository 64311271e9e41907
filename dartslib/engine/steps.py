"""The update steps of a search: how alphas and weights move on one mini-batch.

:func:`search_step` is the one dispatcher of a search step -- which steps run, in which order, on which batch -- for
every search of the library, each a step of the one step loop (:meth:`dartslib.engine.run.Run.run_epoch`):
:meth:`dartslib.engine.loop.Search.train_step`, the seed-batched
:meth:`dartslib.engine.batched.BatchedSearch.take_step` and the vector toy's
:meth:`dartslib.book.toys.search.ToySearch.train_step` (:func:`dartslib.book.toys.residual_stack_search`).
:func:`make_optimizers` builds the optimizers they step with.
The steps themselves:

* :func:`weight_step` - one SGD step of the network weights on a training batch.
* :func:`arch_step_first_order` - DARTS' first-order approximation (Liu et al., 2019, Eq. 6 with xi = 0):
  the alphas follow ``grad_alpha L_val(w, alpha)``.
* :func:`arch_step_second_order` - DARTS' unrolled step (Liu et al., 2019, Eq. 6-8): the alphas follow
  ``grad_alpha L_val(w', alpha) - xi * (grad_alpha L_train(w+) - grad_alpha L_train(w-)) / (2 r)`` with
  ``w' = w - xi * grad_w L_train(w, alpha)`` (one virtual SGD step, momentum and weight decay included),
  ``w+- = w +- r * grad_w' L_val(w', alpha)`` and ``r = 0.01 / ||grad_w' L_val||``.
* :func:`single_level_step` - Single-DARTS (Hou et al., 2021, Eq. 16): weights and alphas step together on the
  gradient of the same training loss.

``arch_loss_terms`` are extra architecture losses (e.g. FairDARTS' zero-one loss) evaluated after the
forward pass; each is a callable ``() -> scalar tensor`` (:func:`dartslib.hooks.arch_loss_terms` makes them
from the hooks). ``loss_fn(output, target)`` is the task loss, cross-entropy by default (the image
supernets); the vector toy of :mod:`dartslib.book.toys` passes its regression loss and runs through the same
steps. It may return one loss per model, ``(S,)``, for ``S`` models batched in one (the seed-batched search):
the steps minimise their sum and return the per-model losses. ``clip_fn(params, max_norm)`` clips the
weights' gradients (``grad_clip``), ``torch.nn.utils.clip_grad_norm_`` by default; the seed-batched search
passes its per-seed clipping.

The model only needs what :class:`~dartslib.space.supernet.Supernet` offers the steps: ``model(x)``,
``arch_parameters()``, ``weight_parameters()``, ``zero_grad(set_to_none=True)`` and, for the second-order
step, ``named_weight_parameters()`` and ``named_buffers()``.

BN running statistics in the second-order step: as DARTS' ``architect.py`` (``quark0/darts``, ``cnn/``),
the validation forward at the unrolled weights ``w'`` runs on a copy of the model (there
``_construct_model_from_theta``; here the buffers are cloned for that one call), so the live model's BN
statistics see the same three forwards per architecture step as in DARTS (the training forward and the two
finite-difference ones), plus the weight step's. In training mode BN normalises with batch statistics, so
the gradient is the same either way; only eval-mode numbers differ.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

from dartslib.engine.config import STEP_ORDERS
from dartslib.methods.switches import UPDATE_SCHEMES
from dartslib.space.supernet import Supernet

if TYPE_CHECKING:
    from dartslib.engine.config import SearchConfig

__all__ = ["search_step", "make_optimizers", "ARCH_OPTIMIZERS", "weight_step", "arch_step_first_order",
           "arch_step_second_order", "single_level_step", "finite_difference_hvp"]

LossTerm = Callable[[], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (output, target) -> scalar, or (S,) per model
ClipFn = Callable[[list[torch.Tensor], float], Any]  # (weights, max_norm): clips their gradients in place
Batch = tuple[torch.Tensor, torch.Tensor]
ARCH_OPTIMIZERS = ("adam", "sgd")
_criterion = nn.CrossEntropyLoss()


def _extra(terms: Sequence[LossTerm]) -> torch.Tensor | float:
    return sum((term() for term in terms), 0.0)


def _total(loss: torch.Tensor) -> torch.Tensor:
    """The loss a step minimises: ``loss`` itself, or the sum of per-model losses ``(S,)``."""
    return loss.sum() if loss.dim() else loss


def _clip(params: list[torch.Tensor], max_norm: float) -> Any:
    return nn.utils.clip_grad_norm_(params, max_norm)


# ------------------------------------------------------------------------------------------ the dispatcher
def make_optimizers(model: Any, config: "SearchConfig",
                    arch_optimizer: str = "adam") -> tuple[torch.optim.SGD, torch.optim.Optimizer]:
    """``(weight_optimizer, arch_optimizer)`` of a search: SGD on ``model.weight_parameters()`` (``lr``,
    ``momentum``, ``weight_decay``, ``nesterov`` of ``config``), and on ``model.arch_parameters()`` DARTS' Adam
    (``arch_lr``, ``arch_betas``, ``arch_weight_decay``) or, ``arch_optimizer="sgd"``, momentum SGD (``arch_lr``,
    the weights' ``momentum``, ``arch_weight_decay``: Hou et al., 2021, Sec. 5.3, use SGD on the alphas)."""
    if arch_optimizer not in ARCH_OPTIMIZERS:
        raise ValueError(f"unknown arch_optimizer {arch_optimizer!r}; choose from: {', '.join(ARCH_OPTIMIZERS)}")
    weights = torch.optim.SGD(model.weight_parameters(), config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay, nesterov=config.nesterov)
    if arch_optimizer == "sgd":
        alphas: torch.optim.Optimizer = torch.optim.SGD(model.arch_parameters(), config.arch_lr,
                                                        momentum=config.momentum,
                                                        weight_decay=config.arch_weight_decay)
    else:
        alphas = torch.optim.Adam(model.arch_parameters(), config.arch_lr, betas=config.arch_betas,
                                  weight_decay=config.arch_weight_decay)
    return weights, alphas


def search_step(model: Any, update: str, batch: Batch, arch_batch: Batch | Callable[[], Batch] | None,
                weight_optimizer: torch.optim.Optimizer, arch_optimizer: torch.optim.Optimizer, *,
                arch_terms: Sequence[LossTerm] = (), grad_clip: float | None = None, xi: float | None = None,
                step_order: str = "arch-first", loss_fn: LossFn = _criterion,
                clip_fn: ClipFn | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One search step of ``update`` (:data:`dartslib.methods.switches.UPDATE_SCHEMES`); returns the detached
    training loss and logits of the weights' batch.

    * ``"bilevel-1st"`` and ``"same-subset"``: :func:`arch_step_first_order` on ``arch_batch`` (the validation
      half, or other batches of the training set), then :func:`weight_step` on ``batch`` with the new alphas
      (DARTS' order, Liu et al., 2019, Alg. 1); ``step_order="weights-first"`` swaps them (NAS-Bench-201's
      ``DARTS-V1.py``).
    * ``"bilevel-2nd"``: the same with :func:`arch_step_second_order` (virtual step ``xi``, by default the
      weights' current lr).
    * ``"single-level"``: :func:`single_level_step` on ``batch`` (Hou et al., 2021, Eq. 16); no
      ``arch_batch`` is drawn.

    ``arch_batch`` may be a callable, called (once) only when the update uses an architecture batch, so a
    stream of them advances as the update needs. ``arch_terms``, ``loss_fn``, ``grad_clip`` and ``clip_fn``
    go to the steps (module docstring)."""
    if update not in UPDATE_SCHEMES:
        raise ValueError(f"unknown update {update!r}; choose from: {', '.join(UPDATE_SCHEMES)}")
    if step_order not in STEP_ORDERS:
        raise ValueError(f"unknown step order {step_order!r}; choose from: {', '.join(STEP_ORDERS)}")
    x, y = batch
    clip = {} if clip_fn is None else {"clip_fn": clip_fn}  # (a replaced step need not know clip_fn)
    if update == "single-level":
        return single_level_step(model, x, y, weight_optimizer, arch_optimizer, grad_clip, arch_terms,
                                 loss_fn=loss_fn, **clip)
    if arch_batch is None:
        raise ValueError(f"update {update!r} needs an architecture batch")
    x_arch, y_arch = arch_batch() if callable(arch_batch) else arch_batch
    if step_order == "weights-first":
        loss, logits = weight_step(model, x, y, weight_optimizer, grad_clip, loss_fn=loss_fn, **clip)
    if update == "bilevel-2nd":
        xi = weight_optimizer.param_groups[0]["lr"] if xi is None else xi
        arch_step_second_order(model, x, y, x_arch, y_arch, weight_optimizer, arch_optimizer, xi, arch_terms,
                               loss_fn=loss_fn)
    else:
        arch_step_first_order(model, x_arch, y_arch, arch_optimizer, arch_terms, loss_fn=loss_fn)
    if step_order == "arch-first":
        loss, logits = weight_step(model, x, y, weight_optimizer, grad_clip, loss_fn=loss_fn, **clip)
    return loss, logits


# ------------------------------------------------------------------------------------------------ the steps
def weight_step(model: Supernet, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
                grad_clip: float | None, *, loss_fn: LossFn = _criterion,
                clip_fn: ClipFn = _clip) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the weights on ``(x, y)``; returns the detached loss and logits.

    Only the weights' gradients are computed (``inputs=``): the alphas' would be thrown away."""
    weights = list(model.weight_parameters())
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = loss_fn(logits, y)
    torch.autograd.backward(_total(loss), inputs=weights)
    if grad_clip:
        clip_fn(weights, grad_clip)
    optimizer.step()
    return loss.detach(), logits.detach()


def arch_step_first_order(model: Supernet, x_val: torch.Tensor, y_val: torch.Tensor,
                          optimizer: torch.optim.Optimizer, arch_loss_terms: Sequence[LossTerm] = (), *,
                          loss_fn: LossFn = _criterion) -> torch.Tensor:
    """One step of the alphas on the validation batch, weights held fixed; returns the detached loss.

    Only the gradient with respect to the alphas is computed (``autograd.grad``): the weights' gradients of
    this pass would be thrown away, and skipping them skips every convolution's weight-gradient kernel."""
    alphas = [p for group in optimizer.param_groups for p in group["params"]]
    optimizer.zero_grad(set_to_none=True)
    loss = _total(loss_fn(model(x_val), y_val)) + _extra(arch_loss_terms)
    grads = torch.autograd.grad(loss, alphas, allow_unused=True)
    for alpha, grad in zip(alphas, grads):
        alpha.grad = grad
    optimizer.step()
    model.zero_grad(set_to_none=True)  # nothing of this pass may leak into the weights' step
    return loss.detach()


def finite_difference_hvp(model: Supernet, x: torch.Tensor, y: torch.Tensor,
                          weights: dict[str, torch.Tensor], direction: Sequence[torch.Tensor],
                          r: float | torch.Tensor, *, loss_fn: LossFn = _criterion) -> list[torch.Tensor]:
    """``(grad_alpha L(w + r v) - grad_alpha L(w - r v)) / (2 r)``: the mixed second derivative
    ``d^2 L / d alpha d w`` times ``v`` by central differences (DARTS Eq. 8). ``weights`` stay untouched."""
    alphas = model.arch_parameters()
    grads = []
    for sign in (1.0, -1.0):
        shifted = {name: w + sign * r * v for (name, w), v in zip(weights.items(), direction)}
        loss = _total(loss_fn(functional_call(model, shifted, (x,)), y))
        grads.append(torch.autograd.grad(loss, alphas))
    return [(gp - gn) / (2 * r) for gp, gn in zip(*grads)]  # the whole difference over 2r, not (gp-gn)/2*r


def arch_step_second_order(model: Supernet, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
                           y_val: torch.Tensor, weight_optimizer: torch.optim.SGD,
                           arch_optimizer: torch.optim.Optimizer, xi: float,
                           arch_loss_terms: Sequence[LossTerm] = (), fd_scale: float = 0.01, *,
                           loss_fn: LossFn = _criterion) -> torch.Tensor:
    """DARTS' unrolled architecture step; ``xi`` is the virtual step size (DARTS uses the weights' lr) and
    ``r = fd_scale / ||grad_w' L_val||`` the finite-difference radius (DARTS: 0.01).

    The validation forward at ``w'`` updates cloned buffers, not the model's (see the module docstring):
    the model's BN running statistics are updated by the training forward and the two finite-difference
    forwards, three per call, as in DARTS."""
    weights = dict(model.named_weight_parameters())
    alphas = model.arch_parameters()
    group = weight_optimizer.param_groups[0]
    momentum, weight_decay = group.get("momentum", 0.0), group.get("weight_decay", 0.0)

    train_loss = _total(loss_fn(model(x), y))
    grads = torch.autograd.grad(train_loss, list(weights.values()))
    with torch.no_grad():
        unrolled = {}
        for (name, w), g in zip(weights.items(), grads):
            buffer = weight_optimizer.state.get(w, {}).get("momentum_buffer")
            step = g + weight_decay * w + (momentum * buffer if buffer is not None else 0.0)
            unrolled[name] = (w - xi * step).requires_grad_()

    on_a_copy = {**unrolled, **{name: b.clone() for name, b in model.named_buffers()}}  # DARTS: a model copy
    val_loss = _total(loss_fn(functional_call(model, on_a_copy, (x_val,)), y_val)) + _extra(arch_loss_terms)
    grads_val = torch.autograd.grad(val_loss, alphas + list(unrolled.values()))
    d_alphas, d_unrolled = grads_val[: len(alphas)], grads_val[len(alphas):]

    with torch.no_grad():
        r = fd_scale / torch.cat([g.flatten() for g in d_unrolled]).norm()
    implicit = finite_difference_hvp(model, x, y, weights, d_unrolled, r, loss_fn=loss_fn)

    arch_optimizer.zero_grad(set_to_none=True)
    for alpha, d_alpha, h in zip(alphas, d_alphas, implicit):
        alpha.grad = d_alpha - xi * h
    arch_optimizer.step()
    model.zero_grad(set_to_none=True)
    return val_loss.detach()


def single_level_step(model: Supernet, x: torch.Tensor, y: torch.Tensor, weight_optimizer: torch.optim.Optimizer,
                      arch_optimizer: torch.optim.Optimizer, grad_clip: float | None,
                      arch_loss_terms: Sequence[LossTerm] = (), *, loss_fn: LossFn = _criterion,
                      clip_fn: ClipFn = _clip) -> tuple[torch.Tensor, torch.Tensor]:
    """Single-DARTS (Hou et al., 2021, Eq. 16): one backward pass of the training loss, then both steps."""
    weight_optimizer.zero_grad(set_to_none=True)
    arch_optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = loss_fn(logits, y)
    (_total(loss) + _extra(arch_loss_terms)).backward()
    if grad_clip:
        clip_fn(list(model.weight_parameters()), grad_clip)
    weight_optimizer.step()
    arch_optimizer.step()
    return loss.detach(), logits.detach()
