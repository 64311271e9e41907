"""What rounding cannot move: a search's values before its first update, to compare a run across machines.

Two CPUs that round float32 differently write different searches from the first epoch on
(:mod:`dartslib.engine.machine`), so a committed run can be reproduced bit for bit only on a machine of the same
arithmetic. :func:`first_step_values` is what can be compared on any machine.
"""
from __future__ import annotations

from typing import Any

import torch

from dartslib.engine.config import SearchConfig
from dartslib.engine.loop import Search

__all__ = ["first_step_values"]


def first_step_values(config: SearchConfig, batch: int = 0) -> dict[str, Any]:
    """What rounding cannot move: a search's values before its first update, for comparison across machines.

    Builds the :class:`~dartslib.engine.loop.Search` of ``config`` (no output directory) and returns, from its
    initial supernet on one thread:

    - ``train_loss``: the cross-entropy of the first training batch (the weights' first step);
    - ``arch_loss``: the cross-entropy of the first architecture batch (the alphas' first step);
    - ``alpha_grad``: ``{cell type: (edges, ops) list}``, the gradient of ``arch_loss`` with respect to the
      alphas, i.e. first-order DARTS' first architecture gradient;
    - ``weight_grad_norm``: the 2-norm of the gradient of ``train_loss`` with respect to the weights;
    - ``flops``: the floating-point operations of the first batch's forward and backward pass
      (:class:`torch.utils.flop_counter.FlopCounterMode`), the size of the computation that a tolerance for
      rounding scales with.

    These depend on the initialisation, the data and its order, the supernet and the loss, but on no
    optimizer step, so two CPUs that round differently agree on them to a few float32 ulps per operation
    (the tolerance that ``tests/test_results_reproduce.py`` derives), while their searches part within an
    epoch. Batch norm is in training mode, as in the search. ``batch`` takes the ``batch``-th batch of
    either stream instead of the first (another data order: the control that must fail the comparison).
    """
    from torch.utils.flop_counter import FlopCounterMode


    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        search = Search(config, out_dir=None, progress=False)
        model = search.model.train()
        x, y = list(search.train_batches.epoch(0))[batch]
        for _ in range(batch + 1):
            xa, ya = next(search.arch_stream)
        with FlopCounterMode(display=False) as counter:
            train_loss = torch.nn.functional.cross_entropy(model(x), y)
            weight_grads = torch.autograd.grad(train_loss, list(model.weight_parameters()), allow_unused=True)
        weight_norm = torch.sqrt(sum((g.double() ** 2).sum() for g in weight_grads if g is not None))
        arch_loss = torch.nn.functional.cross_entropy(model(xa), ya)
        cell_types = list(model.arch_params)
        alpha_grads = torch.autograd.grad(arch_loss, [model.arch_params[ct] for ct in cell_types])
        return {"train_loss": train_loss.item(), "arch_loss": arch_loss.item(),
                "weight_grad_norm": weight_norm.item(), "flops": int(counter.get_total_flops()),
                "alpha_grad": {ct: g.tolist() for ct, g in zip(cell_types, alpha_grads)}}
    finally:
        torch.set_num_threads(threads)
