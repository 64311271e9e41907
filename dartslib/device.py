"""The device contract: a function that takes a model and data moves the data to the model's device.

Every measurement, diagnostic and book helper that takes ``(model, batches)`` calls :func:`model_device` once
and :func:`to_device` on each batch it uses, so a chapter may build its batches on the CPU and hand them to a
model that a search left on CUDA (``tests/test_device_contract.py`` checks every such function on the meta
device, without a GPU). A leaf module: it imports nothing of dartslib.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, TypeVar

import torch
from torch import nn

__all__ = ["model_device", "to_device", "batches_on", "synchronize"]

T = TypeVar("T")


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (else its first buffer); the CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def to_device(batch: T, device: torch.device | str) -> T:
    """``batch`` with every tensor in it on ``device``: a tensor, or tuples, lists and dicts of them (e.g. an
    ``(x, y)`` pair: ``x`` (B, C, H, W), ``y`` (B,)); anything else is returned as it is. A tensor already on
    ``device`` is not copied."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)  # type: ignore[return-value]
    if isinstance(batch, tuple):
        return type(batch)(*(to_device(b, device) for b in batch)) if hasattr(batch, "_fields") \
            else tuple(to_device(b, device) for b in batch)  # type: ignore[return-value]
    if isinstance(batch, list):
        return [to_device(b, device) for b in batch]  # type: ignore[return-value]
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}  # type: ignore[return-value]
    return batch


def batches_on(batches: Iterable[T], device: torch.device | str) -> Iterator[T]:
    """Each batch of ``batches`` moved to ``device`` as it is drawn (lazy: one batch at a time on the device)."""
    for batch in batches:
        yield to_device(batch, device)


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for the work queued on ``device`` (CUDA or MPS) to finish; nothing on the CPU. Time a step on a GPU
    between two calls of this: without it the clock measures the kernels' launch, not their work."""
    device = torch.device(device) if device is not None else None
    kind = device.type if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)
    elif kind == "mps" and hasattr(torch, "mps") and torch.backends.mps.is_available():
        torch.mps.synchronize()
