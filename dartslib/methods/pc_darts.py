"""PC-DARTS: partial channel connections and edge normalisation (Xu et al., 2020, "PC-DARTS: Partial Channel
Connections for Memory-Efficient Architecture Search", ICLR; Sec. 3.2-3.3).

**Partial channel connections** (Sec. 3.2, Eq. 2). An edge sends only a proportion ``1/K`` of its input's
channels through its candidate ops; the rest bypass them:
``f_PC(x) = sum_o softmax(alpha)_o o(S * x) + (1 - S) * x``, with ``S`` the channel mask. The ops are built
on ``C/K`` channels, so the supernet's activations and op work shrink about K-fold (the code spends the saving
on a batch of 256, DARTS' being 64; K = 4 on CIFAR-10). The authors' code (``yuhuixu1993/PC-DARTS``,
``model_search.py``, ``MixedOp``) takes the *first* ``C/K`` channels, concatenates the ops' output with the
bypassed channels (max-pooled 2x2 on a stride-2 edge), and then shuffles the channels with ``groups = K``
(:func:`channel_shuffle`, as ShuffleNet), so that the next edge from that node samples other channels. We do the
same. The bypassed channels are not weighted by the op weights (Eq. 2).

**Edge normalisation** (Sec. 3.3, Eq. 3). Partial channels make the op weights noisy across steps, so every
edge ``(i, j)`` also gets a weight ``beta_{i,j}``, normalised over the edges into node ``j``:
``x_j = sum_{i<j} softmax_i(beta_{i,j}) f_PC_{i,j}(x_i)``; the betas are architecture parameters
(initialised as the alphas, ``1e-3 * N(0, 1)``, one vector per cell type, shared by the cells of that type, as
the code's ``betas_normal`` / ``betas_reduce``), and the whole edge output is weighted, bypassed channels
included (the code: ``weights2[offset + j] * self._ops[offset + j](h, ...)``). The cell is derived from the
product of the edge weight and the op weights (Sec. 3.3; the code's ``genotype()``: ``W[j, :] * W2[j]``, then
DARTS' rule): :class:`EdgeBetas` multiplies every edge's derivation row by its edge weight.

How it plugs in: two edge extensions (:mod:`dartslib.space.extensions`) -- :class:`PartialChannels`, which
rebuilds the edge's ops on ``C/K`` channels and wraps its forward pass, and :class:`EdgeNormalization`, which
scales the edge's output -- and one architecture extension, :class:`EdgeBetas`, which holds the betas. The
switch (:data:`PC_DARTS_SWITCH`, knobs ``partial_channels`` = K and ``edge_normalization``, kept in
``config.method_options``) injects them; :func:`preset` is the ``pc-darts`` method. This module and one line in
each registry are the whole method.

Choices, paper and code against dartslib:

* K: the code uses K = 4 on CIFAR-10 (``model_search.py``, ``k = 4``) and K = 2 on ImageNet
  (``model_search_imagenet.py``); 4 is the preset's default. K = 1 is plain DARTS (every channel through the ops, the shuffle the identity).
* The bypass on a stride-2 edge: the code max-pools 2x2 with stride 2 (floor); we pool with ``ceil_mode`` so
  that odd sizes match the ops' ``ceil(H/2)`` (the same numbers on even sizes, the only ones the code runs).
* Training schedule (``train_search.py``): batch 256, SGD lr 0.1 cosine to 0.001, momentum 0.9, weight decay
  3e-4, 50 epochs, gradient clip 5, alphas and betas by Adam lr 6e-4, betas (0.5, 0.999), weight decay 1e-3,
  architecture stepped before the weights. Departure: the code takes no architecture step in the first 15
  epochs (``if epoch >= 15``); dartslib's loop has no such warm-up, so the preset steps the architecture from
  the first epoch. The code draws the architecture batch afresh every step (``next(iter(valid_queue))``);
  dartslib walks through the held-out half as for every method.
* NAS-Bench-201 (not in the paper): partial channels only by default; edge normalisation is allowed but the
  benchmark's argmax-per-edge derivation ignores the betas.
* ``arch_init``: a constant ``arch_init`` fills the betas too (they are architecture parameters).
* Seed-batched searches (``sweep --batch-seeds``) refuse PC-DARTS: its extensions have no seed-batched forward.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from dartslib.hooks import Knob, SearchHook, Switch
from dartslib.space.extensions import ArchExtension, EdgeExtension, Mix, attach_extension
from dartslib.space.spaces import SearchSpace, get_space
from dartslib.space.supernet import DartsSearchCell, MixedEdge, NB201SearchCell, Supernet

__all__ = ["channel_shuffle", "PartialChannels", "EdgeBetas", "EdgeNormalization", "add_partial_channels",
           "add_edge_normalization", "EdgeWeightsRecord", "preset", "PC_DARTS_SWITCH", "DEFAULT_K"]

DEFAULT_K = 4
"""PC-DARTS' channel proportion 1/K on CIFAR-10 (Xu et al., 2020, Sec. 4.2; the code's ``k = 4``)."""


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle, as PC-DARTS' ``channel_shuffle``: view the ``C`` channels as ``(groups,
    C/groups)``, transpose, flatten. Input channel ``g * C/groups + c`` goes to ``c * groups + g``.
    ``(B, C, H, W) -> (B, C, H, W)``, in the input's memory format."""
    B, C, H, W = x.shape
    if C % groups:
        raise ValueError(f"channel_shuffle needs channels divisible by groups, got {C} channels, {groups} groups")
    out = x.reshape(B, groups, C // groups, H, W).transpose(1, 2).reshape(B, C, H, W)
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        out = out.contiguous(memory_format=torch.channels_last)
    return out


class PartialChannels(EdgeExtension):
    """Partial channel connection of one edge (Sec. 3.2, Eq. 2): the first ``C/k`` channels of ``x`` go through
    the edge's ops (rebuilt on ``C/k`` channels by :func:`add_partial_channels`), the other channels bypass
    them (2x2 max-pooled on a stride-2 edge), and the concatenation is channel-shuffled with ``k`` groups.
    ``(B, C, H, W) -> (B, C, H', W')``."""

    name = "partial_channels"

    def __init__(self, k: int) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"partial_channels K must be a positive integer, got {k}")
        self.k = int(k)

    def forward_edge(self, edge: nn.Module, x: torch.Tensor, weights: torch.Tensor, share: Any,
                     mix: Mix) -> torch.Tensor:
        part = x.shape[1] // self.k
        if part == x.shape[1]:  # K = 1: every channel through the ops; the shuffle would be the identity
            return mix(x, weights, share)
        first, sliced = self._first_channels(x, part, share)
        through = mix(first, weights, sliced)
        bypass = x[:, part:]
        if through.shape[2] != x.shape[2]:  # a stride-2 edge: the bypassed channels are pooled to match
            bypass = F.max_pool2d(bypass, 2, 2, ceil_mode=True)
        return channel_shuffle(torch.cat([through, bypass], dim=1), self.k)

    def _first_channels(self, x: torch.Tensor, part: int, share: Any) -> tuple[torch.Tensor, Any]:
        """``x``'s first ``part`` channels (in ``x``'s memory format) and their node share: every edge leaving a
        node takes the same slice, so in training mode its ReLU and pooling are computed once per node, like
        the full input's (:class:`~dartslib.space.supernet.NodeShare`, ``derived``)."""
        key = (self.name, part)
        if share is not None and key in share.derived:
            sliced = share.derived[key]
            return sliced.x, sliced
        first = x[:, :part]
        if x.is_contiguous(memory_format=torch.channels_last):
            first = first.contiguous(memory_format=torch.channels_last)
        if share is None:
            return first, None
        sliced = share.derived[key] = type(share)(first)
        return first, sliced


class EdgeBetas(ArchExtension):
    """PC-DARTS' edge-normalisation parameters (Sec. 3.3, Eq. 3): ``betas[cell_type]`` ``(num_edges,)``,
    ``1e-3 * N(0, 1)`` at the start; an edge's weight is the softmax of the betas over the edges into its node
    (:meth:`edge_weights`)."""

    name = "edge_normalization"

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        self.betas = nn.ParameterDict({ct: nn.Parameter(1e-3 * torch.randn(len(space.edges)))
                                       for ct in space.cell_types})
        self.nodes: list[list[int]] = []  # the edge indices into each node, in edge order
        for node in sorted({to for to, _ in space.edges}):
            self.nodes.append([e for e, (to, _) in enumerate(space.edges) if to == node])
        if [e for edges in self.nodes for e in edges] != list(range(len(space.edges))):
            raise ValueError(f"edge normalisation needs the edges of space {space.name!r} ordered by node")
        self._node_of = {e: (edges, k) for edges in self.nodes for k, e in enumerate(edges)}

    def edge_weights(self, cell_type: str) -> torch.Tensor:
        """``(num_edges,)``: ``softmax(beta)`` over the edges into each node."""
        beta = self.betas[cell_type]
        return torch.cat([torch.softmax(beta[edges[0]: edges[-1] + 1], dim=0) for edges in self.nodes])

    def edge_weight(self, cell_type: str, edge: int) -> torch.Tensor:
        """Edge ``edge``'s weight, ``()``: the softmax of the betas of its node's edges, at its own place."""
        edges, k = self._node_of[edge]
        return torch.softmax(self.betas[cell_type][edges[0]: edges[-1] + 1], dim=0)[k]

    def derivation_weights(self, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every edge's row times its edge weight (the code's ``W[j, :] * W2[j]``), for DARTS' rule to rank."""
        return {ct: w * self.edge_weights(ct).to(w.dtype)[:, None] if ct in self.betas else w
                for ct, w in weights.items()}

    def describe(self) -> dict[str, Any]:
        with torch.no_grad():
            return {"edge_weights": {ct: self.edge_weights(ct).cpu().tolist() for ct in self.betas}}


class EdgeNormalization(EdgeExtension):
    """Scales one edge's output by its edge weight (Sec. 3.3, Eq. 3), read from the supernet's
    :class:`EdgeBetas` for this edge's cell type and index. ``(B, C, H', W') -> (B, C, H', W')``."""

    name = "edge_normalization"

    def __init__(self, betas: EdgeBetas, cell_type: str, index: int) -> None:
        super().__init__()
        self._betas = (betas,)  # a tuple: the betas belong to the supernet, not to every edge's state_dict
        self.cell_type, self.index = cell_type, index

    def forward_edge(self, edge: nn.Module, x: torch.Tensor, weights: torch.Tensor, share: Any,
                     mix: Mix) -> torch.Tensor:
        return self._betas[0].edge_weight(self.cell_type, self.index) * mix(x, weights, share)


def _cell_edges(model: nn.Module) -> list[tuple[str, int, MixedEdge]]:
    """``(cell_type, edge index, edge)`` of every search cell's edges."""
    found = []
    for cell in model.modules():
        if isinstance(cell, DartsSearchCell):
            cell_type = "reduce" if cell.reduction else "normal"
        elif isinstance(cell, NB201SearchCell):
            cell_type = "cell"
        else:
            continue
        found.extend((cell_type, e, edge) for e, edge in enumerate(cell.edges))
    if not found:
        raise ValueError(f"PC-DARTS needs a supernet of search cells, got {type(model).__name__}")
    return found


def add_partial_channels(model: nn.Module, k: int = DEFAULT_K) -> int:
    """Rebuild every search-cell edge's ops on ``C/k`` channels and inject :class:`PartialChannels`; returns
    how many edges. Call before the optimizers are built (the rebuilt ops are new weights)."""
    edges = _cell_edges(model)
    for _, _, edge in edges:
        if edge.C % k:
            raise ValueError(f"partial_channels K={k} must divide every edge's channels; an edge has {edge.C} "
                             f"(use a --C divisible by {k})")
    for _, _, edge in edges:
        edge.ops = edge.build_ops(edge.C // k)
        if getattr(model, "channels_last", False):
            edge.ops.to(memory_format=torch.channels_last)
        attach_extension(edge, PartialChannels(k))
    return len(edges)


def add_edge_normalization(model: Supernet) -> EdgeBetas:
    """Add :class:`EdgeBetas` to the supernet and inject :class:`EdgeNormalization` into every search-cell edge."""
    betas = model.add_arch_extension(EdgeBetas(model.space))
    for cell_type, index, edge in _cell_edges(model):
        attach_extension(edge, EdgeNormalization(betas, cell_type, index))
    return betas


class EdgeWeightsRecord(SearchHook):
    """Records the edge weights of the supernet's :class:`EdgeBetas` in every epoch's history (``edge_weights``)."""

    def __init__(self) -> None:
        self.betas: EdgeBetas | None = None

    def on_epoch_start(self, model: Supernet, epoch: int, epochs: int) -> None:
        self.betas = model.arch_extensions[EdgeBetas.name]

    def before_step(self, model: Supernet, ctx: Any) -> None:  # a search resumed inside an epoch starts here
        self.betas = model.arch_extensions[EdgeBetas.name]

    def describe(self) -> dict[str, Any]:
        return self.betas.describe() if self.betas is not None else {}


def _options(config: Any) -> tuple[int | None, bool]:
    k = next(knob for knob in PC_DARTS_SWITCH.knobs if knob.name == "partial_channels").get(config)
    norm = next(knob for knob in PC_DARTS_SWITCH.knobs if knob.name == "edge_normalization").get(config)
    return k, bool(norm)


def _check(config: Any) -> None:
    k, _ = _options(config)
    if k is not None and config.C % k:
        raise ValueError(f"partial_channels K={k} must divide --C (every edge has C, 2C or 4C channels), "
                         f"got C={config.C}")


def _prepare(model: nn.Module, config: Any) -> None:
    k, norm = _options(config)
    if norm:  # first attached, so outermost: the edge weight scales the shuffled output, bypass included
        add_edge_normalization(model)
    if k is not None:
        add_partial_channels(model, k)


def _hooks(config: Any) -> list[SearchHook]:
    return [EdgeWeightsRecord()] if _options(config)[1] else []


PC_DARTS_SWITCH = Switch(
    "pc_darts", summary="PC-DARTS' partial channel connections and edge normalisation (Xu et al., 2020, Sec. 3.2-3.3)",
    knobs=(Knob("partial_channels", "PC-DARTS: 1/K of each edge's channels go through its ops, the rest bypass "
                "them, then a channel shuffle (K=4 on CIFAR)", type=int, sign="positive", optional=True,
                metavar="K", maximum=1024),
           Knob("edge_normalization", "PC-DARTS: weight each edge by a softmax of learned betas over its node's "
                "input edges; derive from edge weight x op weight", type=bool, default=False)),
    check=_check, prepare=_prepare, hooks=_hooks)
"""The switch (:class:`dartslib.hooks.Switch`): ``config.method_options`` ``partial_channels`` (K; None: off) and
``edge_normalization``."""


def preset(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    """The ``pc-darts`` method: K = 4, edge normalisation on DARTS-topology spaces, and the code's schedule
    (``train_search.py``; see the module docstring for its 15-epoch warm-up, which dartslib does not have)."""
    darts_space = get_space(space).topology == "darts"
    return {"update": "bilevel-1st", "epochs": 50, "batch_size": 256, "lr": 0.1, "lr_min": 0.001,
            "lr_schedule": "cosine", "momentum": 0.9, "weight_decay": 3e-4, "grad_clip": 5.0, "arch_lr": 6e-4,
            "arch_betas": (0.5, 0.999), "arch_weight_decay": 1e-3,
            "method_options": {"partial_channels": DEFAULT_K, "edge_normalization": darts_space}}
