"""GDAS' op weights: one sampled op per edge, with straight-through gradients to every alpha
(Dong & Yang, 2019, "Searching for a Robust Neural Architecture in Four GPU Hours", CVPR, Sec. 3).

The worked example of the book's page "Add your own fix": a form in its own module, named by one line of
:data:`dartslib.space.op_weights.OP_WEIGHT_FORMS` (``"gumbel"``), with the hook that anneals its temperature.

On every forward pass each edge draws Gumbel noise ``g ~ Gumbel(0, 1)`` and keeps one op,
``argmax(log_softmax(alpha) + g)``: by the Gumbel-max trick the op is drawn with probability
``softmax(alpha)``, whatever the temperature. The forward pass uses the one-hot ``h`` of that op; the
backward pass uses the gradient of its relaxation ``p = softmax((log_softmax(alpha) + g) / tau)``
(``h - p.detach() + p``: the straight-through Gumbel-softmax), so every alpha of the edge gets a gradient,
not just the sampled op's. ``tau`` only shapes those gradients; :class:`GumbelAnnealing` lowers it linearly
from ``tau_max = 10`` to ``tau_min = 0.1`` over the search, the authors' schedule (``D-X-Y/AutoDL-Projects``,
``exps/NAS-Bench-201-algos/GDAS.py``: ``tau_max - (tau_max - tau_min) * epoch / (epochs - 1)``, set at the
start of each epoch, with ``--tau_max 10 --tau_min 0.1`` in its NAS-Bench-201 scripts).

Choices, paper and code against dartslib:

* Cost and gradient. GDAS computes only the sampled op of each edge; that is its speed-up. Our supernet
  computes every op and mixes them with the one-hot weights: the same forward values, DARTS' cost, and the
  exact straight-through gradient of the mixture: with ``g`` = dL/d(edge output), ``p`` the relaxed weights
  and ``k`` the sampled op, ``dL/d alpha = sum_j <g, op_j(x)> dp_j/d alpha``. The authors' code gives other
  alpha gradients, and its two search spaces differ from each other (``tests/test_gumbel.py`` computes all
  three on one edge):

  - NAS-Bench-201 (``xautodl/models/cell_searchs/search_cells.py``, ``NAS201SearchCell.forward_gdas``): the
    edge is ``h_k op_k(x) + sum_{j != k} h_j``, the unsampled weights added as scalars (0 in value), so their
    term is ``<g, 1>`` (``g`` summed) instead of ``<g, op_j(x)>``;
  - DARTS' space (same file, ``MixedOp.forward_gdas``: ``self._ops[index](x) * weights[index]``): the edge is
    ``h_k op_k(x)`` alone, so only the sampled op's weight gets a gradient, ``dL/d alpha = <g, op_k(x)>
    dp_k/d alpha``. Computing only the sampled op in our supernet would give this gradient, not ours: the
    forward values and the weights' gradients stay the same, the alphas' gradients change.
* Sampling uses torch's global random stream (``Tensor.exponential_``), which the search checkpoints, so
  an interrupted search resumes bit-identically. One draw per cell type per forward pass, shared by all
  cells of that type, as the code's NAS-Bench-201 network does (one ``hardwts`` per forward).
  The code redraws when the noise is infinite; we clamp the exponential draw to the smallest positive
  float instead (a Gumbel value of about 87 where it would be infinite: one draw in 2^24 at worst).
* Evaluation. The code evaluates the supernet on sampled paths; we evaluate (and report op weights) at the
  one-hot of each edge's argmax alpha, the architecture the search would derive (no draws, deterministic).
* Derivation on NAS-Bench-201: the argmax of ``softmax(alpha)`` per edge, as the code's ``genotype()``.
* DARTS' space: GDAS searches only the normal cell and fixes a hand-designed reduction cell (GDAS (FRC));
  we sample both cell types, as the code's plain GDAS model does. The code derives a DARTS-space cell from
  the two strongest (op, input) pairs per node (both may come from one input): the derivation rule
  ``derive="gdas"`` (:func:`dartslib.arch.derive.derive_gdas`), which the ``gdas`` preset uses;
  ``--op-weights gumbel`` alone derives with DARTS' rule.
* Schedule: ``--op-weights gumbel`` changes only the op weights; the rest of the search is DARTS' (the
  protocol's). The ``gdas`` preset (:mod:`dartslib.methods.presets`) has the code's schedule: 240 epochs on
  NAS-Bench-201 and 250 in DARTS' space, the weights stepped first, Nesterov SGD with weight decay 5e-4 and a
  per-iteration cosine, and lists what still differs.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dartslib.hooks import SearchHook, SearchSettings, StepContext
from dartslib.space.op_weight_base import OpWeightForm

__all__ = ["GumbelSoftmaxWeights", "GumbelAnnealing", "tau_schedule"]


class GumbelSoftmaxWeights(OpWeightForm):
    """Hard Gumbel-softmax op weights (GDAS): one-hot forward, ``softmax((log_softmax(A) + g) / tau)``
    backward; ``sample = False`` gives the one-hot of ``argmax A`` instead (evaluation).

    In a supernet that computes every op this is the exact straight-through gradient of the mixture, which is
    not the gradient of GDAS' code: its DARTS-space edges compute only the sampled op, so only that op's
    relaxed weight passes a gradient to the alphas (module docstring, "Cost and gradient")."""

    name = "gumbel"
    exclusive = True

    def __init__(self, tau: float = 10.0) -> None:
        if tau <= 0:
            raise ValueError(f"Gumbel-softmax temperature must be positive, got {tau}")
        self.tau, self.sample = float(tau), True

    def __call__(self, alphas: torch.Tensor) -> torch.Tensor:
        """``(num_edges, num_ops) -> (num_edges, num_ops)``, one 1 per edge."""
        if not self.sample:
            return torch.nn.functional.one_hot(alphas.argmax(-1), alphas.shape[-1]).to(alphas.dtype)
        exp = torch.empty_like(alphas).exponential_().clamp_min_(torch.finfo(alphas.dtype).tiny)
        gumbels = -exp.log()  # Gumbel(0, 1) noise, from torch's global stream
        soft = torch.softmax((alphas.log_softmax(-1) + gumbels) / self.tau, dim=-1)
        hard = torch.nn.functional.one_hot(soft.argmax(-1), alphas.shape[-1]).to(soft.dtype)
        return hard - soft.detach() + soft  # forward: hard; backward: d soft / d alphas

    def derivation_weights(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.softmax(alphas, dim=-1)  # its argmax per edge is the op derived

    @classmethod
    def search_hook(cls, config: SearchSettings) -> SearchHook:
        return GumbelAnnealing()

    def __repr__(self) -> str:
        return f"GumbelSoftmaxWeights(tau={self.tau}, sample={self.sample})"


def tau_schedule(epoch: int, epochs: int, tau_max: float = 10.0, tau_min: float = 0.1) -> float:
    """GDAS' temperature in 0-based ``epoch`` of ``epochs``: linear from ``tau_max`` (first epoch) to
    ``tau_min`` (last epoch), as the authors' code."""
    return tau_max - (tau_max - tau_min) * epoch / max(epochs - 1, 1)


class GumbelAnnealing(SearchHook):
    """Sets the :class:`GumbelSoftmaxWeights` temperature before every step (:func:`tau_schedule`; computed
    from the step's epoch, so a resumed search needs no state) and switches sampling off for evaluation."""

    def __init__(self, tau_max: float = 10.0, tau_min: float = 0.1) -> None:
        if not 0 < tau_min <= tau_max:
            raise ValueError(f"need 0 < tau_min <= tau_max, got tau_min={tau_min}, tau_max={tau_max}")
        self.tau_max, self.tau_min, self.tau = float(tau_max), float(tau_min), float(tau_max)

    def _form(self, model: nn.Module) -> GumbelSoftmaxWeights:  # the supernet (this module is below it)
        form = model.op_weight_form
        if not isinstance(form, GumbelSoftmaxWeights):
            raise TypeError(f"Gumbel annealing needs 'gumbel' op weights, the supernet has {form!r}")
        return form

    def before_step(self, model: nn.Module, ctx: StepContext) -> None:
        form = self._form(model)
        self.tau = form.tau = tau_schedule(ctx.epoch, ctx.epochs, self.tau_max, self.tau_min)
        form.sample = True

    def eval_mode(self, model: nn.Module) -> None:
        self._form(model).sample = False

    def describe(self) -> dict[str, Any]:
        return {"gumbel_tau": self.tau}
