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

The forward pass is walked in one place, here: :meth:`Supernet.forward_with` (stem -> cells -> classifier),
the cells' ``forward`` (each node the sum of its incoming edges, one :class:`NodeShare` per node, the concat of
the intermediate nodes) and :meth:`MixedEdge.run` (the edge's extensions nested around the weighted sum of its
computed ops). The walk computes through an :class:`Executor`, the kernels it calls: :data:`PLAIN` calls the
modules as they are; :class:`dartslib.engine.batched.SeedBatchedSupernet` runs ``S`` seeds' supernets as one
computation with the same walk and its own kernels (grouped convs, per-seed BN, fused op weights), as vmap's
batching rules batch one function rather than a second copy of it.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Iterator, Protocol, Sequence

import torch
from torch import nn

from dartslib.space.extensions import ArchExtension, EdgeExtension
from dartslib.space.op_weights import OpWeightForm, build_op_weight_form
from dartslib.space.ops import FactorizedReduce, PoolBN, ReLUConvBN, ResNetBasicBlock, build_op
from dartslib.space.spaces import SearchSpace, get_space

__all__ = ["Executor", "PlainExecutor", "PLAIN", "NodeShare", "MixedEdge", "DartsSearchCell", "NB201SearchCell",
           "Supernet", "DartsSupernet", "NB201Supernet", "build_supernet"]


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


class Executor(Protocol):
    """The kernels the supernet's one forward pass computes with (see the module docstring).

    The walk (:meth:`Supernet.forward_with`, the cells' ``forward``, :meth:`MixedEdge.run`) decides what is
    computed from what, in which order; the executor decides how. Shapes are the plain executor's
    (:data:`PLAIN`): activations ``(B, C, H, W)``, a cell type's op weights ``(E, M)``, an edge's ``(M,)``.
    A seed-batched executor runs ``S`` seeds at once: activations ``(B, S*C, H, W)`` (seed ``s`` owns channels
    ``s*C .. (s+1)*C - 1``), op weights ``(S, E, M)`` whose :meth:`edge_weights` are ``(E, M, S*C, 1, 1)``,
    logits ``(S, B, K)``. An extension handle (:meth:`extensions`) is what the executor passes back to its
    own extension kernels: the :class:`~dartslib.space.extensions.EdgeExtension` itself for the plain executor.
    """

    def is_training(self, module: nn.Module) -> bool:
        """Whether ``module`` (a cell, an edge's BN) runs in training mode: batch statistics, node shares, the
        extensions that act only in training."""
        ...

    def module(self, m: nn.Module, x: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        """Module ``m`` of the supernet (stem, preprocessing, an op, a ResNet block, pooling) on ``x``.
        ``gain`` ``(C,)``: the output scaled through the op's last affine-free BN; only an executor's own
        :meth:`fused_term` passes one."""
        ...

    def from_relu(self, m: nn.Module, relu_x: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        """A ReLU-first op (one with ``forward_from_relu``) on ``relu_x``, the ReLU of its input already taken."""
        ...

    def cell(self, cell: nn.Module, inputs: tuple[torch.Tensor, ...], weights: torch.Tensor) -> torch.Tensor:
        """Cell ``cell`` on its inputs with its cell type's op weights: the cell's ``forward`` with this executor."""
        ...

    def edge_weights(self, weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A cell's op weights as its edges index them (``w[e]``: edge ``e``'s row), for activations ``like``."""
        ...

    def edge(self, edge: "MixedEdge", x: torch.Tensor, weights: torch.Tensor, share: NodeShare | None,
             node: torch.Tensor | None) -> torch.Tensor:
        """The node's sum so far ``node`` (None before its first edge) plus ``edge`` on ``x`` with its op weights:
        how the edge's output joins the sum is the executor's choice (:meth:`MixedEdge.run` takes the sum to
        start the weighted sum from)."""
        ...

    def extensions(self, edge: "MixedEdge") -> Sequence[Any]:
        """Handles of the edge's active extensions, in the order they nest (outermost first)."""
        ...

    def forward_edge(self, extension: Any, edge: "MixedEdge", x: torch.Tensor, weights: torch.Tensor,
                     share: NodeShare | None, inner: Callable[..., torch.Tensor]) -> torch.Tensor:
        """The extension's ``forward_edge`` around ``inner(x, weights, share)``, the edge inside it."""
        ...

    def changes_op(self, extension: Any, edge: "MixedEdge", index: int) -> bool:
        """Whether the extension changes op ``index``'s output in this pass."""
        ...

    def op_output(self, extension: Any, edge: "MixedEdge", index: int, y: torch.Tensor) -> torch.Tensor:
        """Op ``index``'s output ``y`` ``(B, C, H', W')`` as the extension changes it, before it is weighted."""
        ...

    def fused_term(self, edge: "MixedEdge", index: int, x: torch.Tensor, weights: torch.Tensor,
                   share: NodeShare | None, out: torch.Tensor | None) -> torch.Tensor | None:
        """``out + weights[index] * op_index(x)`` (``out`` None: no sum yet) computed another way with the same
        maths, or None: the walk then computes the op and adds its weighted output (``torch.addcmul``)."""
        ...

    def copy_bn_stats(self, source: nn.BatchNorm2d, target: nn.BatchNorm2d) -> None:
        """Give ``target`` the running statistics of ``source`` (a node's shared pooling, :class:`NodeShare`)."""
        ...

    def cat(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        """``[(B, C_i, H, W)] -> (B, sum C_i, H, W)``: a cell's output from its intermediate nodes."""
        ...

    def classifier(self, linear: nn.Linear, features: torch.Tensor) -> torch.Tensor:
        """``(B, F) -> (B, K)`` logits."""
        ...


class PlainExecutor:
    """The ordinary supernet's :class:`Executor`: every module is called as it is (``m(x)``), an edge's output
    is added to its node's sum (``node + y``), extensions run their own ``forward_edge`` / ``op_output``."""

    def is_training(self, module: nn.Module) -> bool:
        return module.training

    def module(self, m: nn.Module, x: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        if gain is not None:
            raise ValueError("the plain executor fuses no op weight")
        return m(x)

    def from_relu(self, m: nn.Module, relu_x: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        if gain is not None:
            raise ValueError("the plain executor fuses no op weight")
        return m.forward_from_relu(relu_x)

    def cell(self, cell: nn.Module, inputs: tuple[torch.Tensor, ...], weights: torch.Tensor) -> torch.Tensor:
        return cell(*inputs, weights)  # through nn.Module.__call__: hooks see (inputs..., weights)

    def edge_weights(self, weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return weights

    def edge(self, edge: "MixedEdge", x: torch.Tensor, weights: torch.Tensor, share: NodeShare | None,
             node: torch.Tensor | None) -> torch.Tensor:
        y = edge(x, weights, share)
        return y if node is None else node + y

    def extensions(self, edge: "MixedEdge") -> list[EdgeExtension]:
        return [e for e in edge.extensions.values() if e.active]

    def forward_edge(self, extension: EdgeExtension, edge: "MixedEdge", x: torch.Tensor, weights: torch.Tensor,
                     share: NodeShare | None, inner: Callable[..., torch.Tensor]) -> torch.Tensor:
        return extension.forward_edge(edge, x, weights, share, inner)

    def changes_op(self, extension: EdgeExtension, edge: "MixedEdge", index: int) -> bool:
        return extension.changes_op(edge, index, edge.training)

    def op_output(self, extension: EdgeExtension, edge: "MixedEdge", index: int, y: torch.Tensor) -> torch.Tensor:
        return extension.op_output(edge, index, y)

    def fused_term(self, edge: "MixedEdge", index: int, x: torch.Tensor, weights: torch.Tensor,
                   share: NodeShare | None, out: torch.Tensor | None) -> None:
        return None

    def copy_bn_stats(self, source: nn.BatchNorm2d, target: nn.BatchNorm2d) -> None:
        _copy_running_stats(source, target)

    def cat(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(states, dim=1)

    def classifier(self, linear: nn.Linear, features: torch.Tensor) -> torch.Tensor:
        return linear(features)


PLAIN = PlainExecutor()
"""The plain executor (stateless): what ``model(x)`` computes with."""


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
        return self.run(PLAIN, x, weights, share)

    def run(self, executor: Executor, x: torch.Tensor, weights: torch.Tensor, share: NodeShare | None = None,
            out: torch.Tensor | None = None) -> torch.Tensor:
        """The edge's forward pass with ``executor``'s kernels: its active extensions nested around :meth:`mix`,
        whose weighted sum starts from ``out`` (None: from nothing; an executor may pass the node's sum so far,
        so that an extension's ``forward_edge`` then receives that sum plus the edge's weighted sum)."""
        if not self.extensions:
            return self.mix(x, weights, share, (), executor, out)
        return self._extended(executor, executor.extensions(self), 0, x, weights, share, out)

    def _extended(self, executor: Executor, active: Sequence[Any], k: int, x: torch.Tensor, weights: torch.Tensor,
                  share: NodeShare | None, out: torch.Tensor | None) -> torch.Tensor:
        if k == len(active):
            return self.mix(x, weights, share, active, executor, out)
        return executor.forward_edge(active[k], self, x, weights, share,
                                     lambda x_, w_, s_: self._extended(executor, active, k + 1, x_, w_, s_, out))

    def mix(self, x: torch.Tensor, weights: torch.Tensor, share: NodeShare | None = None,
            extensions: Sequence[Any] = (), executor: Executor = PLAIN,
            out: torch.Tensor | None = None) -> torch.Tensor:
        """``out`` plus the weighted sum of the ops on ``x`` ``(B, C_ops, H, W)``, each op's output first passed
        through the ``op_output`` of the ``extensions`` (the executor's handles) that change it; an op no
        extension changes may be computed by the executor's :meth:`~Executor.fused_term`."""
        for i in self.computed:
            changing = [e for e in extensions if executor.changes_op(e, self, i)] if extensions else ()
            if not changing:
                fused = executor.fused_term(self, i, x, weights, share, out)
                if fused is not None:
                    out = fused
                    continue
            y = self.op(i, x, share, executor)
            for extension in changing:
                y = executor.op_output(extension, self, i, y)
            out = weights[i] * y if out is None else torch.addcmul(out, weights[i], y)  # fused w * y + out
        return out

    def op(self, i: int, x: torch.Tensor, share: NodeShare | None = None, executor: Executor = PLAIN,
           gain: torch.Tensor | None = None) -> torch.Tensor:
        """Op ``i``'s output on ``x``, through the node's shared ReLU and pooling when ``share`` (``gain``: see
        :meth:`Executor.module`)."""
        op = self.ops[i]
        if share is None:
            return executor.module(op, x, gain)
        if isinstance(op, PoolBN) and executor.is_training(op[1]):
            key = (self.op_names[i], self.stride)
            if key in share.pooled:  # the same tensor on every edge leaving the node; copy the BN buffers
                pooled, first_bn = share.pooled[key]
                executor.copy_bn_stats(first_bn, op[1])
                return pooled
            pooled = executor.module(op, share.x)
            share.pooled[key] = (pooled, op[1])
            return pooled
        if hasattr(type(op), "forward_from_relu"):  # on the class: no nn.Module.__getattr__ miss per op
            return executor.from_relu(op, share.relu, gain)
        return executor.module(op, share.x, gain)


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

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                executor: Executor = PLAIN) -> torch.Tensor:
        states = [executor.module(self.preprocess0, s0), executor.module(self.preprocess1, s1)]
        w = executor.edge_weights(weights, states[0])
        training = executor.is_training(self)
        shares = [NodeShare(h) if training else None for h in states]
        offset = 0
        for _ in range(self.steps):
            node = None
            for j, h in enumerate(states):
                node = executor.edge(self.edges[offset + j], h, w[offset + j], shares[j], node)
            offset += len(states)
            states.append(node)
            shares.append(NodeShare(node) if training else None)
        return executor.cat(states[2:])


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

    def forward(self, x: torch.Tensor, weights: torch.Tensor, executor: Executor = PLAIN) -> torch.Tensor:
        w = executor.edge_weights(weights, x)
        training = executor.is_training(self)
        nodes = [x]
        shares = [NodeShare(x) if training else None]
        for node in range(1, self.num_nodes):
            total = None
            for e, (to, src) in enumerate(self.edge_index):
                if to == node:
                    total = executor.edge(self.edges[e], nodes[src], w[e], shares[src], total)
            nodes.append(total)
            shares.append(NodeShare(total) if training else None)
        return nodes[-1]


class Supernet(nn.Module):
    """Base of the supernets: owns the alphas and the op-weight form.

    Subclasses build the network, call ``_set_memory_format()`` last, and implement
    ``forward_with(x, op_weights, executor)``, the walk from the stem to the classifier.

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

    def forward_with(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor],
                     executor: Executor = PLAIN) -> torch.Tensor:
        """The forward pass on ``x`` with the op weights ``{cell_type: (E, M)}``, computed by ``executor``'s
        kernels (:data:`PLAIN`: this supernet's modules)."""
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

    def forward_with(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor],
                     executor: Executor = PLAIN) -> torch.Tensor:
        s0 = s1 = executor.module(self.stem, x)
        for cell in self.cells:
            s0, s1 = s1, executor.cell(cell, (s0, s1), op_weights["reduce" if cell.reduction else "normal"])
        return executor.classifier(self.classifier, executor.module(self.global_pooling, s1).flatten(1))


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

    def forward_with(self, x: torch.Tensor, op_weights: dict[str, torch.Tensor],
                     executor: Executor = PLAIN) -> torch.Tensor:
        x = executor.module(self.stem, x)
        for block in self.cells:
            if isinstance(block, NB201SearchCell):
                x = executor.cell(block, (x,), op_weights["cell"])
            else:
                x = executor.module(block, x)
        features = executor.module(self.global_pooling, executor.module(self.lastact, x)).flatten(1)
        return executor.classifier(self.classifier, features)


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
