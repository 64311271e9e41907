"""Candidate operations of the DARTS and NAS-Bench-201 search spaces.

Every op maps a tensor of shape ``(B, C_in, H, W)`` to ``(B, C_out, H / stride, W / stride)``.
``build_op(name, C, stride, affine)`` is the single factory used by the supernet and the
evaluation networks; an unknown name raises ``ValueError`` listing the known ones.

DARTS ops follow Liu et al. (ICLR 2019); NB201 ops follow Dong & Yang (ICLR 2020), where a
convolution is ReLU -> Conv -> BN and average pooling excludes padding from the count.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = [
    "ReLUConvBN", "SepConv", "DilConv", "FactorizedReduce", "Zero", "Identity", "Noise",
    "PoolBN", "AvgPool3x3", "ResNetBasicBlock", "OPS", "build_op", "PARAMETER_FREE_OPS", "pointwise_conv",
]


def pointwise_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a 1x1, stride-1, ungrouped ``conv``; on a channels_last ``x`` computed as one matrix
    product over the pixels (``(B*H*W, C_in) @ (C_in, C_out)``, no copies), the same sums and about 1.3-2x
    faster on CPU than oneDNN's convolution for the small channel counts of a supernet."""
    if (conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1
            and conv.dilation == (1, 1) and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)):
        return nn.functional.linear(x.permute(0, 2, 3, 1), conv.weight.flatten(1), conv.bias).permute(0, 3, 1, 2)
    return conv(x)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride, padding, dilation) -> BN. ``(B, C_in, H, W) -> (B, C_out, H', W')``.

    ``bias``: give the conv a bias. DARTS' ReLUConvBN never has one; NAS-Bench-201's builds its conv with
    ``bias=not affine`` (``xautodl/models/cell_operations.py``, Dong & Yang, 2020), so its affine-free
    search cells have a conv bias and its evaluation cells none (:data:`OPS` does the same for ``nor_conv``).
    """

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int,
                 dilation: int = 1, affine: bool = True, bias: bool = False) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride, padding, dilation=dilation, bias=bias),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward_from_relu(self, relu_x: torch.Tensor) -> torch.Tensor:
        """The op on an input whose ReLU is already taken (shared by the edges leaving one node)."""
        return self[2](pointwise_conv(self[1], relu_x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from_relu(self[0](x))


class DilConv(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN.

    A stride-2 conv with dilation 2 and "same" padding only reads the pixels of even rows and columns, so
    it is computed as the undilated conv on ``x[:, :, ::2, ::2]``: the same sum over the same pixels
    (exact maths), about 5x faster on CPU than oneDNN's dilated depthwise kernel.
    """

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int,
                 dilation: int, affine: bool = True) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride, padding, dilation=dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )
        k = kernel_size
        self._subsample = stride == 2 and dilation == 2 and padding == k - 1 and k % 2 == 1

    def forward_from_relu(self, relu_x: torch.Tensor) -> torch.Tensor:
        """The op on an input whose ReLU is already taken (shared by the edges leaving one node)."""
        depthwise = self[1]
        if self._subsample:
            k = depthwise.kernel_size[0]
            y = nn.functional.conv2d(relu_x[:, :, ::2, ::2], depthwise.weight, None, 1, k // 2, 1,
                                     depthwise.groups)
        else:
            y = depthwise(relu_x)
        return self[3](pointwise_conv(self[2], y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from_relu(self[0](x))


class SepConv(nn.Sequential):
    """Two stacked DilConv blocks with dilation 1; only the first one strides (DARTS' sep_conv)."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__(
            DilConv(C_in, C_in, kernel_size, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel_size, 1, padding, 1, affine),
        )

    def forward_from_relu(self, relu_x: torch.Tensor) -> torch.Tensor:
        """The op on an input whose ReLU is already taken (shared by the edges leaving one node)."""
        return self[1](self[0].forward_from_relu(relu_x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from_relu(self[0][0](x))


class FactorizedReduce(nn.Module):
    """Halves the resolution with two 1x1 stride-2 convs on pixel grids offset by one, concatenated.

    ``(B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))``; ``C_out`` must be even.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True) -> None:
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from_relu(self.relu(x))

    def forward_from_relu(self, x: torch.Tensor) -> torch.Tensor:
        """The op on an input whose ReLU is already taken (shared by the edges leaving one node)."""
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Zero(nn.Module):
    """The ``none`` op: an all-zero output of the strided shape."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Identity(nn.Module):
    """The stride-1 ``skip_connect`` op."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Noise(nn.Module):
    """RobustDARTS S4's ``noise`` op: standard normal noise of the output's shape, ignoring the input's values."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return torch.randn_like(x)


class AvgPool3x3(nn.Module):
    """3x3 average pooling with padding 1 that leaves the padding out of the count
    (``nn.AvgPool2d(3, stride, 1, count_include_pad=False)``), computed as a depthwise convolution with
    a ones kernel divided by the number of real pixels under the window: the same numbers, and several
    times faster than PyTorch's pooling kernel on CPU.
    """

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.kernel_size, self.padding, self.count_include_pad = 3, 1, False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, height, width = x.shape[1:]
        sums = nn.functional.conv2d(x, x.new_ones(channels, 1, 3, 3), stride=self.stride, padding=1, groups=channels)
        counts = nn.functional.conv2d(x.new_ones(1, 1, height, width), x.new_ones(1, 1, 3, 3),
                                      stride=self.stride, padding=1)
        return sums / counts

    def extra_repr(self) -> str:
        return f"stride={self.stride}, count_include_pad=False"


class PoolBN(nn.Sequential):
    """A pooling op followed by an affine-free BN, as DARTS' search cells use."""

    def __init__(self, pool: nn.Module, C: int) -> None:
        super().__init__(pool, nn.BatchNorm2d(C, affine=False))


class ResNetBasicBlock(nn.Module):
    """NAS-Bench-201's reduction block between stages: two ReLU-Conv-BN 3x3 (first strided) plus a
    shortcut AvgPool(2) -> Conv1x1. ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)``."""

    def __init__(self, C_in: int, C_out: int, stride: int = 2, affine: bool = True) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, 1, affine=affine)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine=affine)
        if stride == 2:
            self.shortcut: nn.Module = nn.Sequential(
                nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))
        elif C_in != C_out:
            self.shortcut = ReLUConvBN(C_in, C_out, 1, 1, 0, affine=affine)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


OpFactory = Callable[[int, int, bool], nn.Module]  # (C, stride, affine) -> module

OPS: dict[str, OpFactory] = {
    # DARTS space (Liu et al., 2019)
    "none": lambda C, stride, affine: Zero(stride),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "avg_pool_3x3": lambda C, stride, affine: AvgPool3x3(stride),
    "skip_connect": lambda C, stride, affine: Identity() if stride == 1 else FactorizedReduce(C, C, affine),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine),
    "sep_conv_7x7": lambda C, stride, affine: SepConv(C, C, 7, stride, 3, affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine),
    # RobustDARTS S4
    "noise": lambda C, stride, affine: Noise(stride),
    # NAS-Bench-201 (Dong & Yang, 2020)
    # (conv bias = not affine, as the benchmark's ReLUConvBN: a bias in the affine-free search cells only)
    "nor_conv_1x1": lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine=affine, bias=not affine),
    "nor_conv_3x3": lambda C, stride, affine: ReLUConvBN(C, C, 3, stride, 1, affine=affine, bias=not affine),
}

PARAMETER_FREE_OPS = frozenset({"none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "noise"})
"""Ops with no learnable weights at stride 1 (the ones that take over when DARTS collapses)."""


def build_op(name: str, C: int, stride: int = 1, affine: bool = True, pool_bn: bool = False) -> nn.Module:
    """Build candidate op ``name`` on ``C`` channels.

    Args:
        name: a key of :data:`OPS`.
        C: input and output channels.
        stride: 1, or 2 on reduction edges.
        affine: learnable BN scale/shift (False in search cells).
        pool_bn: follow pooling ops with an affine-free BN. DARTS' search cells do (``MixedOp`` in
            ``quark0/darts`` ``cnn/model_search.py``); NAS-Bench-201's do not (its ``POOLING`` op adds a
            ReLU-Conv-BN preprocess only when ``C_in != C_out``, never a BN after the pool).
    """
    if name not in OPS:
        raise ValueError(f"unknown op {name!r}; known ops: {', '.join(OPS)}")
    op = OPS[name](C, stride, affine)
    if pool_bn and "pool" in name:
        op = PoolBN(op, C)
    return op
