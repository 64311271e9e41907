"""Which machine ran a run, and which float32 arithmetic it has.

Every ``result.json`` that a search, a training or a sweep writes records :func:`machine_info`: the CPU model,
the vectorised kernels PyTorch picked for it (``torch.backends.cpu.get_cpu_capability()``: ``avx512``,
``avx2``, ``default``, or an ARM name; the environment variable ``ATEN_CPU_CAPABILITY`` lowers it), the torch
version, the number of threads, the CUDA device where there is one, and the :func:`arithmetic_fingerprint`.

**Why the arithmetic matters.** On one thread a CPU search is deterministic on a given CPU, but not across
CPUs: float32 reductions round differently with the vector width and the kernels, and the alphas' Adam steps,
which divide gradients near zero by their own size, turn a last-bit difference into a full step of the other
sign within the first epoch. Two machines that run the same command therefore write different searches, and a
bit-exact comparison with a committed run is only meaningful on a machine whose arithmetic matches the one
that wrote it. The CPU's name does not decide that (one model runs different kernels under
``ATEN_CPU_CAPABILITY``; two models may round alike): :func:`arithmetic_fingerprint` does, by hashing the
bits of one fixed forward and backward pass of a small NAS-Bench-201 supernet on one thread.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
from pathlib import Path
from typing import Any

import torch

__all__ = ["machine_info", "machine_label", "arithmetic_fingerprint", "cpu_model"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`), or ``"unknown"``."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        try:
            for line in cpuinfo.read_text(errors="replace").splitlines():
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip() or "unknown"
        except OSError:
            pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=None)
def arithmetic_fingerprint() -> str:
    """A 16-hex-digit hash of the float32 bits of one fixed forward and backward pass on one CPU thread.

    The pass is the collapse regime's supernet (NAS-Bench-201, C = 8, 5 cells per stage, 10 classes) on a fixed
    batch of 64 random 8x8 images, with weights from ``torch.manual_seed(0)``: the hash covers the loss and the
    gradients of every weight and alpha, so it changes when any convolution, batch norm, reduction or softmax
    rounds differently. Two machines with the same fingerprint ran these kernels bit-identically; the
    reproduction test (``tests/test_results_reproduce.py``) runs its bit-exact check only where the
    fingerprint matches the one recorded with a committed reference. About 0.3 s; computed once per process.
    """
    from dartslib.space.spaces import get_space
    from dartslib.space.supernet import build_supernet

    threads = torch.get_num_threads()
    rng_state = torch.get_rng_state()
    try:
        torch.set_num_threads(1)
        torch.manual_seed(0)
        model = build_supernet(get_space("nb201"), C=8, num_classes=10, cells_per_stage=5, in_channels=3)
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(64, 3, 8, 8, generator=generator)
        y = torch.randint(0, 10, (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        digest = hashlib.sha256(loss.detach().numpy().tobytes())
        for name, param in sorted(model.named_parameters()):
            if param.grad is not None:
                digest.update(name.encode())
                digest.update(param.grad.detach().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(rng_state)


def machine_info(device: str | torch.device | None = None) -> dict[str, Any]:
    """What ``result.json`` records under ``"machine"``: CPU model, CPU capability, torch version, threads,
    the CUDA device's name (``None`` on a CPU run), and the CPU's :func:`arithmetic_fingerprint`."""
    cuda_name = None
    if device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available():
        cuda_name = torch.cuda.get_device_name(torch.device(device))
    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "aten_cpu_capability_env": os.environ.get("ATEN_CPU_CAPABILITY"), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cuda_device": cuda_name, "arithmetic": arithmetic_fingerprint(),
            "platform": platform.platform()}



def machine_label(info: dict[str, Any] | None) -> str:
    """One short line for a table: ``"Intel(R) Xeon(R) Processor, AVX512, 139dd5c6"`` (CPU, capability, the
    first 8 digits of the arithmetic fingerprint; ``", cuda: NAME"`` on a GPU run), or ``"not recorded"`` for a
    ``result.json`` written before runs recorded their machine."""
    if not isinstance(info, dict):
        return "not recorded"
    label = f"{info.get('cpu', '?')}, {info.get('cpu_capability', '?')}, {str(info.get('arithmetic', '?'))[:8]}"
    return label + (f", cuda: {info['cuda_device']}" if info.get("cuda_device") else "")
