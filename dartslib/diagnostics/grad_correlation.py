"""Single-DARTS' evidence (Hou et al., 2021, Sec. 4.2 and 5.2): gradient correlation and op-weight gradients.

**Gradient correlation** (Hou et al., 2021, Eq. 8, Fig. 2). For a node ``x_bar`` of a searchable cell, with
per-sample loss gradients ``g^j = dL(x^j) / d x_bar`` and node inputs ``x^j`` (the node's incoming edges'
inputs, concatenated), the correlation between the batch the alphas step on (``j``) and the batch the
weights step on (``k``) is::

    C = sum_j sum_k (g_arch^j . g_weight^k) (x_weight^k . x_arch^j)

which is the Frobenius inner product ``<A_arch, A_weight>`` of ``A = sum_j g^j (x^j)^T``, the gradient a
linear op on that node would get from each batch. Bi-level DARTS draws the two batches from different
data, so ``C`` is near zero; single-level (Single-DARTS) uses the same batch. :func:`gradient_correlation`
returns ``C`` (``raw``) and the scale-free cosine ``C / (||A_arch|| ||A_weight||)`` per cell and node.

**Op-weight gradients** (Hou et al., 2021, Fig. 3): ``dL / dp_i`` of the mean cross-entropy w.r.t. the op
weights of every edge, separately for each searchable cell (the supernet shares one weight tensor per cell
type; :func:`op_weight_gradients` gives each cell its own copy to differentiate). Non-learnable ops getting
the more negative gradient is what makes their weights grow under gradient descent.

Both use batch-statistics BN, as the search steps do, leave the model untouched, and move the batches to the
model's device.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dartslib.device import model_device, to_device
from dartslib.diagnostics.measures import preserved_state, set_measurement_mode

__all__ = ["searchable_cells", "GradientCorrelation", "gradient_correlation", "op_weight_gradients"]

Batch = tuple[torch.Tensor, torch.Tensor]


def searchable_cells(model: nn.Module) -> list[tuple[int, str, nn.Module]]:
    """``(position, cell_type, cell)`` of every search cell of a supernet, in network order
    (``position`` counts search cells only, 0-based)."""
    from dartslib.space.supernet import DartsSearchCell, NB201SearchCell

    out = []
    for cell in model.cells:
        if isinstance(cell, DartsSearchCell):
            out.append((len(out), "reduce" if cell.reduction else "normal", cell))
        elif isinstance(cell, NB201SearchCell):
            out.append((len(out), "cell", cell))
    return out


@dataclass
class GradientCorrelation:
    """Per searchable cell: its type, the node ids, and Eq. 8 (``raw``) and its cosine for each node."""

    cell_types: list[str]
    nodes: list[list[int]]
    raw: list[list[float]]
    cosine: list[list[float]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"cell_types": self.cell_types, "nodes": self.nodes, "raw": self.raw, "cosine": self.cosine}


def _capture(model: nn.Module, batch: Batch) -> tuple[dict, dict]:
    """One forward pass (sum-reduced loss) recording every mixed edge's input, then per-sample gradients
    of every node. Returns ``inputs[(cell, edge)] -> (B, D_in)`` and ``grads[(cell, node)] -> (B, D_out)``."""
    edges = model.space.edges
    captured: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for pos, _, cell in searchable_cells(model):
        for e, edge in enumerate(cell.edges):
            def hook(module: nn.Module, args: tuple, output: torch.Tensor, key=(pos, e)) -> None:
                captured[key] = (args[0], output)
            handles.append(edge.register_forward_hook(hook))
    try:
        x, y = to_device(batch, model_device(model))
        loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    finally:
        for h in handles:
            h.remove()
    # every edge into a node receives the node's gradient: take the first incoming edge of each node
    first_edge = {}
    for (pos, e) in captured:
        node = edges[e][0]
        first_edge.setdefault((pos, node), (pos, e))
    keys = sorted(first_edge)
    outputs = [captured[first_edge[k]][1] for k in keys]
    grads = torch.autograd.grad(loss, outputs)
    node_grads = {k: g.detach().flatten(1) for k, g in zip(keys, grads)}
    inputs = {k: v[0].detach().flatten(1) for k, v in captured.items()}
    return inputs, node_grads


def gradient_correlation(model: nn.Module, weight_batch: Batch, arch_batch: Batch) -> GradientCorrelation:
    """Eq. 8 of Hou et al. (2021) between the batch of the weight step and the batch of the alpha step, for
    every node of every searchable cell (pass the same batch twice for single-level search)."""
    edges = model.space.edges
    with preserved_state(model):
        set_measurement_mode(model, "batch")
        in_w, g_w = _capture(model, weight_batch)
        in_a, g_a = _capture(model, arch_batch)
    cells = searchable_cells(model)
    result = GradientCorrelation([ct for _, ct, _ in cells], [], [], [])
    for pos, _, _ in cells:
        nodes = sorted({to for to, _ in edges})
        raws, cosines = [], []
        for node in nodes:
            incoming = [e for e, (to, _) in enumerate(edges) if to == node]
            ga, gw = g_a[(pos, node)].double(), g_w[(pos, node)].double()
            G_aw, G_aa, G_ww = ga @ gw.T, ga @ ga.T, gw @ gw.T
            X_aw = sum(in_a[(pos, e)].double() @ in_w[(pos, e)].double().T for e in incoming)
            X_aa = sum(in_a[(pos, e)].double() @ in_a[(pos, e)].double().T for e in incoming)
            X_ww = sum(in_w[(pos, e)].double() @ in_w[(pos, e)].double().T for e in incoming)
            raw = float((G_aw * X_aw).sum())
            norm = float((G_aa * X_aa).sum().clamp_min(0).sqrt() * (G_ww * X_ww).sum().clamp_min(0).sqrt())
            raws.append(raw)
            cosines.append(raw / norm if norm > 0 else 0.0)
        result.nodes.append(nodes)
        result.raw.append(raws)
        result.cosine.append(cosines)
    return result


def op_weight_gradients(model: nn.Module, batch: Batch) -> tuple[list[str], list[np.ndarray]]:
    """``dL/dp`` of the mean cross-entropy on ``batch`` w.r.t. each searchable cell's own op weights.

    Returns ``(cell_types, grads)``: one ``(E, M)`` array per searchable cell, in network order. Their
    sum over the cells of a type is the gradient w.r.t. the shared op weights of that type.
    """
    cells = searchable_cells(model)
    leaves: dict[int, torch.Tensor] = {}
    handles = []
    for pos, _, cell in cells:
        def pre_hook(module: nn.Module, args: tuple, pos=pos) -> tuple:
            w = args[-1].detach().clone().requires_grad_(True)
            leaves[pos] = w
            return (*args[:-1], w)
        handles.append(cell.register_forward_pre_hook(pre_hook))
    with preserved_state(model):
        set_measurement_mode(model, "batch")
        try:
            x, y = to_device(batch, model_device(model))
            loss = nn.functional.cross_entropy(model(x), y)
        finally:
            for h in handles:
                h.remove()
        order = [pos for pos, _, _ in cells]
        grads = torch.autograd.grad(loss, [leaves[p] for p in order])
    return [ct for _, ct, _ in cells], [g.detach().cpu().double().numpy() for g in grads]
