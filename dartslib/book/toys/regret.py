"""Scoring the cell a toy search derives: every candidate cell trained stand-alone
(:func:`standalone_r2`, :func:`standalone_scores`), the derived cells (:func:`derived_cells`), their
:func:`regret`, and every method searching :func:`~dartslib.book.toys.teachers.discrete_teacher`
(:func:`regret_experiment`, :func:`regret_summary`)."""
from __future__ import annotations

import functools
import itertools
import math
from typing import Any, Mapping, Sequence

import torch

from dartslib.book.toys.search import ToyRun, residual_stack_search, toy_config
from dartslib.book.toys.supernet import ToySupernet, _toy_loss
from dartslib.book.toys.teachers import DISCRETE_ANSWER, WIDTH, _check_cell, _teacher_data
from dartslib.engine import steps as _steps
from dartslib.engine.steps import make_optimizers

__all__ = ["Cell", "candidate_cells", "cell_function", "standalone_r2", "standalone_scores", "pooled_scores",
           "DERIVE_RULES", "derived_cells", "regret", "regret_experiment", "regret_summary", "convs_r2",
           "regret_columns"]


# ------------------------------------------------------------------------------------------ regret
Cell = tuple[str, ...]
_STANDALONE_SEED = 20_000  # stand-alone training draws its data and weights from seed + this: not the search's


def candidate_cells(depth: int = 4, ops: Sequence[str] = ("skip", "conv")) -> list[Cell]:
    """Every discrete cell of ``depth`` edges with one op of ``ops`` each (``len(ops) ** depth`` cells), in
    :func:`itertools.product` order (``("skip",) * depth`` first)."""
    for op in ops:
        if op not in ("skip", "conv"):
            raise ValueError(f"candidate op {op!r}: candidate cells' edges are 'skip' or 'conv' "
                             "(score the cut cell with standalone_r2(..., cut=True))")
    return list(itertools.product(tuple(ops), repeat=depth))


def cell_function(cell: Sequence[str]) -> Cell:
    """The ops a cell actually applies, in order: its skips removed. Two cells with the same value compute
    the same family of functions (a skip on a chain is the identity), so they are equally right: in the
    toy's ``{skip, conv}`` space this is the number of convs. A cell with a ``none`` edge (the threshold
    rule's edge where no op passes) cuts the chain: its net is the constant 0, ``("none",)``."""
    if "none" in cell:
        return ("none",)
    return tuple(op for op in cell if op != "skip")


def standalone_r2(answer: Sequence[str] | None = DISCRETE_ANSWER, *, cells: Sequence[Sequence[str]] | None = None,
                  seeds: Sequence[int] = range(8), depth: int | None = None, strength: float = 1.5,
                  steps: int = 400, samples: int = 4096, batch: int = 64, lr: float = 0.1,
                  cut: bool = False) -> dict[Cell, torch.Tensor]:
    """Train every candidate cell stand-alone on the teacher and return its held-out R^2 per seed,
    ``{cell: (S,)}``: the reference a derived cell's regret is measured against.

    A cell is trained as its derived net would be -- only its ops, each with weight 1 -- from scratch with
    the search's weight optimiser (SGD, ``lr``, momentum 0.9, weight decay 3e-4, ``steps`` batches of
    ``batch``) on ``samples`` fresh training samples, and scored on ``samples`` held-out ones
    (R^2 = 1 - MSE / Var(y), as :func:`discretization_scores`). Per seed, every cell sees the same data,
    batches and per-edge initial weights (common random numbers: the cells' differences are not the draws'),
    drawn from ``_STANDALONE_SEED + seed``, apart from the searches' seeds.

    Args:
        answer: the :func:`discrete_teacher`'s cell, or ``None`` for :func:`residual_teacher`
            (``depth``, ``strength``).
        cells: the cells to train (default :func:`candidate_cells`: all ``2 ** depth``).
        depth: edges (default ``len(answer)``, 4 for the residual teacher).
        cut: also score the cut cell ``("none",) * depth``, the net the threshold rule derives when an edge
            keeps no op (every cut cell predicts 0: one score serves them all, see :func:`regret`).

    Batched: all cells with ``k`` convs and all seeds are one :class:`ToySupernet` of ``k`` edges whose only op
    is ``conv`` (weight 1), trained by :func:`dartslib.engine.steps.weight_step` (a skip with weight 1 is the
    identity, so this is exactly the cell's own net, skips dropped); the all-skip cell
    has nothing to train (its prediction is ``x``), nor has a cell with a ``none`` edge (its prediction is 0).
    """
    if answer is not None:
        answer = _check_cell(answer)
        depth = len(answer) if depth is None else depth
        if depth != len(answer):
            raise ValueError(f"answer has {len(answer)} edges but depth is {depth}")
    depth = 4 if depth is None else depth
    cells = candidate_cells(depth) if cells is None else [_check_cell(c, "cell", allow_none=True) for c in cells]
    if cut:
        cells = [*cells, ("none",) * depth]
    for cell in cells:
        if len(cell) != depth:
            raise ValueError(f"cell {cell} has {len(cell)} edges but the teacher has {depth}")
    seeds = list(seeds)
    S = len(seeds)
    gens = [torch.Generator().manual_seed(_STANDALONE_SEED + s) for s in seeds]
    train = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
    test = [_teacher_data(samples, depth, strength, answer, g) for g in gens]
    x_tr, y_tr = torch.stack([d[0] for d in train]), torch.stack([d[1] for d in train])
    x_te, y_te = torch.stack([d[0] for d in test]), torch.stack([d[1] for d in test])
    W0 = torch.stack([torch.randn(depth, WIDTH, WIDTH, generator=g) / math.sqrt(WIDTH) for g in gens])
    idx = torch.stack([torch.randint(samples, (steps, batch), generator=g) for g in gens], 1)  # (steps, S, batch)
    var = y_te.var(dim=(1, 2), unbiased=False)
    rows = torch.arange(S)[:, None]
    out: dict[Cell, torch.Tensor] = {}
    by_convs: dict[int, list[Cell]] = {}
    for cell in dict.fromkeys(cells):
        if "none" in cell:  # the chain is cut: the net predicts 0
            out[cell] = 1 - (y_te ** 2).mean(dim=(1, 2)) / var
        else:
            by_convs.setdefault(len(cell_function(cell)), []).append(cell)
    for k, group in sorted(by_convs.items()):
        G = len(group)
        if k == 0:
            r2 = 1 - ((x_te - y_te) ** 2).mean(dim=(1, 2)) / var
            for cell in group:
                out[cell] = r2.clone()
            continue
        edges = torch.tensor([[l for l, op in enumerate(cell) if op == "conv"] for cell in group])  # (G, k)
        # the cells as a ToySupernet with one op per edge (softmax of one alpha: weight exactly 1), trained
        # by the library's weight step
        net = ToySupernet(("conv",), W0[:, edges].transpose(0, 1).reshape(G * S, k, 1, WIDTH, WIDTH).clone(),
                          torch.zeros(G * S, k, 1))
        opt, _ = make_optimizers(net, toy_config(lr=lr))  # the search's weight optimizer (the alphas stay put)
        for step in range(steps):
            xb, yb = x_tr[rows, idx[step]].repeat(G, 1, 1), y_tr[rows, idx[step]].repeat(G, 1, 1)
            _steps.weight_step(net, xb, yb, opt, None, loss_fn=_toy_loss)
        with torch.no_grad():
            pred = net(x_te.repeat(G, 1, 1)).view(G, S, *y_te.shape[1:])
            r2 = 1 - ((pred - y_te) ** 2).mean(dim=(2, 3)) / var  # (G, S)
        for cell, row in zip(group, r2):
            out[cell] = row
    return {tuple(cell): out[tuple(cell)] for cell in cells}


def standalone_scores(answer: Sequence[str] | None = DISCRETE_ANSWER, *, pool: bool = False,
                      **kwargs: Any) -> dict[Cell, float]:
    """``{cell: mean held-out R^2 over seeds}`` of :func:`standalone_r2` (same arguments).

    ``pool=True`` gives every cell the mean over the cells equivalent to it (same :func:`cell_function`):
    they are one family of functions, so their differences are training noise, and pooled, every cell
    equivalent to the best has regret 0."""
    r2 = standalone_r2(answer, **kwargs)
    scores = {cell: float(v.mean()) for cell, v in r2.items()}
    return pooled_scores(scores) if pool else scores


def pooled_scores(scores: dict[Cell, float]) -> dict[Cell, float]:
    """Each cell's score replaced by the mean score of the cells with its :func:`cell_function`."""
    classes: dict[Cell, list[float]] = {}
    for cell, v in scores.items():
        classes.setdefault(cell_function(cell), []).append(v)
    return {cell: sum(classes[cell_function(cell)]) / len(classes[cell_function(cell)]) for cell in scores}


DERIVE_RULES = ("argmax", "threshold", "own")


def derived_cells(run: ToyRun, rule: str = "argmax", threshold: float = 0.85) -> list[Cell]:
    """Every seed's derived cell, ``none`` never chosen as an op.

    Rules: ``"argmax"``, on each edge the op with the largest alpha (DARTS' rule, Liu et al., 2019, Sec. 2.4;
    for sigmoid gates and SP-DARTS' temperatures the same op as the largest op weight, the forms being
    monotone); ``"threshold"``, FairDARTS' rule as :func:`dartslib.arch.derive.derive_threshold` applies it (Chu et
    al., 2020, Sec. 4.3 and footnote 8: the strongest op whose final op weight is at least ``threshold``,
    0.85), and ``"none"`` on an edge where no op passes -- on the toy's chain that cuts the net; ``"own"``,
    the threshold rule for sigmoid runs and argmax for the others.

    The two rules disagree on FairDARTS' toy runs: every conv ends in a BN, so an edge's overall scale does
    not matter to the next conv, and the zero-one loss can drive *both* gates of an edge to about 0.01
    while the supernet still fits; argmax reads the ratio of two small gates, the threshold keeps nothing
    (on :func:`discrete_teacher`'s default answer 7 of 8 seeds derive a cut net by the threshold rule, none
    by argmax)."""
    if rule not in DERIVE_RULES:
        raise ValueError(f"unknown derivation rule {rule!r}; choose from: {', '.join(DERIVE_RULES)}")
    if rule == "own":
        rule = "threshold" if run.form == "sigmoid" else "argmax"
    keep = torch.tensor([op != "none" for op in run.ops])
    if rule == "argmax":
        scores, passing = run.alphas, keep.expand_as(run.alphas)
    else:
        scores, passing = run.op_weights, keep & (run.op_weights >= threshold)
    best = scores.masked_fill(~passing, -math.inf).argmax(-1)
    cut = ~passing.any(-1)
    return [tuple("none" if c else run.ops[m] for m, c in zip(row, cut_row))
            for row, cut_row in zip(best.tolist(), cut.tolist())]


def regret(run_or_cell: ToyRun | Sequence[str], scores: dict[Cell, float],
           rule: str = "argmax") -> float | torch.Tensor:
    """Regret of a cell against the best stand-alone cell, ``max(scores) - scores[cell]`` (R^2 points,
    ``>= 0``): a float for a cell, ``(S,)`` for a :class:`ToyRun` (each seed's cell by ``rule``, see
    :func:`derived_cells`). A cell missing from ``scores`` gets the mean score of the cells there that are
    equivalent to it (:func:`cell_function`; a cut cell needs ``standalone_r2(..., cut=True)``)."""
    best = max(scores.values())

    edges = len(next(iter(scores)))

    def one(cell: Sequence[str]) -> float:
        cell = tuple(cell)
        if len(cell) != edges:
            raise ValueError(f"cell {cell} has {len(cell)} edges but the scored cells have {edges}")
        if cell in scores:
            return best - scores[cell]
        same = [v for c, v in scores.items() if cell_function(c) == cell_function(cell)]
        if not same:
            hint = " (a cut cell: score with standalone_r2(..., cut=True))" if "none" in cell else ""
            raise ValueError(f"cell {cell} has no stand-alone score nor an equivalent one; scores cover "
                             f"{len(scores)} cells{hint}")
        return best - sum(same) / len(same)

    if isinstance(run_or_cell, ToyRun):
        return torch.tensor([one(cell) for cell in derived_cells(run_or_cell, rule)])
    return one(run_or_cell)


def regret_experiment(seeds: Sequence[int] = range(8), answer: Sequence[str] = DISCRETE_ANSWER,
                      **kwargs: Any) -> dict[str, ToyRun]:
    """Each method of the library searching :func:`discrete_teacher` (``answer``), ``{skip, conv}``, the same
    architecture lr for all (``arch_lr``, default 1.5e-2): DARTS (softmax, Liu et al., 2019), FairDARTS
    (sigmoid with the zero-one loss, ``w01 = 10``, Chu et al., 2020), DARTS- (auxiliary skip, linear beta
    from 1, Chu et al., 2021), SP-DARTS (sparse/smooth temperatures, Zhang & Ding, 2023) and single-level
    DARTS (Hou et al., 2021). Score them with :func:`regret_summary`."""
    answer = _check_cell(answer)
    kwargs.setdefault("depth", len(answer))
    ops = ("skip", "conv")
    search = functools.partial(residual_stack_search, ops, seeds=seeds, answer=answer, **kwargs)
    return {"darts": search("softmax"),
            "fairdarts": search("sigmoid", zero_one="l01"),
            "darts-minus": search("softmax", aux_skip="linear"),
            "sp-darts": search("sparse-smooth"),
            "single-level": search("softmax", update="single-level")}


def regret_summary(runs: dict[str, ToyRun], scores: dict[Cell, float], rule: str = "argmax") -> list[dict[str, Any]]:
    """One row per run: ``method``, ``seeds``, ``rule`` (the derivation rule used, :func:`derived_cells`),
    ``cells`` (each seed's derived cell), ``convs`` (mean number of conv edges derived), ``regret`` and
    ``regret_sd`` (over seeds, R^2 points), ``right`` (fraction of seeds whose cell is equivalent to the
    run's answer, :func:`cell_function`; ``None`` without an answer)."""
    rows = []
    for name, run in runs.items():
        own = ("threshold" if run.form == "sigmoid" else "argmax") if rule == "own" else rule
        cells = derived_cells(run, own)
        r = regret(run, scores, own)
        right = (None if run.answer is None else
                 sum(cell_function(c) == cell_function(run.answer) for c in cells) / len(cells))
        rows.append({"method": name, "seeds": len(cells), "rule": own, "cells": cells,
                     "convs": sum(c.count("conv") for c in cells) / len(cells),
                     "regret": float(r.mean()), "regret_sd": float(r.std()) if len(cells) > 1 else 0.0,
                     "right": right})
    return rows


def convs_r2(scores: Mapping[Sequence[str], float]) -> dict[int, float]:
    """Stand-alone R^2 by number of convs in the cell, ``{convs: R^2}`` sorted by convs, from ``scores``
    (``cell -> R^2``, pooled: cells with equal counts are equivalent, :func:`~dartslib.book.cell_function`)."""
    return {k: v for k, v in sorted({len(cell_function(c)): v for c, v in scores.items()}.items())}


def regret_columns(runs: Mapping[str, ToyRun], scores: Mapping[Sequence[str], float],
                   teacher: str) -> dict[str, dict[tuple[str, str], Any]]:
    """``{method: {(teacher, column): value}}`` from :func:`~dartslib.book.regret_summary`: the convs
    derived, the regret and its sd over seeds, and the share of seeds that found the right cell (when the
    runs have an answer): one block of columns of chapter 7's regret table."""
    rows = {}
    for r in regret_summary(dict(runs), dict(scores)):
        row = {(teacher, "convs derived"): r["convs"], (teacher, "regret"): r["regret"],
               (teacher, "regret sd"): r["regret_sd"]}
        if r["right"] is not None:
            row[(teacher, "right cell (share of seeds)")] = r["right"]
        rows[r["method"]] = row
    return rows
