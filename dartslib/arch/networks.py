"""Evaluation networks: a discrete genotype stacked into the DARTS CIFAR network.

The structure is DARTS' ``NetworkCIFAR`` (Liu et al., ICLR 2019, Sec. 3.3 and its released code): a 3x3
stem conv with ``3C`` channels and BN, ``layers`` cells with reduction cells (channels doubled, stride 2)
at ``layers // 3`` and ``2 * layers // 3``, an auxiliary head after cell ``2 * layers // 3``, global
average pooling and a linear classifier. All ops have affine BN; during training drop-path (whole-sample
dropout, FractalNet-style) acts with probability ``drop_path_prob``, which the training loop sets per epoch.

Where drop-path acts (``drop_path_mode``):

* ``"edge"`` - DARTS (``quark0/darts``, ``cnn/model.py``, ``Cell.forward``): on every op's output except
  the identity's, before the node sums them.
* ``"node"`` - FairDARTS (``xiaomi-automl/FairDARTS``, ``fairdarts/model.py``, ``DCOCell.forward``): on each
  node's sum of its inputs, identity included.
* ``"auto"`` (default) - ``"node"`` for a FairDARTS genotype, ``"edge"`` otherwise. A network knows a
  FairDARTS genotype by its format: FairDARTS' threshold rule writes ``(op, to_node, from_node)`` triples
  (:func:`dartslib.arch.derive.derive_threshold`, the published ``FairDARTS_*`` genotypes), every other method
  ``(op, input)`` pairs, and FairDARTS' code picks ``DCOCell`` for exactly those triples. Pass ``"edge"``
  or ``"node"`` to choose explicitly.

Cells with FairDARTS triples ``(op, to_node, from_node)`` (Chu et al., ECCV 2020) let a node have any
number of inputs. A node with no input edge, or whose inputs all come from such empty nodes, is empty:
its outgoing edges are dropped (no module is built for them) and it is left out of the concatenated
output, so such a cell outputs ``C`` times the number of non-empty concat nodes. Cells with DARTS pairs
never have empty nodes.

Forward convention. ``forward(x)`` always returns the logits ``(B, num_classes)``. In training mode with
an auxiliary head it also stores the auxiliary logits ``(B, num_classes)`` in ``model.aux_logits``
(``None`` otherwise, reset at every forward), so a training loop reads::

    logits = model(x)
    loss = criterion(logits, y)
    if model.aux_logits is not None:
        loss = loss + aux_weight * criterion(model.aux_logits, y)

:meth:`NetworkCIFAR.forward_with_aux` returns both as a tuple instead.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from dartslib.arch.genotype import GenotypeLike, genotype_edges, parse_genotype
from dartslib.space.ops import FactorizedReduce, Identity, ReLUConvBN, build_op

__all__ = ["drop_path", "EvalCell", "AuxiliaryHeadCIFAR", "NetworkCIFAR", "build_network", "DROP_PATH_MODES",
           "resolve_drop_path_mode"]

DROP_PATH_MODES = ("auto", "edge", "node")


def resolve_drop_path_mode(genotype: GenotypeLike, mode: str = "auto") -> str:
    """``"edge"`` or ``"node"``: ``mode`` itself, or for ``"auto"`` ``"node"`` iff ``genotype`` is written in
    FairDARTS' ``(op, to_node, from_node)`` triples (see the module docstring)."""
    if mode not in DROP_PATH_MODES:
        raise ValueError(f"unknown drop_path_mode {mode!r}; choose from: {', '.join(DROP_PATH_MODES)}")
    if mode != "auto":
        return mode
    g = parse_genotype(genotype)
    return "node" if any(len(edge) == 3 for edge in list(g.normal) + list(g.reduce)) else "edge"


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero each sample of ``x`` with probability ``drop_prob`` and rescale the rest by ``1 / (1 - p)``.

    ``(B, ...) -> (B, ...)``; one Bernoulli draw per sample, shared by all its elements.
    """
    if drop_prob <= 0.0:
        return x
    keep_prob = 1.0 - drop_prob
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep_prob)
    return x * mask / keep_prob


class EvalCell(nn.Module):
    """One discrete cell. ``(s0: (B, C_prev_prev, H0, W0), s1: (B, C_prev, H, W)) -> (B, multiplier * C, H', W')``.

    ``H' = H / 2`` in a reduction cell (edges from the inputs stride 2), else ``H``. ``s0`` is reduced by
    :class:`FactorizedReduce` when the previous cell was a reduction cell (then ``H0 = 2 H``).

    Args:
        edges: ``(op, to_node, from_node)`` triples; nodes 0 and 1 are the preprocessed inputs.
        concat: nodes concatenated into the output (empty nodes are skipped).
        C_prev_prev, C_prev: channels of ``s0`` and ``s1``.
        C: channels of every node.
        reduction: whether this cell halves the resolution.
        reduction_prev: whether the previous cell did.
        drop_path_mode: ``"edge"`` (DARTS: each non-identity op's output) or ``"node"`` (FairDARTS: each
            node's sum, identity included); see the module docstring.
    """

    def __init__(self, edges: Sequence[tuple[str, int, int]], concat: Sequence[int], C_prev_prev: int,
                 C_prev: int, C: int, reduction: bool, reduction_prev: bool, drop_path_mode: str = "edge") -> None:
        super().__init__()
        if drop_path_mode not in ("edge", "node"):
            raise ValueError(f"EvalCell drop_path_mode must be 'edge' or 'node', got {drop_path_mode!r}")
        self.drop_path_mode = drop_path_mode
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(C_prev_prev, C, affine=True)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=True)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=True)

        live = {0, 1}
        kept: list[tuple[str, int, int]] = []
        for node in sorted({to for _, to, _ in edges}):
            incoming = [(op, to, src) for op, to, src in edges if to == node and src in live]
            if incoming:
                live.add(node)
                kept.extend(incoming)
        self.edges: tuple[tuple[str, int, int], ...] = tuple(kept)
        self.concat: tuple[int, ...] = tuple(int(n) for n in concat if n in live)
        if not self.concat:
            raise ValueError(f"{'reduction' if reduction else 'normal'} cell: no node of concat "
                             f"{list(concat)} receives an input, so the cell has no output")
        self.multiplier = len(self.concat)
        self.ops = nn.ModuleList(
            build_op(op, C, 2 if reduction and src < 2 else 1, affine=True) for op, _, src in kept)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = {0: self.preprocess0(s0), 1: self.preprocess1(s1)}
        dropping = self.training and drop_prob > 0.0
        per_edge, per_node = dropping and self.drop_path_mode == "edge", dropping and self.drop_path_mode == "node"
        node = None
        for op, (_, to, src) in zip(self.ops, self.edges):  # edges are grouped by node, in node order
            if per_node and node is not None and to != node:
                states[node] = drop_path(states[node], drop_prob)  # the node's sum is complete (DCOCell)
            node = to
            h = op(states[src])
            if per_edge and not isinstance(op, Identity):
                h = drop_path(h, drop_prob)
            states[to] = h if to not in states else states[to] + h
        if per_node and node is not None:
            states[node] = drop_path(states[node], drop_prob)
        return torch.cat([states[n] for n in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS' CIFAR auxiliary classifier. ``(B, C, H, W) -> (B, num_classes)``.

    ReLU, AvgPool 5x5 stride 3, 1x1 conv to 128, BN, ReLU, 2x2 conv to 768, BN, ReLU, linear; on the
    8x8 maps of 32x32 CIFAR images this is exactly DARTS' head (8x8 -> 2x2 -> 1x1). Maps smaller than
    8x8 (e.g. 4x4 from 16x16 images), on which that pooling would leave less than 2x2, are pooled
    adaptively to 2x2 instead; maps larger than 8x8 leave more than 1x1 after the 2x2 conv and are
    averaged before the linear layer. The parameter count does not depend on the input size.
    """

    def __init__(self, C: int, num_classes: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.pool = nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False)
        self.small_map_pool = nn.AdaptiveAvgPool2d(2)
        self.features = nn.Sequential(
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        x = self.pool(x) if min(x.shape[-2:]) >= 8 else self.small_map_pool(x)
        x = self.features(x)
        return self.classifier(x.mean(dim=(2, 3)))


class NetworkCIFAR(nn.Module):
    """The DARTS evaluation network (Liu et al., 2019). ``(B, in_channels, H, W) -> (B, num_classes)``.

    Attributes:
        drop_path_prob: drop-path probability used in training forwards; set it every epoch.
        drop_path_mode: ``"edge"`` or ``"node"``, resolved from the argument (see the module docstring).
        aux_logits: ``(B, num_classes)`` auxiliary logits of the last forward in training mode, else None.
        auxiliary_index: the cell after which the auxiliary head reads (``2 * layers // 3``).

    Submodules: ``stem``, ``cells``, ``auxiliary_head`` (only with ``auxiliary=True``), ``global_pooling``,
    ``classifier``.
    """

    def __init__(self, genotype: GenotypeLike, C: int = 36, layers: int = 20, num_classes: int = 10,
                 auxiliary: bool = True, drop_path_prob: float = 0.0, in_channels: int = 3,
                 drop_path_mode: str = "auto") -> None:
        super().__init__()
        if C < 1 or layers < 1 or num_classes < 1 or in_channels < 1:
            raise ValueError(f"C, layers, num_classes and in_channels must be positive, got "
                             f"C={C}, layers={layers}, num_classes={num_classes}, in_channels={in_channels}")
        if not 0.0 <= drop_path_prob < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {drop_path_prob}")
        self.genotype = parse_genotype(genotype)
        self.drop_path_mode = resolve_drop_path_mode(self.genotype, drop_path_mode)
        self.drop_path_prob = float(drop_path_prob)
        self.aux_logits: torch.Tensor | None = None
        self.auxiliary_index = 2 * layers // 3
        reduction_layers = {layers // 3, 2 * layers // 3}

        C_stem = 3 * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_stem),
        )
        normal = genotype_edges(self.genotype, "normal")
        reduce = genotype_edges(self.genotype, "reduce")
        C_prev_prev, C_prev, C_curr = C_stem, C_stem, C
        reduction_prev = False
        C_aux = C_prev
        self.cells = nn.ModuleList()
        for i in range(layers):
            reduction = i in reduction_layers
            if reduction:
                C_curr *= 2
            edges, concat = (reduce, self.genotype.reduce_concat) if reduction else (normal, self.genotype.normal_concat)
            cell = EvalCell(edges, concat, C_prev_prev, C_prev, C_curr, reduction, reduction_prev,
                            self.drop_path_mode)
            self.cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == self.auxiliary_index:
                C_aux = C_prev
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(C_aux, num_classes)
        self.has_auxiliary = auxiliary
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def __getstate__(self) -> dict:
        # The aux logits of the last forward are a graph node, which deepcopy and pickle refuse.
        state = dict(super().__getstate__())
        state["aux_logits"] = None
        return state

    def forward_with_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, in_channels, H, W) -> (logits (B, num_classes), aux logits (B, num_classes) or None)``.

        The auxiliary logits are computed only in training mode with an auxiliary head.
        """
        logits_aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.auxiliary_index and self.has_auxiliary and self.training:
                logits_aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits, logits_aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W) -> (B, num_classes)`` logits; sets :attr:`aux_logits` (see module doc)."""
        logits, self.aux_logits = self.forward_with_aux(x)
        return logits


def build_network(genotype: GenotypeLike, C: int = 36, layers: int = 20, num_classes: int = 10,
                  auxiliary: bool = True, drop_path_prob: float = 0.0, in_channels: int = 3,
                  drop_path_mode: str = "auto") -> NetworkCIFAR:
    """Build the DARTS CIFAR evaluation network for ``genotype`` (a Genotype, its text, or a published name).

    ``build_network("DARTS_V2")`` (C=36, 20 layers) has 3,349,342 parameters without the auxiliary head,
    DARTS' reported 3.3M (Liu et al., 2019, Table 1).
    """
    return NetworkCIFAR(genotype, C=C, layers=layers, num_classes=num_classes, auxiliary=auxiliary,
                        drop_path_prob=drop_path_prob, in_channels=in_channels, drop_path_mode=drop_path_mode)
