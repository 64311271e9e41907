"""Diagnostics of a search: the quantities the four papers plot to show collapse, computed, not drawn.

Everything here is a plain function of op weights, genotypes or a supernet and a few batches; drawing
lives in :mod:`dartslib.viz.plots`, recording during a search in :mod:`dartslib.diagnostics.recording`. The costlier
measurements have their own modules: :mod:`dartslib.diagnostics.hessian` (dominant Hessian eigenvalue w.r.t. the
alphas), :mod:`dartslib.diagnostics.landscape` (validation-accuracy landscape), :mod:`dartslib.diagnostics.grad_correlation`
(Single-DARTS' gradient correlation and the gradients of the op weights).

From op weights (``{cell_type: (num_edges, num_ops)}`` tensors, arrays or nested lists):

* :func:`ies` - summed entropy of the per-edge op distributions (SP-DARTS, Zhang & Ding, 2023, Eq. 21);
  ``E * log M`` for uniform weights.
* :func:`dominant_ops` - how many edges each op leads: the argmax for exclusive (softmax-like) forms,
  every op with ``sigma > threshold`` (0.75) for sigmoid (FairDARTS, Chu et al., 2020, footnote 5). The
  stacked-area plots of Chu et al. (2020), Fig. 1, 2 and 7 are these counts over the epochs.
* :func:`boundary_epoch` - where an op's weight on an edge turns from falling to rising, the
  *boundary epoch* of Chu et al. (2020), Fig. 3.

From a derived architecture: :func:`genotype_op_counts`, :func:`skip_count` and
:func:`num_parametric` (``#P``, the parametric ops of the normal cell, Chu et al., 2021, Table 8).

From a supernet: :func:`one_hot_op_weights` turns a derived architecture into op weights that make the
supernet compute exactly that architecture (every unchosen op weighted 0, every chosen op 1), and
:func:`discretization_gap` compares the supernet's accuracy with its own one-hot version, without
retraining (Zhang & Ding, 2023, Fig. 3b).

Every function here that takes a model and batches moves the batches to the model's device
(:mod:`dartslib.device`), so batches built on the CPU measure a model on CUDA.

Measurements never change the model: :func:`preserved_state` restores the training flag, every buffer
(BN running statistics) and the torch random state afterwards, and the alphas are never written
(perturbed or discretised weights go through ``model(x, op_weights=...)``).
"""
from __future__ import annotations

import math
from collections import Counter
from contextlib import contextmanager
from typing import Any, ContextManager, Iterable, Iterator, Mapping, Sequence, Union

import numpy as np
import torch
from torch import nn

from dartslib.device import batches_on, model_device, to_device
from dartslib.diagnostics.entropy import edge_entropies
from dartslib.arch.architecture import ArchitectureLike, parse_architecture
from dartslib.arch.genotype import Genotype
from dartslib.space.extensions import supernet_only_off
from dartslib.space.ops import PARAMETER_FREE_OPS
from dartslib.space.spaces import NB201_EDGES, SearchSpace, get_space

__all__ = [
    "WeightsLike", "as_arrays", "edge_entropy", "ies", "dominant_ops", "DOMINANCE_THRESHOLD",
    "genotype_op_counts", "cell_edges", "skip_count", "num_parametric", "boundary_epoch", "is_exclusive",
    "one_hot_op_weights", "preserved_state", "set_measurement_mode", "without_auxiliary_skips", "accuracy",
    "discretization_gap", "take_batches",
]

WeightsLike = Mapping[str, Union[torch.Tensor, np.ndarray, Sequence[Sequence[float]]]]
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]

DOMINANCE_THRESHOLD = 0.75
"""FairDARTS' sigma threshold for calling a sigmoid weight dominant (Chu et al., 2020, footnote 5)."""


# ------------------------------------------------------------------------------------ op-weight quantities

def as_arrays(op_weights: WeightsLike) -> dict[str, np.ndarray]:
    """``{cell_type: (E, M) float64 array}`` from tensors, arrays or nested lists."""
    out = {}
    for cell_type, w in op_weights.items():
        if isinstance(w, torch.Tensor):
            w = w.detach().cpu().double().numpy()
        out[cell_type] = np.asarray(w, dtype=np.float64)
        if out[cell_type].ndim != 2:
            raise ValueError(f"{cell_type} op weights must be 2-D (edges, ops), got shape {out[cell_type].shape}")
    return out


def edge_entropy(op_weights: WeightsLike, normalize: bool = True) -> dict[str, np.ndarray]:
    """Entropy (nats) of each edge's op distribution: ``{cell_type: (E,)}``.

    With ``normalize`` each row is divided by its sum first, so non-exclusive weights (sigmoid) are read
    as a distribution too; softmax rows already sum to 1. ``0 log 0 = 0``.
    """
    out = {}
    for cell_type, w in as_arrays(op_weights).items():
        if np.any(w < 0):
            raise ValueError(f"{cell_type} op weights must be non-negative to have an entropy")
        p = w / w.sum(axis=1, keepdims=True) if normalize else w
        out[cell_type] = edge_entropies(p).numpy()
    return out


def ies(op_weights: WeightsLike, normalize: bool = True, cell_types: Sequence[str] | None = None) -> float:
    """Information entropy summation (Zhang & Ding, 2023, Eq. 21): ``-sum_e sum_m a_e^m log a_e^m`` over every edge
    of every cell type (or of ``cell_types``). Uniform weights on ``E`` edges of ``M`` ops give ``E log M``;
    one-hot weights give 0."""
    entropies = edge_entropy(op_weights, normalize)
    keys = list(cell_types) if cell_types is not None else list(entropies)
    return float(sum(entropies[k].sum() for k in keys))


def is_exclusive(form: str | Any | None, op_weights: WeightsLike | None = None) -> bool:
    """Whether an op-weight form makes the ops of an edge compete (softmax-like) or not (sigmoid).

    ``form`` is a form name (``"softmax"``, ``"sigmoid"``, ...), an :class:`~dartslib.space.op_weights.OpWeightForm`
    or None; an unknown name is decided from ``op_weights`` (rows summing to 1 mean exclusive).
    """
    from dartslib.space.op_weights import OP_WEIGHT_FORMS, OpWeightForm

    if isinstance(form, OpWeightForm):
        return bool(form.exclusive)
    if isinstance(form, str) and form in OP_WEIGHT_FORMS:
        return bool(OP_WEIGHT_FORMS[form].exclusive)
    if isinstance(form, str) and "sigmoid" in form:
        return False
    if op_weights is not None:
        return all(np.allclose(w.sum(axis=1), 1.0, atol=1e-4) for w in as_arrays(op_weights).values())
    return True


def dominant_ops(op_weights: WeightsLike, space: str | SearchSpace, exclusive: bool = True,
                 threshold: float = DOMINANCE_THRESHOLD) -> dict[str, dict[str, int]]:
    """How many edges each op leads, per cell type: ``{cell_type: {op: count}}`` (every op of the cell type
    listed, zeros included, in :meth:`SearchSpace.op_names` order).

    Exclusive forms: the argmax op of every edge (one per edge; ``none`` counts). Non-exclusive forms
    (sigmoid): every op with weight ``> threshold`` (Chu et al., 2020, footnote 5), so an edge may count
    several ops or none.
    """
    space = get_space(space)
    out: dict[str, dict[str, int]] = {}
    for cell_type, w in as_arrays(op_weights).items():
        counts = dict.fromkeys(space.op_names(cell_type), 0)
        for e in range(w.shape[0]):
            ops = space.ops_of(cell_type, e)
            chosen = [int(np.argmax(w[e]))] if exclusive else [k for k in range(len(ops)) if w[e, k] > threshold]
            for k in chosen:
                counts[ops[k]] += 1
        out[cell_type] = counts
    return out


def boundary_epoch(values: Sequence[float], epochs: Sequence[int] | None = None,
                   min_rise: float = 0.05) -> int | None:
    """The boundary epoch of one op on one edge (Chu et al., 2020, Fig. 3): the epoch of the op's lowest weight,
    after which it rises. None if the op never rises by ``min_rise`` (relative: 0.05 = 5 %) above that
    low, ends no higher than it, or if the low is the last epoch.

    ``values``: the op's weight per recorded epoch; ``epochs``: their epoch numbers (default 1, 2, ...).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return None
    epochs = list(epochs) if epochs is not None else list(range(1, v.size + 1))
    low = int(np.argmin(v))
    if low == v.size - 1 or v[low + 1:].max() - v[low] < min_rise * abs(v[low]) or v[-1] <= v[low]:
        return None
    return int(epochs[low])


# ------------------------------------------------------------------------------------ genotype quantities

def cell_edges(genotype: ArchitectureLike, cell: str) -> list[tuple[str, int, int]]:
    """``(op, to, from)`` of one cell, as :meth:`Genotype.edges <dartslib.arch.genotype.Genotype.edges>`
    (``"normal"``/``"reduce"``) or :meth:`NB201Arch.edges <dartslib.arch.architecture.NB201Arch.edges>`
    (``"cell"``: all 6 edges, ``none`` included). Cells with no edge (the threshold rule keeps nothing
    early in a FairDARTS search) are allowed and give ``[]``."""
    return parse_architecture(genotype, allow_empty=True).edges(cell)


def _cells_of(genotype: ArchitectureLike) -> dict[str, list[str]]:
    """``{cell: [op per kept edge]}``; an NB201 string gives ``{"cell": [6 ops]}`` (``none`` included)."""
    arch = parse_architecture(genotype, allow_empty=True)
    return {cell: [op for op, _, _ in arch.edges(cell)] for cell in arch.cells}


def genotype_op_counts(genotype: Genotype | str) -> dict[str, dict[str, int]]:
    """``{cell: {op: count}}`` of a derived architecture (DARTS genotype or text, or an NB201 string)."""
    return {cell: dict(Counter(ops)) for cell, ops in _cells_of(genotype).items()}


def _main_cell(genotype: Genotype | str, cell: str | None) -> list[str]:
    cells = _cells_of(genotype)
    cell = cell or ("cell" if "cell" in cells else "normal")
    if cell not in cells:
        raise ValueError(f"genotype has cells {sorted(cells)}, not {cell!r}")
    return cells[cell]


def skip_count(genotype: Genotype | str, cell: str | None = None) -> int:
    """Skip connections in the normal cell (or ``cell``; NB201: its one cell)."""
    return sum(op == "skip_connect" for op in _main_cell(genotype, cell))


def num_parametric(genotype: Genotype | str, cell: str | None = None) -> int:
    """``#P``: parametric ops in the normal cell (Chu et al., 2021, Table 8, after Bi et al. 2019); NB201:
    in its one cell. Parameter-free ops are :data:`dartslib.space.ops.PARAMETER_FREE_OPS`."""
    return sum(op not in PARAMETER_FREE_OPS for op in _main_cell(genotype, cell))


# ------------------------------------------------------------------------------------ one-hot weights

def one_hot_op_weights(genotype: Genotype | str, space: str | SearchSpace,
                       like: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Op weights that make a supernet compute exactly the derived architecture ``genotype``.

    Every kept ``(op, to, from)`` edge gets weight 1 on its op's column, everything else 0, so each node
    sums exactly its kept edges (DARTS pairs, FairDARTS triples, or the 6 ops of an NB201 string, where a
    ``none`` edge adds zeros as in the benchmark). ``like``: tensors whose dtype and device to use.

    A FairDARTS node left with no input computes zeros in the supernet, whereas the evaluation network
    drops it from the concatenation; every other case is the derived cell itself.
    """
    space = get_space(space)
    weights: dict[str, torch.Tensor] = {}
    for cell_type in space.cell_types:
        ref = like[cell_type] if like is not None else None
        w = torch.zeros(len(space.edge_ops[cell_type]), space.num_ops(cell_type),
                        dtype=ref.dtype if ref is not None else torch.float32,
                        device=ref.device if ref is not None else None)
        weights[cell_type] = w
    arch = parse_architecture(genotype, allow_empty=True)
    if arch.topology != space.topology:
        raise ValueError("an NB201 space needs an NB201 architecture string" if space.topology == "nb201" else
                         f"space {space.name!r} needs a DARTS genotype, not an NB201 architecture string")
    index = {edge: e for e, edge in enumerate(space.edges)}
    for cell_type in space.cell_types:
        for op, to, src in arch.edges(cell_type):
            if (to, src) not in index:
                raise ValueError(f"{cell_type} edge {to}<-{src} is not an edge of space {space.name!r}")
            e = index[(to, src)]
            weights[cell_type][e, _column(space, cell_type, e, op)] = 1.0
    return weights


def _column(space: SearchSpace, cell_type: str, edge: int, op: str) -> int:
    ops = space.ops_of(cell_type, edge)
    if op not in ops:
        edges = NB201_EDGES if space.topology == "nb201" else space.edges
        raise ValueError(f"op {op!r} is not a candidate of {cell_type} edge {edges[edge][0]}<-{edges[edge][1]} "
                         f"in space {space.name!r} (candidates: {', '.join(ops)})")
    return ops.index(op)


# ------------------------------------------------------------------------------------ measuring a supernet

@contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Run measurements on ``model`` and leave it exactly as it was: the training flag, every buffer (BN
    running statistics and counters) and the torch CPU (and CUDA) random state are restored on exit.

    Parameters are not copied: measurements must not write them (use ``op_weights=`` overrides and
    ``torch.autograd.grad``, which leaves ``.grad`` alone).
    """
    training = model.training
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    cpu_rng = torch.get_rng_state()
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    cuda_rng = [torch.cuda.get_rng_state(d) for d in devices]
    try:
        yield model
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                if name in buffers:
                    b.copy_(buffers[name])
        model.train(training)
        torch.set_rng_state(cpu_rng)
        for d, state in zip(devices, cuda_rng):
            torch.cuda.set_rng_state(state, d)


def take_batches(batches: Batches, max_batches: int | None = None,
                 max_samples: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``max_batches`` batches (all if None), cut to ``max_samples`` images in total."""
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    left = max_samples
    for x, y in batches:
        if max_batches is not None and len(out) >= max_batches:
            break
        if left is not None:
            if left <= 0:
                break
            x, y = x[:left], y[:left]
            left -= len(y)
        out.append((x, y))
    if not out:
        raise ValueError("no batch to measure on")
    return out


def set_measurement_mode(model: nn.Module, bn: str = "batch") -> None:
    """Eval mode for everything, except that with ``bn="batch"`` the BN layers normalise with the batch's
    statistics (as in a search step; the running statistics they update are restored by
    :func:`preserved_state`). Training-time randomness (e.g. noise on skip connections) stays off, so a
    measurement is a deterministic function of the batch."""
    if bn not in ("batch", "running"):
        raise ValueError(f"bn must be 'batch' (batch statistics) or 'running' (running statistics), got {bn!r}")
    model.eval()
    if bn == "batch":
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.train()


def without_auxiliary_skips(model: nn.Module) -> ContextManager[nn.Module]:
    """Switch off, for the block, every edge extension a derived architecture does not have (DARTS-' auxiliary
    skips, :attr:`dartslib.space.extensions.EdgeExtension.supernet_only`): the discretised supernet then
    computes what the derived cells compute. :func:`dartslib.space.extensions.supernet_only_off`."""
    return supernet_only_off(model)


def accuracy(model: nn.Module, batches: Batches, op_weights: Mapping[str, torch.Tensor] | None = None,
             bn: str = "batch") -> tuple[float, float]:
    """Mean cross-entropy and accuracy (%) of a supernet over ``batches``, optionally with overriding
    ``op_weights``. The model is left untouched (:func:`preserved_state`).

    ``bn="batch"`` normalises with each batch's statistics (as in search steps: a discretised supernet is
    not judged by running statistics gathered under mixed weights); ``"running"`` uses the running
    statistics (eval mode, like the search's own validation accuracy).
    """
    loss_sum = correct = count = 0.0
    with preserved_state(model), torch.no_grad():
        set_measurement_mode(model, bn)
        for x, y in batches_on(batches, model_device(model)):
            logits = model(x) if op_weights is None else model(x, op_weights=dict(op_weights))
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            count += len(y)
    if count == 0:
        raise ValueError("no batch to measure on")
    return loss_sum / count, 100.0 * correct / count


def recalibrate_bn(model: nn.Module, batches: Batches, op_weights: Mapping[str, torch.Tensor] | None = None
                   ) -> nn.Module:
    """Re-estimate every BN layer's running statistics for the network that ``op_weights`` select: reset
    them, then average the batch statistics of forward passes over ``batches`` (cumulative average,
    ``momentum=None``; no gradients, no parameter changes). Statistics gathered under mixed op weights do not
    fit a one-hot network, so a discretised supernet judged with them (or with one batch's statistics) can sit
    near chance for reasons that have nothing to do with the cell; re-estimating BN on training images, as
    one-shot NAS does before evaluating a subnetwork with inherited weights (Guo et al., 2020, Single Path
    One-Shot), removes that part. Writes the model's buffers: wrap the call in :func:`preserved_state` to
    undo it. Returns ``model``.
    """
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        raise ValueError("the model has no BN layer with running statistics to recalibrate")
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    try:
        set_measurement_mode(model, "batch")
        seen = 0
        with torch.no_grad():
            for x, _ in batches_on(batches, model_device(model)):
                model(x) if op_weights is None else model(x, op_weights=dict(op_weights))
                seen += 1
        if seen == 0:
            raise ValueError("no batch to recalibrate BN on")
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return model


def finetuned_accuracy(model: nn.Module, batches: Batches, train_batches: Batches,
                       op_weights: Mapping[str, torch.Tensor] | None = None, lr: float = 0.025,
                       momentum: float = 0.9) -> tuple[float, float]:
    """Loss and accuracy (%) on ``batches`` of the network ``op_weights`` select after a few SGD steps on its
    operation weights, one per batch of ``train_batches`` (the op weights and alphas stay fixed), then BN
    re-estimated on the same batches (:func:`recalibrate_bn`). A copy is trained: ``model`` is untouched.
    This is how a discretised supernet is judged when its inherited weights, co-adapted to mixed op weights,
    put the one-hot net near chance even with fresh BN statistics: the drop left after a short fine-tuning
    says how far the derived cell is from what the supernet computed, which the untuned drop cannot once it
    saturates (FairDARTS' and DARTS' one-hot supernets both sit near chance at 8x8)."""
    import copy

    train_batches = to_device(list(train_batches), model_device(model))
    net = copy.deepcopy(model)
    params = [p for p in net.weight_parameters()] if hasattr(net, "weight_parameters") else list(net.parameters())
    optimizer = torch.optim.SGD(params, lr, momentum=momentum)
    fixed = None if op_weights is None else {k: v.detach() for k, v in op_weights.items()}
    with preserved_state(net), without_auxiliary_skips(net):
        set_measurement_mode(net, "batch")
        for x, y in train_batches:
            optimizer.zero_grad(set_to_none=True)
            logits = net(x) if fixed is None else net(x, op_weights=dict(fixed))
            nn.functional.cross_entropy(logits, y).backward()
            optimizer.step()
        recalibrate_bn(net, train_batches, fixed)
        return accuracy(net, batches, fixed, "running")


def discretization_gap(model: nn.Module, batches: Batches, genotype: Genotype | str | None = None,
                       rule: str | None = None, derive_options: Mapping[str, Any] | None = None,
                       bn: str = "batch", calibration_batches: Batches | None = None,
                       keep_weight: bool = False) -> dict[str, Any]:
    """The supernet's accuracy against the accuracy of the same supernet with its op weights made one-hot at
    the derived architecture, without retraining (Zhang & Ding, 2023, Fig. 3b).

    ``genotype``: the derived architecture; by default derived from the current op weights with ``rule``
    and ``derive_options`` (see :func:`dartslib.arch.derive.derive`). Returns ``supernet_acc``,
    ``supernet_loss``, ``discrete_acc``, ``discrete_loss``, ``gap`` (= supernet_acc - discrete_acc, in
    points) and the ``genotype`` text.

    ``bn``: ``"batch"`` (each batch's statistics), ``"running"`` (the statistics the search gathered under
    mixed weights, which do not fit the one-hot net) or ``"recalibrate"``: each of the two networks first
    re-estimates its BN statistics on ``calibration_batches`` (training data; :func:`recalibrate_bn`), then
    is measured with them. ``keep_weight=True``: the discrete net keeps the derived op at its trained weight
    and zeroes the others instead of setting it to 1: the control that separates the losers' contribution
    (information leakage, Zhang & Ding, 2023, Sec. 3) from the rescaling of the winner to 1.
    """
    from dartslib.arch.derive import derive

    if bn == "recalibrate" and calibration_batches is None:
        raise ValueError('bn="recalibrate" needs calibration_batches (training batches to re-estimate BN on)')
    if bn not in ("batch", "running", "recalibrate"):
        raise ValueError(f"bn must be 'batch', 'running' or 'recalibrate', got {bn!r}")
    batches = list(batches)
    space = model.space
    with torch.no_grad():
        weights = model.op_weights()
    if genotype is None:  # as the search derives it (SP-DARTS' form derives at t_sp, not at its current t)
        with torch.no_grad():
            derivation = model.derivation_weights()
        genotype = derive(derivation, space, rule, **dict(derive_options or {}))
    discrete = one_hot_op_weights(genotype, space, like=weights)
    if keep_weight:
        discrete = {ct: w * discrete[ct] for ct, w in weights.items()}
    if bn == "recalibrate":
        calibration = list(calibration_batches)
        with preserved_state(model):
            recalibrate_bn(model, calibration)
            s_loss, s_acc = accuracy(model, batches, None, "running")
        with preserved_state(model), without_auxiliary_skips(model):
            recalibrate_bn(model, calibration, discrete)
            d_loss, d_acc = accuracy(model, batches, discrete, "running")
    else:
        s_loss, s_acc = accuracy(model, batches, None, bn)
        with without_auxiliary_skips(model):
            d_loss, d_acc = accuracy(model, batches, discrete, bn)
    return {"supernet_acc": s_acc, "supernet_loss": s_loss, "discrete_acc": d_acc, "discrete_loss": d_loss,
            "gap": s_acc - d_acc, "genotype": str(genotype)}


def _finite(x: float) -> float | None:
    """JSON-safe float: NaN and infinities become None."""
    return float(x) if math.isfinite(x) else None
