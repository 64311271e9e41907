"""Devices: the device contract, why CUDA is not there, and the GPU's speed-against-repeatability switches.

**The device contract.** A function that takes a model and data moves the data to the model's device. Every
measurement, diagnostic and book helper that takes ``(model, batches)`` calls :func:`model_device` once and
:func:`to_device` (or :func:`batches_on`) on the batches it uses, so a chapter may build its batches on the CPU
and hand them to a model that a search left on CUDA (``tests/test_device_contract.py`` checks every such
function on the meta device, without a GPU).

**Why not CUDA.** :func:`cuda_unavailable_reason` says in one line why ``torch.cuda.is_available()`` is False
(a CPU-only torch build, no GPU visible, or a driver too old for this torch's CUDA); a search or training at
``small``/``paper`` scale that ``device="auto"`` puts on the CPU warns with it (:class:`CPUFallbackWarning`).

**Repeatability on a GPU.** Bit-exact resume (a run stopped and resumed equals the run that was never stopped)
is a *CPU* guarantee, tested on the CPU. On CUDA, cuDNN picks convolution algorithms and some kernels sum in a
nondeterministic order (atomic adds), so two runs of the same seed agree only to rounding, which a search
amplifies over its epochs; a resumed CUDA run continues from the exact saved state (weights, optimizers, data
order, random streams) but its later steps round as any other CUDA run does. Two switches, read from the
environment when a run resolves its CUDA device (:func:`configure_cuda`):

* ``DARTSLIB_DETERMINISTIC=1``: ``torch.use_deterministic_algorithms(True)`` (warn-only where an op has no
  deterministic kernel), ``cudnn.deterministic = True`` and ``CUBLAS_WORKSPACE_CONFIG=:4096:8``: the same seed
  on the same GPU, driver and torch gives the same run, resumed or not. Costs speed: typically some tens of
  percent on convolutions (cuDNN's fastest kernels are excluded); not measured for dartslib yet.
* ``DARTSLIB_CUDNN_BENCHMARK=1``: ``cudnn.benchmark = True``: cuDNN times the algorithms for each new input
  shape and keeps the fastest. Faster for the fixed shapes of a search, but the choice itself may differ
  between runs, so it is off by default and ignored when ``DARTSLIB_DETERMINISTIC=1``.

A leaf module: it imports nothing of dartslib.
"""
from __future__ import annotations

import os
from typing import Iterable, Iterator, TypeVar

import torch
from torch import nn

__all__ = ["model_device", "to_device", "batches_on", "synchronize", "cuda_unavailable_reason",
           "CPUFallbackWarning", "configure_cuda", "DETERMINISTIC_ENV", "CUDNN_BENCHMARK_ENV"]

DETERMINISTIC_ENV = "DARTSLIB_DETERMINISTIC"
CUDNN_BENCHMARK_ENV = "DARTSLIB_CUDNN_BENCHMARK"


class CPUFallbackWarning(UserWarning):
    """A ``small``/``paper`` run that ``device="auto"`` put on the CPU because CUDA is not usable."""

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


def cuda_unavailable_reason() -> str | None:
    """None when CUDA is usable; otherwise one line saying why not (from torch's own diagnosis)."""
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return (f"this torch ({torch.__version__}) is a CPU-only build: install a CUDA build of torch "
                f"(https://pytorch.org/get-started/locally/)")
    try:
        torch.cuda.init()
    except Exception as exc:  # noqa: BLE001 - torch says why: driver too old, no device, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) cannot start CUDA: {first}"
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return "CUDA_VISIBLE_DEVICES is set to an empty string, which hides every GPU"
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU (is a GPU attached, its driver loaded?)"


def configure_cuda(environ: dict[str, str] | None = None) -> dict[str, bool]:
    """Apply ``DARTSLIB_DETERMINISTIC`` and ``DARTSLIB_CUDNN_BENCHMARK`` (module docstring) to torch's CUDA
    backends; returns what was set. Call it before the first CUDA work of a run."""
    env = os.environ if environ is None else environ
    deterministic = env.get(DETERMINISTIC_ENV, "0") not in ("", "0", "false", "no")
    benchmark = not deterministic and env.get(CUDNN_BENCHMARK_ENV, "0") not in ("", "0", "false", "no")
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS' deterministic workspace
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = benchmark
    return {"deterministic": deterministic, "cudnn_benchmark": benchmark}
