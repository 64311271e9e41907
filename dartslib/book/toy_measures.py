"""Measurements on the toy searches of :mod:`dartslib.book.toys` that several chapters share.

Chapters 3, 5 and 7 each score a trained toy supernet with op weights of their own choosing (thresholded gates,
a softmax at another temperature, the winners alone); :func:`toy_r2` is that score, the toy's stand-in for the
papers' accuracy. (Kept beside :mod:`dartslib.book.toys`, which is being split into a package; it imports it as a
user does.)
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from dartslib.book import toys

__all__ = ["toy_r2", "argmax_one_hot", "threshold_r2", "convs_r2", "regret_columns"]


@torch.no_grad()
def toy_r2(run: toys.ToyRun, op_weights: torch.Tensor) -> torch.Tensor:
    """Validation R^2 per seed ``(S,)`` of the trained toy supernet of ``run`` with the op weights
    ``op_weights`` ``(S, L, M)`` in place of its own: ``1 - MSE / Var(y)`` on the run's validation data
    (the variance over samples and features, ``unbiased=False``, as :func:`~dartslib.book.toys.discretization_scores`)."""
    _, _, x_val, y_val = run.state["data"]
    pred = toys.toy_forward(x_val, run.ops, run.state["conv_weights"], op_weights)
    return 1 - ((pred - y_val) ** 2).mean(dim=(1, 2)) / y_val.var(dim=(1, 2), unbiased=False)


def argmax_one_hot(run: toys.ToyRun) -> torch.Tensor:
    """``(S, L, M)``: one-hot of each edge's argmax op (the op DARTS' rule keeps)."""
    return torch.nn.functional.one_hot(run.alphas.argmax(-1), len(run.ops)).float()


def threshold_r2(run: toys.ToyRun, threshold: float) -> torch.Tensor:
    """``(S,)``: :func:`toy_r2` of the network FairDARTS' rule derives, every op whose gate is at least
    ``threshold``, each with weight 1 (both ops of an edge, one, or none)."""
    return toy_r2(run, (run.op_weights >= threshold).float())


def convs_r2(scores: Mapping[Sequence[str], float]) -> dict[int, float]:
    """Stand-alone R^2 by number of convs in the cell, ``{convs: R^2}`` sorted by convs, from ``scores``
    (``cell -> R^2``, pooled: cells with equal counts are equivalent, :func:`~dartslib.book.toys.cell_function`)."""
    return {k: v for k, v in sorted({len(toys.cell_function(c)): v for c, v in scores.items()}.items())}


def regret_columns(runs: Mapping[str, toys.ToyRun], scores: Mapping[Sequence[str], float],
                   teacher: str) -> dict[str, dict[tuple[str, str], Any]]:
    """``{method: {(teacher, column): value}}`` from :func:`~dartslib.book.toys.regret_summary`: the convs
    derived, the regret and its sd over seeds, and the share of seeds that found the right cell (when the
    runs have an answer): one block of columns of chapter 7's regret table."""
    rows = {}
    for r in toys.regret_summary(dict(runs), dict(scores)):
        row = {(teacher, "convs derived"): r["convs"], (teacher, "regret"): r["regret"],
               (teacher, "regret sd"): r["regret_sd"]}
        if r["right"] is not None:
            row[(teacher, "right cell (share of seeds)")] = r["right"]
        rows[r["method"]] = row
    return rows
