"""NAS-Bench-201 (Dong & Yang, ICLR 2020): architecture strings and the inference network.

A cell has 4 nodes; node ``j`` sums ``op_{j,i}(node_i)`` over ``i < j`` and node 3 is the output. The
6 edges, in the order of :data:`dartslib.space.spaces.NB201_EDGES`, are written as
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: one ``|...|`` group per node 1..3, one ``op~i`` per input.

The network (the benchmark's inference net for CIFAR): 3x3 stem conv to ``C`` channels + BN, three
stages of ``N`` cells on ``C``, ``2C`` and ``4C`` channels joined by stride-2 ResNet basic blocks, then
BN, ReLU, global average pooling and a linear classifier.

Anchors (``C=16, N=5``, 10 classes, 32x32): the all-``nor_conv_3x3`` cell has 1,531,546 parameters and
220,119,680 MACs, the all-``none`` cell (or any parameter-free cell) 73,306 parameters and 7,783,040 MACs.
These are the benchmark's CIFAR-10 extremes, 0.073306M..1.531546M parameters and 7.78305M..220.11969M
FLOPs; its FLOPs add one per classifier output for the bias, which :func:`dartslib.arch.counting.count_macs`
leaves out (10 fewer).
"""
from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import nn

from dartslib.space.ops import ResNetBasicBlock, build_op
from dartslib.space.spaces import NB201_EDGES, NB201_OPS

__all__ = ["is_nb201_arch", "parse_nb201_arch", "format_nb201_arch", "NB201Cell", "NB201Network", "build_nb201_network",
           "NB201_NUM_NODES"]

NB201_NUM_NODES = 4
_MAX_ARCH_CHARS = 1_000

ArchLike = Union[str, Sequence[str]]


def is_nb201_arch(arch: object) -> bool:
    """Whether ``arch`` is written as an NB201 architecture string (``|op~0|+|...``) rather than a DARTS
    genotype: the one test of the notation used everywhere (a string is then parsed, and checked, by
    :func:`parse_nb201_arch`)."""
    return isinstance(arch, str) and arch.strip().startswith("|")


def _check_op(op: str, where: str) -> None:
    if op not in NB201_OPS:
        raise ValueError(f"unknown NAS-Bench-201 op {op!r} {where}; known ops: {', '.join(NB201_OPS)}")


def parse_nb201_arch(text: str) -> tuple[str, ...]:
    """The 6 edge ops of an architecture string, ordered (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).

    Surrounding whitespace is ignored; everything else is strict: exactly three ``+``-separated node
    groups, each wrapped in ``|``, node ``j`` listing inputs ``~0`` .. ``~j-1`` in order, ops from
    :data:`dartslib.space.spaces.NB201_OPS`.

    Raises:
        ValueError: naming the node group and the bad entry.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a NAS-Bench-201 architecture string, got {type(text).__name__}")
    if len(text) > _MAX_ARCH_CHARS:
        raise ValueError(f"architecture string has {len(text)} characters; the limit is {_MAX_ARCH_CHARS}")
    arch = text.strip()
    groups = arch.split("+")
    if len(groups) != NB201_NUM_NODES - 1:
        raise ValueError(f"expected {NB201_NUM_NODES - 1} node groups separated by '+', got {len(groups)} "
                         f"in {arch!r}")
    ops: list[str] = []
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise ValueError(f"node {node} group {group!r} must be written |op~0|...|")
        entries = group[1:-1].split("|")
        if len(entries) != node:
            raise ValueError(f"node {node} must have {node} input(s), got {len(entries)} in {group!r}")
        for expected_input, entry in enumerate(entries):
            where = f"in node {node} entry {entry!r}"
            op, sep, index = entry.partition("~")
            if not sep or "~" in index:
                raise ValueError(f"malformed entry {where}: expected op~input")
            _check_op(op, where)
            if not (index.isascii() and index.isdigit()) or int(index) != expected_input:
                raise ValueError(f"wrong input index {index!r} {where}: node {node} must list inputs "
                                 f"~0..~{node - 1} in order, so this entry needs ~{expected_input}")
            ops.append(op)
    return tuple(ops)


def format_nb201_arch(ops: Sequence[str]) -> str:
    """The architecture string of 6 edge ops given in :data:`NB201_EDGES` order (inverse of parsing)."""
    ops = tuple(ops)
    if len(ops) != len(NB201_EDGES):
        raise ValueError(f"NAS-Bench-201 cells have {len(NB201_EDGES)} edges, got {len(ops)} ops")
    groups: list[list[str]] = [[] for _ in range(NB201_NUM_NODES - 1)]
    for k, (op, (to, src)) in enumerate(zip(ops, NB201_EDGES)):
        _check_op(op, f"at edge {k} ({to}<-{src})")
        groups[to - 1].append(f"{op}~{src}")
    return "+".join("|" + "|".join(group) + "|" for group in groups)


def _as_ops(arch: ArchLike) -> tuple[str, ...]:
    if isinstance(arch, str):
        return parse_nb201_arch(arch)
    return parse_nb201_arch(format_nb201_arch(arch))


class NB201Cell(nn.Module):
    """The NAS-Bench-201 inference cell. ``(B, C, H, W) -> (B, C, H, W)``; ``none`` edges add zeros."""

    def __init__(self, ops: Sequence[str], C: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(build_op(op, C, 1, affine=True) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, NB201_NUM_NODES):
            total = None
            for edge, (to, src) in zip(self.edges, NB201_EDGES):
                if to == node:
                    h = edge(nodes[src])
                    total = h if total is None else total + h
            nodes.append(total)
        return nodes[-1]


class NB201Network(nn.Module):
    """The NAS-Bench-201 CIFAR inference network. ``(B, in_channels, H, W) -> (B, num_classes)`` logits."""

    def __init__(self, arch: ArchLike, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        if C < 1 or N < 0 or num_classes < 1 or in_channels < 1:
            raise ValueError(f"need C >= 1, N >= 0, num_classes >= 1, in_channels >= 1; got C={C}, N={N}, "
                             f"num_classes={num_classes}, in_channels={in_channels}")
        self.ops = _as_ops(arch)
        self.arch = format_nb201_arch(self.ops)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        C_prev = C
        for stage in range(3):
            C_stage = C * 2 ** stage
            if stage > 0:
                layers.append(ResNetBasicBlock(C_prev, C_stage, stride=2, affine=True))
            layers.extend(NB201Cell(self.ops, C_stage) for _ in range(N))
            C_prev = C_stage
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))


def build_nb201_network(arch_str: ArchLike, C: int = 16, N: int = 5, num_classes: int = 10,
                        in_channels: int = 3) -> NB201Network:
    """Build the NAS-Bench-201 network for an architecture string (or a sequence of its 6 ops)."""
    return NB201Network(arch_str, C=C, N=N, num_classes=num_classes, in_channels=in_channels)
