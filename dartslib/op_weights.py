"""How architecture parameters become op weights: the piece the methods swap.

An op-weight form maps the alphas of one cell type, shape ``(num_edges, num_ops)``, to the weights
that mix the candidate ops on each edge, same shape. DARTS uses a softmax per edge (Liu et al., 2019,
Eq. 2); FairDARTS uses an independent sigmoid per op (Chu et al., 2020, fair-darts.md Eq. 6).
Forms are small stateless ``nn.Module``-free callables so they can be swapped on a live supernet.
"""
from __future__ import annotations

import torch

__all__ = ["OpWeightForm", "SoftmaxWeights", "SigmoidWeights", "build_op_weight_form", "OP_WEIGHT_FORMS"]


class OpWeightForm:
    """Base class: ``form(alphas) -> op_weights``, both ``(num_edges, num_ops)``.

    ``exclusive`` says whether the ops of an edge compete for a fixed budget (softmax) or not (sigmoid);
    derivation rules and diagnostics read it.
    """

    name = "base"
    exclusive = True

    def __call__(self, alphas: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxWeights(OpWeightForm):
    """``softmax(alphas / temperature)`` over the ops of each edge (DARTS, Liu et al. 2019, Eq. 2)."""

    name = "softmax"
    exclusive = True

    def __init__(self, temperature: float = 1.0) -> None:
        if temperature <= 0:
            raise ValueError(f"softmax temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def __call__(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.softmax(alphas / self.temperature, dim=-1)

    def __repr__(self) -> str:
        return f"SoftmaxWeights(temperature={self.temperature})"


class SigmoidWeights(OpWeightForm):
    """``sigmoid(alphas)`` independently per op (FairDARTS, fair-darts.md Eq. 6): ops collaborate."""

    name = "sigmoid"
    exclusive = False

    def __call__(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(alphas)


OP_WEIGHT_FORMS = {"softmax": SoftmaxWeights, "sigmoid": SigmoidWeights}


def build_op_weight_form(form: str | OpWeightForm) -> OpWeightForm:
    """A form by name (``"softmax"``, ``"sigmoid"``); an :class:`OpWeightForm` passes through."""
    if isinstance(form, OpWeightForm):
        return form
    if form not in OP_WEIGHT_FORMS:
        raise ValueError(f"unknown op-weight form {form!r}; choose from: {', '.join(OP_WEIGHT_FORMS)}")
    return OP_WEIGHT_FORMS[form]()
