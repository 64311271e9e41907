"""The chapters' toy experiments: each paper's mechanism as a few
:func:`~dartslib.book.toys.search.residual_stack_search` runs, each against the same toy with the mechanism
switched off."""
from __future__ import annotations

from typing import Any, Sequence

from dartslib.book.toys.search import ToyRun, residual_stack_search

__all__ = ["unfair_advantage_experiment", "zero_one_experiment", "aux_skip_experiment", "leakage_experiment",
           "gradient_correlation_experiment"]


# ------------------------------------------------------------------------------------------ experiments
def unfair_advantage_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """FairDARTS (Chu et al., 2020), Sec. 3.2, 4.1 and 6.1 on the toy: ``{skip, conv}`` with softmax (exclusive
    competition: skip gets most of the weight and single ops dominate edges), with sigmoid (collaboration: the conv gate
    grows along with the skip gate) and softmax without skip (``{conv, conv}``: no op takes over).

    What the toy does and does not show: a softmax cannot keep both branches of the teacher's blocks at full
    strength, and training the weights with the shares fixed gives the lowest validation loss near
    p_skip = 0.55 -- so here the skip's win is mostly the exclusive competition itself (FairDARTS' second
    factor), not a share beyond the softmax optimum. The advantage the skip draws from being useful before
    the convs are trained shows in :func:`aux_skip_experiment`: take that role away and the skip loses."""
    return {"softmax": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, **kwargs),
            "sigmoid": residual_stack_search(("skip", "conv"), "sigmoid", seeds=seeds, **kwargs),
            "no-skip": residual_stack_search(("conv", "conv"), "softmax", seeds=seeds, **kwargs)}


def zero_one_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """FairDARTS (Chu et al., 2020), Sec. 4.2 and 6.2 on the toy: sigmoid gates without a zero-one loss, with ``L01``
    (``w01 = 10``) and with the control ``L'01``; records every step (for :func:`last_crossing_steps`)."""
    kwargs.setdefault("record_every", 1)
    return {name: residual_stack_search(("skip", "conv"), "sigmoid", seeds=seeds, zero_one=zo, **kwargs)
            for name, zo in (("none", None), ("l01", "l01"), ("l01-abs", "l01-abs"))}


def aux_skip_experiment(seeds: Sequence[int] = range(8), **kwargs: Any) -> dict[str, ToyRun]:
    """DARTS- (Chu et al., 2021), Sec. 3.2 on the toy: softmax ``{skip, conv}`` without and with the auxiliary skip
    (linear beta from 1)."""
    return {"darts": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, **kwargs),
            "darts-minus": residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, aux_skip="linear",
                                                 **kwargs)}


def leakage_experiment(seeds: Sequence[int] = range(8), arch_lr: float = 3e-3, **kwargs: Any) -> dict[str, ToyRun]:
    """SP-DARTS (Zhang & Ding, 2023), Sec. II-IV on the toy: DARTS, DARTS with a large architecture lr (0.1,
    "DARTS-0.1" of Table VI), SP-DARTS' sparse/smooth mixing (t_sp = 1e-3, t_sm = 1e-2, one warm-up epoch, p from 0 to 1),
    and its two halves alone: only the smooth softmax (p = 0, i.e. DARTS at temperature t_sm) and only the
    sparse one (p = 1 from the start: the gradient saturation of Eq. 10 that the mixing is there to avoid).
    Every run uses the same architecture lr except DARTS-0.1."""
    ops = ("skip", "conv")
    return {"darts": residual_stack_search(ops, "softmax", seeds=seeds, arch_lr=arch_lr, **kwargs),
            "darts-large-arch-lr": residual_stack_search(ops, "softmax", seeds=seeds, arch_lr=0.1, **kwargs),
            "sp-darts": residual_stack_search(ops, "sparse-smooth", seeds=seeds, arch_lr=arch_lr, **kwargs),
            "smooth-only": residual_stack_search(ops, "sparse-smooth", seeds=seeds, arch_lr=arch_lr, p_up=0.0,
                                                 **kwargs),
            "sparse-only": residual_stack_search(ops, "sparse-smooth", seeds=seeds, arch_lr=arch_lr, p_low=1.0,
                                                 warmup_epochs=0, **kwargs)}


def gradient_correlation_experiment(seeds: Sequence[int] = range(8), batch: int = 16,
                                    **kwargs: Any) -> dict[str, ToyRun]:
    """Single-DARTS (Hou et al., 2021), Sec. 5.2.1, Fig. 2 on the toy: Eq. 8's correlation term along a bi-level and a
    single-level search (small batches, as the term's noise part shrinks with the batch size)."""
    return {update: residual_stack_search(("skip", "conv"), "softmax", seeds=seeds, update=update, batch=batch,
                                          grad_correlation=True, **kwargs)
            for update in ("bilevel-1st", "single-level")}
