"""Model size: parameter counts and multiply-accumulates (MACs), as the NAS literature reports them.

Parameter counts follow DARTS (Liu et al., ICLR 2019): the auxiliary head, used only in training, is
left out. MACs count the multiply-accumulates of convolutions and linear layers for one image, which is
what the DARTS family reports as "multiply-adds" or "FLOPs" (e.g. FairDARTS Table 1, Chu et al., ECCV
2020); BN, activations, pooling and additions are not counted.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = ["count_parameters", "count_macs", "AUXILIARY_MODULE_NAME"]

AUXILIARY_MODULE_NAME = "auxiliary_head"
"""Parameters under a submodule of this name are excluded by :func:`count_parameters` by default."""

_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_parameters(model: nn.Module, include_auxiliary: bool = False) -> int:
    """Number of parameters (shared ones once), without any ``auxiliary_head`` submodule unless asked."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters: model must be a torch.nn.Module, got {type(model).__name__}")
    total = 0
    for name, parameter in model.named_parameters():
        if not include_auxiliary and AUXILIARY_MODULE_NAME in name.split("."):
            continue
        total += parameter.numel()
    return total


def _conv_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    """``out_elements * (C_in / groups) * prod(kernel)`` for the whole batch."""
    kernel = math.prod(module.kernel_size)
    return output.numel() * (module.in_channels // module.groups) * kernel


def _linear_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    """``out_elements * in_features`` for the whole batch."""
    return output.numel() * module.in_features


def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-accumulates of the Conv and Linear layers of ``model`` for one input of ``input_size``.

    Runs one forward pass on zeros in eval mode under ``torch.no_grad()`` with forward hooks (so the
    auxiliary head, which runs only in training, is excluded) and restores every submodule's mode.

    Args:
        model: any module whose forward takes one tensor.
        input_size: ``(C, H, W)`` or ``(N, C, H, W)``; any shape other than 3 entries is taken to start
            with the batch size (e.g. ``(1, features)`` for a linear model). The result is per sample.

    Returns:
        MACs per sample; a Conv2d costs ``out_elements * (C_in / groups) * kH * kW``, a Linear
        ``out_features * in_features`` per position.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_macs: model must be a torch.nn.Module, got {type(model).__name__}")
    size = tuple(int(s) for s in input_size)
    if len(size) == 3:
        size = (1,) + size
    if len(size) < 2 or any(s < 1 for s in size):
        raise ValueError(f"input_size must be (C, H, W) or (N, C, H, W) with positive sizes, got {tuple(input_size)}")
    reference = next(iter(model.parameters()), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.float32

    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _linear_macs(module, inputs, output) if isinstance(module, nn.Linear) else \
            _conv_macs(module, inputs, output)

    modes = {module: module.training for module in model.modules()}
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear,) + _CONV_TYPES)]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(size, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return total // size[0]
