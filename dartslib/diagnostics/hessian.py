"""The dominant eigenvalue of the Hessian of the validation loss w.r.t. the alphas.

RobustDARTS (Zela et al., 2020) watches this eigenvalue grow as DARTS collapses and stops early when it
does; Chu et al., 2021, Sec. 5.1 shows DARTS- finds good cells while it grows, so the indicator rejects good
models. Two ways to get it:

* :func:`power_iteration` on Hessian-vector products (:func:`hvp_function`: one gradient graph built with
  ``create_graph=True``, then one backward pass per product): the eigenvalue of largest magnitude,
  works at any size.
* :func:`dense_hessian`: the whole ``n x n`` matrix, one product per unit vector, for spaces small enough
  (NB201: 30 alphas; a DARTS space: 224); ``torch.linalg.eigvalsh`` then gives every eigenvalue.

:func:`alpha_hessian_eigenvalue` applies either to a supernet and a few batches; the loss is the mean
cross-entropy with batch-statistics BN, as in an architecture step. The model is left untouched.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from dartslib.device import model_device, to_device
from dartslib.diagnostics.measures import Batches, preserved_state, set_measurement_mode

__all__ = ["hvp_function", "power_iteration", "dense_hessian", "alpha_loss", "alpha_hessian",
           "alpha_hessian_eigenvalue"]

Hvp = Callable[[torch.Tensor], torch.Tensor]


def _flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def hvp_function(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor]) -> Hvp:
    """``v -> H v`` for the Hessian of ``loss_fn()`` w.r.t. ``params``, on flat vectors of length
    ``sum(p.numel())``. The loss and its gradient graph are built once; every product reuses them."""
    params = list(params)
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True, allow_unused=True)
    flat_grad = _flat([torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)])

    def hvp(v: torch.Tensor) -> torch.Tensor:
        v = v.to(dtype=flat_grad.dtype, device=flat_grad.device)
        if not flat_grad.requires_grad:  # the loss is linear in params: H = 0
            return torch.zeros_like(v)
        hv = torch.autograd.grad(flat_grad, params, grad_outputs=v, retain_graph=True, allow_unused=True)
        return _flat([torch.zeros_like(p) if h is None else h for p, h in zip(params, hv)]).detach()

    hvp.dim = flat_grad.numel()  # type: ignore[attr-defined]
    return hvp


def power_iteration(hvp: Hvp, dim: int | None = None, iters: int = 100, tol: float = 1e-5,
                    seed: int = 0, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> tuple[float, torch.Tensor]:
    """The dominant (largest-magnitude) eigenvalue of a symmetric operator, and its unit eigenvector.

    Repeats ``v <- H v / ||H v||`` from a random start (drawn from a private generator seeded with ``seed``,
    so the global random state is untouched) until the Rayleigh quotient ``v . H v`` changes by less than
    ``tol`` relative, or ``iters`` products. Converges at the rate ``|lambda_2 / lambda_1|``.
    """
    dim = dim if dim is not None else getattr(hvp, "dim")
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(dim, generator=generator, dtype=torch.float64).to(dtype=dtype, device=device)
    v = v / v.norm()
    eigenvalue = 0.0
    for i in range(iters):
        hv = hvp(v)
        new = float(torch.dot(v.to(hv.dtype), hv))
        norm = hv.norm()
        if norm == 0:
            return 0.0, v
        v = (hv / norm).to(dtype)
        if i > 0 and abs(new - eigenvalue) <= tol * max(abs(new), 1e-12):
            return new, v
        eigenvalue = new
    return eigenvalue, v


def dense_hessian(hvp: Hvp, dim: int | None = None, device: torch.device | str | None = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``(n, n)`` Hessian, one product per unit vector, symmetrised (``(H + H^T) / 2``)."""
    dim = dim if dim is not None else getattr(hvp, "dim")
    columns = []
    for i in range(dim):
        e = torch.zeros(dim, dtype=dtype, device=device)
        e[i] = 1.0
        columns.append(hvp(e))
    h = torch.stack(columns, dim=1)
    return (h + h.T) / 2


def alpha_loss(model: nn.Module, batches: Batches) -> Callable[[], torch.Tensor]:
    """A closure: the mean cross-entropy of the supernet over ``batches`` (a function of its alphas); the
    batches are moved to the model's device once, here."""
    batches = to_device(list(batches), model_device(model))

    def loss() -> torch.Tensor:
        total = sum(nn.functional.cross_entropy(model(x), y, reduction="sum") for x, y in batches)
        return total / sum(len(y) for _, y in batches)

    return loss


def alpha_hessian(model: nn.Module, batches: Batches) -> torch.Tensor:
    """The dense Hessian of the validation loss w.r.t. all alphas (``space.cell_types`` order, row-major)."""
    alphas = model.arch_parameters()
    with preserved_state(model):
        set_measurement_mode(model, "batch")
        hvp = hvp_function(alpha_loss(model, batches), alphas)
        return dense_hessian(hvp, device=alphas[0].device, dtype=alphas[0].dtype)


def alpha_hessian_eigenvalue(model: nn.Module, batches: Batches, method: str = "power", iters: int = 50,
                             tol: float = 1e-4, seed: int = 0) -> float:
    """The dominant eigenvalue of the Hessian of the validation loss w.r.t. the alphas (RobustDARTS).

    ``method="power"``: power iteration on Hessian-vector products (largest magnitude);
    ``"dense"``: the whole Hessian, then the eigenvalue of largest magnitude (small spaces only).
    Batch-statistics BN, as in an architecture step; the model's buffers and random state are restored.
    """
    alphas = model.arch_parameters()
    with preserved_state(model):
        set_measurement_mode(model, "batch")
        hvp = hvp_function(alpha_loss(model, batches), alphas)
        if method == "dense":
            eig = torch.linalg.eigvalsh(dense_hessian(hvp, device=alphas[0].device, dtype=alphas[0].dtype).double())
            return float(eig[eig.abs().argmax()])
        if method == "power":
            return power_iteration(hvp, iters=iters, tol=tol, seed=seed, device=alphas[0].device,
                                   dtype=alphas[0].dtype)[0]
    raise ValueError(f"method must be 'power' or 'dense', got {method!r}")
