"""NAS-Bench-201 (Dong & Yang, ICLR 2020): architecture strings and the inference network.

A cell has 4 nodes; node ``j`` sums ``op_{j,i}(node_i)`` over ``i < j`` and node 3 is the output. The
6 edges, in the order of :data:`dartslib.space.spaces.NB201_EDGES`, are written as
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: one ``|...|`` group per node 1..3, one ``op~i`` per input.
The strings are parsed by :mod:`dartslib.arch.architecture` (:func:`parse_nb201_arch`,
:class:`NB201Arch`, :func:`~dartslib.arch.architecture.parse_architecture`), re-exported here.

The network (the benchmark's inference net for CIFAR): 3x3 stem conv to ``C`` channels + BN, three
stages of ``cells_per_stage`` cells (the benchmark's N) on ``C``, ``2C`` and ``4C`` channels joined by
stride-2 ResNet basic blocks, then BN, ReLU, global average pooling and a linear classifier.

Anchors (``C=16, cells_per_stage=5``, 10 classes, 32x32): the all-``nor_conv_3x3`` cell has 1,531,546
parameters and 220,119,680 MACs, the all-``none`` cell (or any parameter-free cell) 73,306 parameters and
7,783,040 MACs. These are the benchmark's CIFAR-10 extremes, 0.073306M..1.531546M parameters and
7.78305M..220.11969M FLOPs; its FLOPs add one per classifier output for the bias, which
:func:`dartslib.arch.counting.count_macs` leaves out (10 fewer).
"""
from __future__ import annotations

import warnings
from typing import Sequence, Union

import torch
from torch import nn

from dartslib.arch.architecture import NB201_NUM_NODES, NB201Arch, format_nb201_arch, is_nb201_arch, parse_nb201_arch
from dartslib.space.ops import ResNetBasicBlock, build_op
from dartslib.space.spaces import NB201_EDGES

__all__ = ["is_nb201_arch", "parse_nb201_arch", "format_nb201_arch", "NB201Arch", "NB201Cell", "NB201Network",
           "build_nb201_network", "NB201_NUM_NODES"]

ArchLike = Union[str, NB201Arch, Sequence[str]]


def _as_ops(arch: ArchLike) -> tuple[str, ...]:
    if isinstance(arch, NB201Arch):
        return arch.ops
    if isinstance(arch, str):
        return parse_nb201_arch(arch)
    return NB201Arch(arch).ops


def _cells_per_stage(cells_per_stage: int, N: int | None, where: str) -> int:
    """``cells_per_stage``, or the deprecated ``N=`` (with a FutureWarning naming the new keyword)."""
    if N is None:
        return cells_per_stage
    if cells_per_stage != 5:
        raise ValueError(f"{where}: got both cells_per_stage={cells_per_stage} and N={N}; give cells_per_stage "
                         "only (N is its deprecated name)")
    warnings.warn(f"{where}(N=...) is deprecated; use cells_per_stage=... (the name the config, the supernet "
                  "and the CLI use)", FutureWarning, stacklevel=3)
    return N


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
    """The NAS-Bench-201 CIFAR inference network. ``(B, in_channels, H, W) -> (B, num_classes)`` logits.

    ``cells_per_stage`` (default 5, the benchmark's N) cells in each of the 3 stages; ``N=`` is its
    deprecated name (a FutureWarning).
    """

    def __init__(self, arch: ArchLike, C: int = 16, cells_per_stage: int = 5, num_classes: int = 10,
                 in_channels: int = 3, *, N: int | None = None) -> None:
        super().__init__()
        cells_per_stage = _cells_per_stage(cells_per_stage, N, "NB201Network")
        if C < 1 or cells_per_stage < 0 or num_classes < 1 or in_channels < 1:
            raise ValueError(f"need C >= 1, cells_per_stage >= 0, num_classes >= 1, in_channels >= 1; got C={C}, "
                             f"cells_per_stage={cells_per_stage}, num_classes={num_classes}, in_channels={in_channels}")
        self.ops = _as_ops(arch)
        self.arch = format_nb201_arch(self.ops)
        self.cells_per_stage = cells_per_stage
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        C_prev = C
        for stage in range(3):
            C_stage = C * 2 ** stage
            if stage > 0:
                layers.append(ResNetBasicBlock(C_prev, C_stage, stride=2, affine=True))
            layers.extend(NB201Cell(self.ops, C_stage) for _ in range(cells_per_stage))
            C_prev = C_stage
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))


def build_nb201_network(arch_str: ArchLike, C: int = 16, cells_per_stage: int = 5, num_classes: int = 10,
                        in_channels: int = 3, *, N: int | None = None) -> NB201Network:
    """Build the NAS-Bench-201 network for an architecture string, an :class:`NB201Arch` or a sequence of
    its 6 ops; ``cells_per_stage`` defaults to 5 (the benchmark's N; ``N=`` is its deprecated name)."""
    cells_per_stage = _cells_per_stage(cells_per_stage, N, "build_nb201_network")
    return NB201Network(arch_str, C=C, cells_per_stage=cells_per_stage, num_classes=num_classes,
                        in_channels=in_channels)
