"""Measurements of a :class:`~dartslib.book.toys.search.ToyRun` for the discretization chapters: the supernet's and
the discretized net's R^2, the op weights' entropy, how many gates ended near 0 or 1 and when they decided; and
:func:`toy_r2`, the score of a trained toy supernet with op weights of a chapter's own choosing (chapters 3, 5 and
7: thresholded gates, a softmax at another temperature, the winners alone), the toy's stand-in for the papers'
accuracy."""
from __future__ import annotations

import torch

from dartslib.book.toys.search import ToyRun
from dartslib.book.toys.supernet import toy_forward
from dartslib.diagnostics.entropy import summed_entropy

__all__ = ["discretization_scores", "run_entropies", "near_extremes_fraction", "last_crossing_steps", "toy_r2",
           "argmax_one_hot", "threshold_r2"]


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


# ------------------------------------------------------------ scores with op weights of a chapter's choosing
@torch.no_grad()
def toy_r2(run: ToyRun, op_weights: torch.Tensor) -> torch.Tensor:
    """Validation R^2 per seed ``(S,)`` of the trained toy supernet of ``run`` with the op weights
    ``op_weights`` ``(S, L, M)`` in place of its own: ``1 - MSE / Var(y)`` on the run's validation data
    (the variance over samples and features, ``unbiased=False``, as :func:`discretization_scores`)."""
    _, _, x_val, y_val = run.state["data"]
    pred = toy_forward(x_val, run.ops, run.state["conv_weights"], op_weights)
    return 1 - ((pred - y_val) ** 2).mean(dim=(1, 2)) / y_val.var(dim=(1, 2), unbiased=False)


def argmax_one_hot(run: ToyRun) -> torch.Tensor:
    """``(S, L, M)``: one-hot of each edge's argmax op (the op DARTS' rule keeps)."""
    return torch.nn.functional.one_hot(run.alphas.argmax(-1), len(run.ops)).float()


def threshold_r2(run: ToyRun, threshold: float) -> torch.Tensor:
    """``(S,)``: :func:`toy_r2` of the network FairDARTS' rule derives, every op whose gate is at least
    ``threshold``, each with weight 1 (both ops of an edge, one, or none)."""
    return toy_r2(run, (run.op_weights >= threshold).float())
