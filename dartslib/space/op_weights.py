"""How architecture parameters become op weights: the piece the methods swap.

An op-weight form maps the alphas of one cell type, shape ``(num_edges, num_ops)``, to the weights
that mix the candidate ops on each edge, same shape. DARTS uses a softmax per edge (Liu et al., 2019,
Eq. 2); FairDARTS uses an independent sigmoid per op (Chu et al., 2020, Eq. 6); SP-DARTS switches
the softmax between a sparse and a smooth temperature from step to step (Zhang & Ding, 2023, Eq. 15).
Forms are small stateless ``nn.Module``-free callables so they can be swapped on a live supernet.
"""
from __future__ import annotations

import torch

from dartslib.hooks import Knob, SearchHook, SearchSettings, Switch
from dartslib.space.gumbel import GumbelSoftmaxWeights
from dartslib.space.op_weight_base import OpWeightForm

__all__ = ["OpWeightForm", "SoftmaxWeights", "SigmoidWeights", "SparseSmoothWeights", "build_op_weight_form",
           "OP_WEIGHT_FORMS", "OP_WEIGHTS_SWITCH"]


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
    """``sigmoid(alphas)`` independently per op (FairDARTS, Chu et al., 2020, Eq. 6): ops collaborate."""

    name = "sigmoid"
    exclusive = False

    def __call__(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(alphas)


class SparseSmoothWeights(SoftmaxWeights):
    """SP-DARTS' op weights (Zhang & Ding, 2023, Eq. 9, 14, 15): ``softmax(alphas / t)`` where ``t`` is
    switched between the sparse temperature ``t_sp`` and the smooth one ``t_sm`` (= 10 t_sp) from step to step.

    The form only holds the temperatures; :class:`dartslib.methods.temperature.TemperatureMixing` (a search hook)
    draws which one each mini-batch uses and sets ``temperature`` before the step. Between steps the form
    rests at ``t_sm``, the temperature the supernet is evaluated and its op weights are reported at.

    Derivation uses ``derivation_weights`` = ``softmax(A / t_sp)``, as the authors' code does: the paper
    does not say; ``train_search_mf.py`` of ``chaoji90/SP-DARTS`` (its DARTS-space entry point) calls
    ``model.genotype(temp)`` with ``temp = t_sp`` after the warm-up, and its ``genotype`` (``model_search.py``)
    rounds those weights to 4 decimals and ranks the edges of each node on the reversed edge list, so that
    ties go to the later input. At ``t_sp`` the strongest weights of many edges round to 1.0, so those ties
    decide much of the cell; the SP-DARTS preset sets the rounding and the tie rule as derive options
    (``decimals``, ``edge_ties``, :func:`dartslib.arch.derive.derive_darts`). The argmax per edge (NB201's rule)
    is the same at every temperature.
    """

    name = "sparse-smooth"
    exclusive = True

    def __init__(self, t_sp: float = 1e-3, t_sm: float | None = None) -> None:
        t_sm = 10.0 * t_sp if t_sm is None else t_sm
        if not 0 < t_sp <= t_sm:
            raise ValueError(f"need 0 < t_sp <= t_sm, got t_sp={t_sp}, t_sm={t_sm}")
        super().__init__(t_sm)
        self.t_sp, self.t_sm = float(t_sp), float(t_sm)

    def sparse(self) -> None:
        """Use ``t_sp`` (the sparse softmax, Zhang & Ding, 2023, Eq. 15 with phi = 1)."""
        self.temperature = self.t_sp

    def smooth(self) -> None:
        """Use ``t_sm`` (the smooth softmax, phi = 0; also the evaluation temperature)."""
        self.temperature = self.t_sm

    @property
    def derive_temperature(self) -> float:
        """The temperature the genotype is derived at: ``t_sp`` (see the class docstring)."""
        return self.t_sp

    def derivation_weights(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.softmax(alphas / self.t_sp, dim=-1)

    def __repr__(self) -> str:
        return f"SparseSmoothWeights(t_sp={self.t_sp}, t_sm={self.t_sm}, temperature={self.temperature})"


OP_WEIGHT_FORMS = {"softmax": SoftmaxWeights, "sigmoid": SigmoidWeights, "sparse-smooth": SparseSmoothWeights,
                   "gumbel": GumbelSoftmaxWeights}  # GDAS (Dong & Yang, 2019), see dartslib.space.gumbel


def build_op_weight_form(form: str | OpWeightForm) -> OpWeightForm:
    """A form by name (``"softmax"``, ``"sigmoid"``, ``"sparse-smooth"`` with its default temperatures; the
    SP-DARTS hook sets them from the config); an :class:`OpWeightForm` passes through."""
    if isinstance(form, OpWeightForm):
        return form
    if form not in OP_WEIGHT_FORMS:
        raise ValueError(f"unknown op-weight form {form!r}; choose from: {', '.join(OP_WEIGHT_FORMS)}")
    return OP_WEIGHT_FORMS[form]()


def _form_hooks(config: SearchSettings) -> list[SearchHook]:
    hook = OP_WEIGHT_FORMS[config.op_weights].search_hook(config)  # e.g. GDAS' temperature schedule
    return [] if hook is None else [hook]


OP_WEIGHTS_SWITCH = Switch(
    "op_weights", summary="how the alphas become op weights: a form of OP_WEIGHT_FORMS",
    knobs=(Knob("op_weights", "how the alphas become op weights, a form of dartslib.space.op_weights.OP_WEIGHT_FORMS "
                "(softmax: DARTS; sigmoid: FairDARTS; sparse-smooth: SP-DARTS' temperature mixing; gumbel: GDAS)",
                choices=OP_WEIGHT_FORMS),),  # the registry itself: a new form is a new choice at once
    hooks=_form_hooks)
"""The switch (:class:`dartslib.hooks.Switch`) of config ``op_weights``: its choices are the names of
:data:`OP_WEIGHT_FORMS`, and it adds the hook a form's ``search_hook`` returns. SP-DARTS' temperatures are the
switch :data:`dartslib.methods.temperature.TEMPERATURE_SWITCH`."""
