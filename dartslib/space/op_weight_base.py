"""The base class of every op-weight form, alone in a leaf module.

A leaf (it imports only torch), so that a form may live in its own module (e.g. :mod:`dartslib.space.gumbel`)
and still be named in the registry :data:`dartslib.space.op_weights.OP_WEIGHT_FORMS`: the registry imports the
form's module, the form's module imports this one, and the imports point one way.
:mod:`dartslib.space.op_weights` re-exports :class:`OpWeightForm`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from dartslib.hooks import SearchHook, SearchSettings

__all__ = ["OpWeightForm"]


class OpWeightForm:
    """Base class: ``form(alphas) -> op_weights``, both ``(num_edges, num_ops)``.

    ``exclusive`` says whether the ops of an edge compete for a fixed budget (softmax) or not (sigmoid);
    derivation rules and diagnostics read it.
    """

    name = "base"
    exclusive = True

    def __call__(self, alphas: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def derivation_weights(self, alphas: torch.Tensor) -> torch.Tensor:
        """The weights a discrete architecture is derived from; the form's own output unless a form says
        otherwise (:class:`~dartslib.space.op_weights.SparseSmoothWeights` derives at its sparse temperature)."""
        return self(alphas)

    @classmethod
    def search_hook(cls, config: SearchSettings) -> SearchHook | None:
        """The hook a search with this form needs (e.g. a temperature schedule), built from the search's
        config, or None; :func:`dartslib.methods.presets.build_hooks` adds it."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
