"""The toy's two teachers: :func:`residual_teacher` (every block needs identity *and* a branch) and
:func:`discrete_teacher` (a discrete cell of the toy's space); see :mod:`dartslib.book.toys`."""
from __future__ import annotations

import functools
import math
from typing import Sequence

import torch

__all__ = ["WIDTH", "residual_teacher", "DISCRETE_ANSWER", "discrete_teacher"]

WIDTH = 16
_TEACHER_SEED = 1000


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

    What it can show: the softmax's budget -- every block needs identity *and* a branch 1.5 times as strong,
    which one softmax share per edge cannot give (Chu et al., 2020, Sec. 3.2) -- and the drift of the
    shares. What it cannot show: whether a method chooses well. No discrete cell fits it (the best of the
    16 trained stand-alone reaches held-out R^2 0.727, cells with 1 to 4 convs lie within 0.05 of each
    other), so a derived cell's score there mostly measures how sharp the op weights were; for that
    question use :func:`discrete_teacher` and :func:`regret`.
    """
    x = torch.randn(n, WIDTH, generator=generator)
    return x, _teacher_raw(x, depth, strength) / _teacher_scale(depth, strength)


DISCRETE_ANSWER = ("skip", "conv", "skip", "conv")


def _check_cell(cell: Sequence[str], name: str = "answer", allow_none: bool = False) -> tuple[str, ...]:
    cell = tuple(cell)
    if not cell:
        raise ValueError(f"{name} is empty: give one op per edge, e.g. {DISCRETE_ANSWER}")
    allowed = ("skip", "conv", "none") if allow_none else ("skip", "conv")
    for op in cell:
        if op not in allowed:
            raise ValueError(f"{name} has op {op!r}; a cell's edges are {' or '.join(map(repr, allowed))}")
    return cell


def _discrete_raw(x: torch.Tensor, answer: tuple[str, ...]) -> torch.Tensor:
    h = x
    for a, op in zip(_teacher_blocks(len(answer)), answer):
        if op == "conv":
            h = _bn(torch.relu(h) @ a.T)
    return h


@functools.lru_cache(maxsize=None)
def _discrete_scale(answer: tuple[str, ...]) -> float:
    x = torch.randn(8192, WIDTH, generator=torch.Generator().manual_seed(_TEACHER_SEED + 1))
    return _discrete_raw(x, answer).std().item()


def discrete_teacher(n: int, answer: Sequence[str] = DISCRETE_ANSWER,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of a teacher that *is* a discrete cell of the toy's space: ``x (n, 16) ~ N(0, I)``,
    ``y (n, 16)`` of unit variance overall.

    Edge ``l`` of ``answer`` is ``h_{l+1} = h_l`` (``"skip"``) or ``h_{l+1} = BN(relu(h_l) A_l^T)``
    (``"conv"``, the same fixed ``A_l`` as :func:`residual_teacher`'s blocks): the student's ops with weight 1
    and nothing else (strength 1 for the answer's op, 0 for the other), so the right discrete cell fits it
    exactly and every other cell has too few or too many convs. Measured (:func:`standalone_scores`, 8
    seeds, 400 steps): for the default answer the 6 right cells reach held-out R^2 0.940-0.949, the best
    wrong one 0.879; for ``skip, skip, skip, conv`` 1.000 vs 0.896; for ``conv, conv, conv, skip`` only
    0.831-0.844 vs 0.806 (three chained convs train less well in 400 steps).

    What it can show: whether a search derives the right cell, scored by regret against cells trained
    stand-alone (:func:`standalone_scores`, :func:`regret`) -- which :func:`residual_teacher` cannot, since
    no discrete cell fits that one. What it cannot show: *which* edges should skip. The toy is a chain and a
    skip is the identity, so every cell with the same number of convs computes the same family of functions
    (:func:`cell_function`): the answer is identified up to where its skips sit, and "the right cell" means
    any cell equivalent to ``answer``. Nor does it show the softmax budget of a block that needs both
    branches (:func:`residual_teacher`'s point, Chu et al., 2020, Sec. 3.2).
    """
    answer = _check_cell(answer)
    x = torch.randn(n, WIDTH, generator=generator)
    return x, _discrete_raw(x, answer) / _discrete_scale(answer)


def _teacher_data(n: int, depth: int, strength: float, answer: tuple[str, ...] | None,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if answer is None:
        return residual_teacher(n, depth, strength, generator)
    return discrete_teacher(n, answer, generator)
