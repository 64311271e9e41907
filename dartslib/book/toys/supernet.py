"""The toy's supernet: :func:`toy_forward` (every seed's chain of mixed edges at once), the per-seed views the
method hooks act on (:class:`ToySeed`, :class:`ToyEdge`) and :class:`ToySupernet`, the model the library's steps
(:mod:`dartslib.engine.steps`) step; see :mod:`dartslib.book.toys`."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch
from torch import nn

from dartslib.book.toys.teachers import WIDTH, _bn
from dartslib.methods.aux_skip import aux_beta
from dartslib.space.op_weights import OpWeightForm, build_op_weight_form
from dartslib.space.supernet import MixedEdge

__all__ = ["TOY_OPS", "toy_forward", "ToyEdge", "ToySeed", "ToySupernet"]

TOY_OPS = ("skip", "conv", "none")


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
