"""The reference the benchmark measures dartslib against: a DARTS supernet written exactly as the paper
describes it (Liu et al., 2019, Sec. 2.2 and Eq. 2), with nothing clever.

* every edge runs every candidate op on its input, ``none`` included (an all-zero tensor, multiplied by its
  weight and added), one module per op per edge;
* average pooling is ``nn.AvgPool2d(3, stride, 1, count_include_pad=False)``, max pooling ``nn.MaxPool2d``;
* float32, NCHW (default memory format), for-loop SGD and Adam;
* the data come from a torchvision-style ``DataLoader``: a ``Dataset`` whose ``__getitem__`` crops
  (zero padding 4), flips and normalises one image at a time, collated into batches on the host and
  copied to the device every step.

The modules are named as dartslib names its own (``cells.3.edges.5.ops.4.0.1.weight`` ...), so
``dartslib_model.load_state_dict(baseline.state_dict())`` maps one onto the other and the equality tests
(``tests/test_speed_equivalence.py``) compare the two on the same weights. The maths is dartslib's search
supernet (affine-free BN in the cells; a BN after every pooling op in DARTS-topology cells, as DARTS'
``MixedOp``; NB201 cells as the benchmark's ``SearchCell``: no BN after pooling, a bias in every conv).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from dartslib.space.spaces import SearchSpace, get_space

__all__ = ["BaselineDartsSupernet", "BaselineNB201Supernet", "build_baseline", "AugmentedImages",
           "baseline_loader", "baseline_step"]


# ------------------------------------------------------------------------------------------- ops
class ReLUConvBN(nn.Sequential):
    def __init__(self, C_in: int, C_out: int, k: int, stride: int, padding: int, affine: bool = False,
                 bias: bool = False) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(C_in, C_out, k, stride, padding, bias=bias),
                         nn.BatchNorm2d(C_out, affine=affine))


class DilConv(nn.Sequential):
    def __init__(self, C_in: int, C_out: int, k: int, stride: int, padding: int, dilation: int,
                 affine: bool = False) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(C_in, C_in, k, stride, padding, dilation=dilation, groups=C_in, bias=False),
                         nn.Conv2d(C_in, C_out, 1, bias=False), nn.BatchNorm2d(C_out, affine=affine))


class SepConv(nn.Sequential):
    def __init__(self, C_in: int, C_out: int, k: int, stride: int, padding: int, affine: bool = False) -> None:
        super().__init__(DilConv(C_in, C_in, k, stride, padding, 1, affine),
                         DilConv(C_in, C_out, k, 1, padding, 1, affine))


class FactorizedReduce(nn.Module):
    def __init__(self, C_in: int, C_out: int, affine: bool = False) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)))], 1))


class Zero(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def build_op(name: str, C: int, stride: int, nb201: bool = False) -> nn.Module:
    """One candidate op of a search cell (affine-free BN; in DARTS cells pooling is followed by a BN, in
    NB201 cells it is not and the convs have a bias, as NAS-Bench-201's ``SearchCell``)."""
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(C, affine=False))
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        return pool if nb201 else nn.Sequential(pool, nn.BatchNorm2d(C, affine=False))
    if name == "skip_connect":
        return Identity() if stride == 1 else FactorizedReduce(C, C)
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        return SepConv(C, C, k, stride, k // 2)
    if name.startswith("dil_conv_"):
        k = int(name[-1])
        return DilConv(C, C, k, stride, k - 1, 2)
    if name == "nor_conv_1x1":
        return ReLUConvBN(C, C, 1, stride, 0, bias=nb201)
    if name == "nor_conv_3x3":
        return ReLUConvBN(C, C, 3, stride, 1, bias=nb201)
    raise ValueError(f"the baseline has no op {name!r}")


class MixedOp(nn.Module):
    """DARTS Eq. 2: ``sum_o w_o * o(x)`` over every op, ``none`` included."""

    def __init__(self, op_names: Sequence[str], C: int, stride: int, nb201: bool = False) -> None:
        super().__init__()
        self.ops = nn.ModuleList(build_op(name, C, stride, nb201) for name in op_names)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops))


# ------------------------------------------------------------------------------------------- cells
class DartsCell(nn.Module):
    def __init__(self, edge_ops: Sequence[Sequence[str]], steps: int, C_pp: int, C_p: int, C: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction, self.steps = reduction, steps
        self.preprocess0 = FactorizedReduce(C_pp, C) if reduction_prev else ReLUConvBN(C_pp, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0)
        self.edges = nn.ModuleList()
        for i in range(steps):
            for j in range(2 + i):
                self.edges.append(MixedOp(edge_ops[len(self.edges)], C, 2 if reduction and j < 2 else 1))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self.steps):
            s = sum(self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[2:], dim=1)


class NB201Cell(nn.Module):
    def __init__(self, edge_ops: Sequence[Sequence[str]], edges: Sequence[tuple[int, int]], C: int) -> None:
        super().__init__()
        self.edge_index = tuple(edges)
        self.edges = nn.ModuleList(MixedOp(ops, C, 1, nb201=True) for ops in edge_ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, 1 + max(to for to, _ in self.edge_index)):
            nodes.append(sum(self.edges[e](nodes[src], weights[e])
                             for e, (to, src) in enumerate(self.edge_index) if to == node))
        return nodes[-1]


class ResNetBasicBlock(nn.Module):
    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine=True)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


# ------------------------------------------------------------------------------------------- networks
class _Alphas(nn.Module):
    def _init_alphas(self, space: SearchSpace) -> None:
        self.space = space
        self.arch_params = nn.ParameterDict({
            ct: nn.Parameter(1e-3 * torch.randn(len(space.edge_ops[ct]), space.num_ops(ct)))
            for ct in space.cell_types})

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.arch_params[ct] for ct in self.space.cell_types]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]


class BaselineDartsSupernet(_Alphas):
    """DARTS' CIFAR search network, ``(B, 3, H, W) -> (B, num_classes)``."""

    def __init__(self, space: str | SearchSpace = "darts", C: int = 16, layers: int = 8, num_classes: int = 10,
                 steps: int = 4, stem_multiplier: int = 3) -> None:
        super().__init__()
        space = get_space(space)
        self._init_alphas(space)
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_pp, C_p, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            self.cells.append(DartsCell(space.edge_ops["reduce" if reduction else "normal"], steps, C_pp, C_p,
                                        C_curr, reduction, reduction_prev))
            reduction_prev = reduction
            C_pp, C_p = C_p, steps * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = {ct: torch.softmax(a, dim=-1) for ct, a in self.arch_params.items()}
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights["reduce" if cell.reduction else "normal"])
        return self.classifier(self.global_pooling(s1).flatten(1))


class BaselineNB201Supernet(_Alphas):
    """NAS-Bench-201's search network, ``(B, 3, H, W) -> (B, num_classes)``."""

    def __init__(self, space: str | SearchSpace = "nb201", C: int = 16, cells_per_stage: int = 5,
                 num_classes: int = 10) -> None:
        super().__init__()
        space = get_space(space)
        self._init_alphas(space)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        C_prev = C
        for stage, C_curr in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                blocks.append(ResNetBasicBlock(C_prev, C_curr))
            blocks.extend(NB201Cell(space.edge_ops["cell"], space.edges, C_curr) for _ in range(cells_per_stage))
            C_prev = C_curr
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.arch_params["cell"], dim=-1)
        x = self.stem(x)
        for block in self.cells:
            x = block(x, weights) if isinstance(block, NB201Cell) else block(x)
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))


def build_baseline(space: str, C: int = 16, layers: int = 8, cells_per_stage: int = 5,
                   num_classes: int = 10) -> _Alphas:
    """The baseline supernet of a dartslib space (DARTS-topology spaces or NB201)."""
    space_ = get_space(space)
    if space_.topology == "nb201":
        return BaselineNB201Supernet(space_, C, cells_per_stage, num_classes)
    return BaselineDartsSupernet(space_, C, layers, num_classes)


# ------------------------------------------------------------------------------------------- data
class AugmentedImages(torch.utils.data.Dataset):
    """torchvision-style dataset: uint8 ``(N, 3, H, W)`` images; ``__getitem__`` pads by ``H // 8``, crops
    at random, flips at random and normalises one image (``transforms.Compose([RandomCrop(32, padding=4),
    RandomHorizontalFlip(), ToTensor(), Normalize(mean, std)])`` on a tensor)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: Sequence[float],
                 std: Sequence[float], augment: bool = True) -> None:
        self.images, self.labels, self.augment = images, labels, augment
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].float().div(255)
        if self.augment:
            _, height, width = image.shape
            pad = height // 8
            padded = nn.functional.pad(image, (pad, pad, pad, pad))
            top, left = torch.randint(0, 2 * pad + 1, (2,)).tolist()
            image = padded[:, top:top + height, left:left + width]
            if torch.rand(()) < 0.5:
                image = image.flip(-1)
        return (image - self.mean) / self.std, self.labels[index]


def baseline_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int, mean: Sequence[float],
                    std: Sequence[float], augment: bool = True, num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A shuffling ``DataLoader`` over :class:`AugmentedImages` (DARTS' ``torch.utils.data.DataLoader`` with
    a ``SubsetRandomSampler``), pinned memory when CUDA is there."""
    return torch.utils.data.DataLoader(AugmentedImages(images, labels, mean, std, augment), batch_size=batch_size,
                                       shuffle=True, num_workers=num_workers, drop_last=True,
                                       pin_memory=torch.cuda.is_available())


def baseline_step(model: _Alphas, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                  weight_optimizer: torch.optim.Optimizer, arch_optimizer: torch.optim.Optimizer,
                  grad_clip: float = 5.0) -> float:
    """One DARTS first-order search step as the paper's code writes it: the alphas' step on the validation
    batch, then the weights' step on the training batch (clipped), the loss read back every step."""
    criterion = nn.CrossEntropyLoss()
    arch_optimizer.zero_grad()
    criterion(model(x_val), y_val).backward()
    arch_optimizer.step()
    weight_optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    nn.utils.clip_grad_norm_(model.weight_parameters(), grad_clip)
    weight_optimizer.step()
    return loss.item()
