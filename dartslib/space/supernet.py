"""The one-shot supernet: every edge mixes all its candidate ops with weights formed from the alphas.

One :class:`Supernet` base holds the architecture parameters, one ``(num_edges, num_ops)`` tensor per
cell type initialised to ``1e-3 * randn`` (Liu et al., 2019), and the pluggable op-weight form
(:mod:`dartslib.space.op_weights`). Two macro skeletons share it: :class:`DartsSupernet` (DARTS CIFAR
network of two-input cells, used by "darts", "darts-nonone" and RobustDARTS S1-S4) and
:class:`NB201Supernet` (NAS-Bench-201's three-stage network).

``model.parameters()`` yields the network weights and the alphas; optimizers should use
``model.weight_parameters()`` and ``model.arch_parameters()``.

Methods change the supernet without subclassing it, through the extension point of
:mod:`dartslib.space.extensions`: an :class:`~dartslib.space.extensions.EdgeExtension` injected into an edge
changes its forward pass (DARTS-' auxiliary skip, the skip noise, PC-DARTS' partial channels), and an
:class:`~dartslib.space.extensions.ArchExtension` adds architecture parameters beside the alphas (PC-DARTS'
edge betas). Neither the edges nor the supernet hold any method's state.
"""
from __future__ import annotations

from typing import Hashable, Iterator, Sequence

import torch
from torch import nn

from dartslib.space.extensions import ArchExtension, EdgeExtension
from dartslib.space.op_weights import OpWeightForm, build_op_weight_form
from dartslib.space.ops import FactorizedReduce, PoolBN, ReLUConvBN, ResNetBasicBlock, build_op
from dartslib.space.spaces import SearchSpace, get_space

__all__ = ["NodeShare", "MixedEdge", "DartsSearchCell", "NB201SearchCell", "Supernet", "DartsSupernet",
           "NB201Supernet", "build_supernet"]


class NodeShare:
    """What every edge leaving one node computes alike, computed once per node (training mode only).

    * ``relu``: ``relu(x)``, the first layer of every conv op (ReLU-Conv-BN, sep/dil convs,
      FactorizedReduce); ops take it through their ``forward_from_relu``.
    * pooling + affine-free BN: in training mode BN normalises with the batch's own statistics, so
      ``PoolBN(x)`` is the same tensor on every edge leaving the node (at the same stride). The first edge
      computes it; the others reuse it and copy the first one's updated running statistics into their own
      BN, so every edge's buffers (and ``state_dict``) hold exactly what computing them separately gives.
    * ``derived``: the shares of inputs that an edge extension derives from ``x`` in the same way on every edge
      leaving the node (PC-DARTS' channel slice), keyed by the extension, so that they too are computed once.
    """

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x
        self._relu: torch.Tensor | None = None
        self.pooled: dict[tuple[str, int], tuple[torch.Tensor, nn.BatchNorm2d]] = {}
        self.derived: dict[Hashable, NodeShare] = {}  # shares of inputs an edge extension derives from x alike

    @property
    def relu(self) -> torch.Tensor:
        if self._relu is None:
            self._relu = torch.relu(self.x)
        return self._relu


@torch.no_grad()
def _copy_running_stats(source: nn.BatchNorm2d, target: nn.BatchNorm2d) -> None:
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        buffer = getattr(target, name)
        if buffer is not None:
            buffer.copy_(getattr(source, name))


class MixedEdge(nn.Module):
    """``sum_i w_i * op_i(x)`` over the edge's candidate ops (the continuous relaxation, DARTS Eq. 2).

    ``(B, C, H, W), (num_ops,) -> (B, C, H / stride, W / stride)``.
    Search ops use affine-free BN; ``pool_bn`` adds an affine-free BN after pooling (DARTS-topology
    spaces, as DARTS' ``MixedOp``; not NAS-Bench-201, whose search cell pools without BN). ``none`` outputs zeros, so its term is left out
    of the sum: the output and every gradient are the same, without the work.

    The edge carries no method's state. A method that changes its forward pass (a branch, noise on an op,
    partial channels) injects an :class:`~dartslib.space.extensions.EdgeExtension` into ``extensions``
    (:func:`~dartslib.space.extensions.attach_extension`); without one the edge computes the plain sum above.
    :meth:`build_ops` rebuilds the ops on fewer channels for an extension that feeds them part of the input.
    """

    def __init__(self, op_names: Sequence[str], C: int, stride: int, pool_bn: bool = True) -> None:
        super().__init__()
        self.op_names = tuple(op_names)
        self.C, self.stride, self.pool_bn = C, stride, pool_bn
        self.ops = self.build_ops(C)
        self.computed = [i for i, name in enumerate(self.op_names) if name != "none"] or [0]
        self.skip_index = self.op_names.index("skip_connect") if "skip_connect" in self.op_names else None
        self.extensions = nn.ModuleDict()  # name -> EdgeExtension (dartslib.space.extensions), in the order attached

    def build_ops(self, C: int) -> nn.ModuleList:
        """The edge's candidate ops on ``C`` channels (the edge's own ``C`` when built; an extension that feeds
        them part of the channels assigns ``edge.ops = edge.build_ops(C // K)``)."""
        return nn.ModuleList(build_op(name, C, self.stride, affine=False, pool_bn=self.pool_bn)
                             for name in self.op_names)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, share: NodeShare | None = None) -> torch.Tensor:
        """``share`` (the cell passes it in training mode) lets edges leaving the same node reuse the ReLU
        and pooling outputs of that node; the result is the same with or without it."""
        if not self.extensions:
            return self.mix(x, weights, share)
        active = [e for e in self.extensions.values() if e.active]
        return self._extended(active, 0, x, weights, share)

    def _extended(self, active: list[EdgeExtension], k: int, x: torch.Tensor, weights: torch.Tensor,
                  share: NodeShare | None) -> torch.Tensor:
        if k == len(active):
            return self.mix(x, weights, share, active)
        return active[k].forward_edge(self, x, weights, share,
                                      lambda x_, w_, s_: self._extended(active, k + 1, x_, w_, s_))

    def mix(self, x: torch.Tensor, weights: torch.Tensor, share: NodeShare | None = None,
            extensions: Sequence[EdgeExtension] = ()) -> torch.Tensor:
        """The weighted sum of the ops on ``x`` ``(B, C_ops, H, W)``, each op's output first passed through the
        ``op_output`` of the ``extensions`` that change it."""
        out = None
        for i in self.computed:
            y = self.ops[i](x) if share is None else self._shared_op(i, share)
            for extension in extensions:
                if extension.changes_op(self, i, self.training):
                    y = extension.op_output(self, i, y)
            out = weights[i] * y if out is None else torch.addcmul(out, weights[i], y)  # fused w * y + out
        return out

    def _shared_op(self, i: int, share: NodeShare) -> torch.Tensor:
        op = self.ops[i]
        if isinstance(op, PoolBN) and op[1].training:
            key = (self.op_names[i], self.stride)
            if key in share.pooled:
                pooled, first_bn = share.pooled[key]
                _copy_running_stats(first_bn, op[1])
                return pooled
            pooled = op(share.x)
            share.pooled[key] = (pooled, op[1])
            return pooled
        if hasattr(op, "forward_from_relu"):
            return op.forward_from_relu(share.relu)
        return op(share.x)


class DartsSearchCell(nn.Module):
    """A DARTS search cell: inputs = outputs of the two previous cells, ``steps`` intermediate nodes,
    node ``i`` = sum of mixed edges from all earlier nodes; output = concat of the intermediate nodes.

    ``(B, C_pp, H, W), (B, C_p, H, W), (E, M) -> (B, steps * C, H', W')`` with ``H' = H/2`` in a
    reduction cell (its edges from the two inputs have stride 2).
    """

    def __init__(self, edge_ops: Sequence[Sequence[str]], steps: int, C_pp: int, C_p: int, C: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.steps = steps
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(C_pp, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_pp, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList()
        edge = 0
        for i in range(steps):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                self.edges.append(MixedEdge(edge_ops[edge], C, stride))
                edge += 1

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        shares = [NodeShare(h) if self.training else None for h in states]
        offset = 0
        for _ in range(self.steps):
            node = None
            for j, h in enumerate(states):
                y = self.edges[offset + j](h, weights[offset + j], shares[j])
                node = y if node is None else node + y
            offset += len(states)
            states.append(node)
            shares.append(NodeShare(node) if self.training else None)
        return torch.cat(states[2:], dim=1)


class NB201SearchCell(nn.Module):
    """A NAS-Bench-201 search cell: node 0 = input, node j = sum_{i<j} edge_{j,i}(node i), output node 3.

    As the benchmark's ``SearchCell`` (``xautodl/models/cell_searchs/search_cells.py``): affine-free BN in
    the convs, whose conv has a bias (``bias=not affine``), and ``avg_pool_3x3`` is plain 3x3 average
    pooling (``count_include_pad=False``) with no BN after it.

    Running statistics: the benchmark's DARTS scripts take ``--track_running_stats`` as a flag
    (``scripts-search/algos/DARTS-V1.sh`` passes its ``BN`` argument; the DARTS-space script sets
    ``BN=1``). dartslib's search BNs track them (PyTorch's and DARTS' default). A search step runs in
    training mode, where BN normalises with the batch's own statistics whether or not it tracks, so the
    choice changes no search step, only eval-mode numbers; dartslib's diagnostics evaluate the supernet
    with batch statistics by default (``bn="running"`` uses the tracked ones).

    ``(B, C, H, W), (6, M) -> (B, C, H, W)``.
    """

    def __init__(self, edge_ops: Sequence[Sequence[str]], edges: Sequence[tuple[int, int]], C: int) -> None:
        super().__init__()
        self.edge_index = tuple(edges)
        self.edges = nn.ModuleList(MixedEdge(ops, C, 1, pool_bn=False) for ops in edge_ops)
        self.num_nodes = 1 + max(to for to, _ in edges)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        shares = [NodeShare(x) if self.training else None]
        for node in range(1, self.num_nodes):
            total = None
            for e, (to, src) in enumerate(self.edge_index):
                if to == node:
                    y = self.edges[e](nodes[src], weights[e], shares[src])
                    total = y if total is None else total + y
            nodes.append(total)
            shares.append(NodeShare(total) if self.training else None)
        return nodes[-1]


class Supernet(nn.Module):
    """Base of the supernets: owns the alphas and the op-weight form.

    Subclasses build the network, call ``_set_memory_format()`` last, and implement
    ``forward_with(x, op_weights)``.

    ``channels_last`` (the default) stores the conv weights and runs every activation in the NHWC
    memory format: the same numbers in another layout, about twice as fast on CPU (oneDNN's depthwise
    kernels) and the layout cuDNN prefers. ``forward`` converts its input, so callers pass ordinary tensors.
    """

    def _set_memory_format(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def __init__(self, space: SearchSpace, op_weights: str | OpWeightForm = "softmax",
                 channels_last: bool = True) -> None:
        super().__init__()
        self.space = space
        self.channels_last = channels_last
        self.op_weight_form = build_op_weight_form(op_weights)
        self.arch_params = nn.ParameterDict({
            cell_type: nn.Parameter(1e-3 * torch.randn(len(space.edge_ops[cell_type]), space.num_ops(cell_type)))
            for cell_type in space.cell_types})
        self.arch_extensions = nn.ModuleDict()  # name -> ArchExtension: architecture parameters beside the alphas

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alphas, one ``(num_edges, num_ops)`` tensor per cell type, in ``space.cell_types`` order, then the
        parameters of the :attr:`arch_extensions` (e.g. PC-DARTS' edge betas), in the order they were added."""
        alphas = [self.arch_params[ct] for ct in self.space.cell_types]
        if not self.arch_extensions:
            return alphas
        return alphas + [p for extension in self.arch_extensions.values() for p in extension.parameters()]

    def add_arch_extension(self, extension: ArchExtension) -> ArchExtension:
        """Add architecture parameters beside the alphas (:class:`~dartslib.space.extensions.ArchExtension`,
        keyed by its ``name``); add them before the optimizers are built."""
        if not isinstance(extension, ArchExtension):
            raise TypeError(f"a supernet takes ArchExtension instances, got {type(extension).__name__}")
        self.arch_extensions[extension.name] = extension
        return extension

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter except the architecture parameters."""
        arch = {id(p) for p in self.arch_parameters()}
        return (p for p in self.parameters() if id(p) not in arch)

    def named_weight_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters()
                if not n.startswith(("arch_params.", "arch_extensions.")))

    def op_weights(self) -> dict[str, torch.Tensor]:
        """``{cell_type: (num_edges, num_ops)}`` op weights formed from the alphas by the current form."""
        return {ct: self.op_weight_form(self.arch_params[ct]) for ct in self.space.cell_types}

    def derivation_weights(self) -> dict[str, torch.Tensor]:
        """``{cell_type: (num_edges, num_ops)}``: the weights a discrete cell is derived from -- the op-weight
        form's (:meth:`~dartslib.space.op_weight_base.OpWeightForm.derivation_weights`), then changed by each
        of the :attr:`arch_extensions` (PC-DARTS multiplies every edge's row by its edge weight)."""
        weights = {ct: self.op_weight_form.derivation_weights(self.arch_params[ct]) for ct in self.space.cell_types}
        for extension in self.arch_extensions.values():
            weights = extension.derivation_weights(weights)
        return weights

    def forward(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, num_classes)`` logits; ``op_weights`` overrides the alphas' weights
        (e.g. one-hot weights to evaluate a discretised architecture)."""
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.forward_with(x, self.op_weights() if op_weights is None else op_weights)

    def forward_with(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


class DartsSupernet(Supernet):
    """The DARTS CIFAR search network (Liu et al., 2019): stem conv (3C) + BN, ``layers`` cells with
    reduction cells at ``layers // 3`` and ``2 * layers // 3`` (channels doubled there), global pool, linear.
    """

    def __init__(self, space: SearchSpace, C: int = 16, layers: int = 8, num_classes: int = 10,
                 op_weights: str | OpWeightForm = "softmax", steps: int = 4, stem_multiplier: int = 3,
                 in_channels: int = 3, channels_last: bool = True) -> None:
        super().__init__(space, op_weights, channels_last)
        if layers < 3:
            raise ValueError(f"a DARTS supernet needs at least 3 layers (two are reduction cells), got {layers}")
        self.C, self.layers, self.num_classes = C, layers, num_classes
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_pp, C_p, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cell_type = "reduce" if reduction else "normal"
            self.cells.append(DartsSearchCell(space.edge_ops[cell_type], steps, C_pp, C_p, C_curr,
                                              reduction, reduction_prev))
            reduction_prev = reduction
            C_pp, C_p = C_p, steps * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_p, num_classes)
        self._set_memory_format()

    def forward_with(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor]) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, op_weights["reduce" if cell.reduction else "normal"])
        return self.classifier(self.global_pooling(s1).flatten(1))


class NB201Supernet(Supernet):
    """NAS-Bench-201's search network (Dong & Yang, 2020): stem conv3x3 + BN, three stages of
    ``cells_per_stage`` cells at C, 2C, 4C channels joined by stride-2 ResNet basic blocks,
    BN + ReLU, global pool, linear."""

    def __init__(self, space: SearchSpace, C: int = 16, cells_per_stage: int = 5, num_classes: int = 10,
                 op_weights: str | OpWeightForm = "softmax", in_channels: int = 3,
                 channels_last: bool = True) -> None:
        super().__init__(space, op_weights, channels_last)
        if cells_per_stage < 1:
            raise ValueError(f"cells_per_stage must be at least 1, got {cells_per_stage}")
        self.C, self.cells_per_stage, self.num_classes = C, cells_per_stage, num_classes
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        C_prev = C
        for stage, C_curr in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                blocks.append(ResNetBasicBlock(C_prev, C_curr, stride=2))
            blocks.extend(NB201SearchCell(space.edge_ops["cell"], space.edges, C_curr)
                          for _ in range(cells_per_stage))
            C_prev = C_curr
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self._set_memory_format()

    def forward_with(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x, op_weights["cell"]) if isinstance(block, NB201SearchCell) else block(x)
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))


def build_supernet(space: str | SearchSpace, C: int = 16, layers: int = 8, num_classes: int = 10, *,
                   cells_per_stage: int = 5, op_weights: str | OpWeightForm = "softmax",
                   in_channels: int = 3, channels_last: bool = True) -> Supernet:
    """Build the supernet of a search space.

    Args:
        space: a name from :data:`dartslib.space.spaces.SPACES` or a :class:`SearchSpace`.
        C: initial channels (DARTS: 16 in search; NB201: 16).
        layers: number of cells of a DARTS-topology supernet (8 in DARTS' search).
        num_classes: classifier outputs.
        cells_per_stage: cells per stage of an NB201 supernet (N = 5 in NAS-Bench-201).
        op_weights: ``"softmax"`` (DARTS), ``"sigmoid"`` (FairDARTS) or an :class:`OpWeightForm`.
        in_channels: image channels.
        channels_last: NHWC memory format for weights and activations (same numbers, faster).
    """
    space = get_space(space)
    if space.topology == "nb201":
        return NB201Supernet(space, C, cells_per_stage, num_classes, op_weights, in_channels, channels_last)
    return DartsSupernet(space, C, layers, num_classes, op_weights, in_channels=in_channels,
                         channels_last=channels_last)
