"""Time one supernet search step and an epoch: dartslib against the paper-faithful baseline (baseline.py).

One *step* is DARTS' first-order search step: a forward/backward on a validation batch and an Adam step of
the alphas, then a forward/backward on a training batch, gradient clipping and an SGD step of the weights.
Both implementations start from the same weights (the baseline's ``state_dict`` is loaded into dartslib's
supernet), run in this one process, and their repetitions are interleaved (A B B A ...), so a noisy shared
machine slows both alike; the figure to report is the ratio of the medians, dartslib / baseline.

* step: both take ready batches already on the device; the baseline reads its loss back every step
  (``loss.item()``, as DARTS' code logs), dartslib keeps it on the device as its search loop does.
* epoch: ``--epoch-steps`` steps including the data pipeline (baseline: a ``DataLoader`` with per-image
  crop/flip/normalise on the host; dartslib: :class:`dartslib.data.BatchIterator`, augmentation on the
  device), projected to a full epoch of ``--train-size`` images (``train-size / batch`` steps).
* data: synthetic 32x32 uint8 images with random labels in 10 classes (no dataset can be downloaded here);
  the cost of a step does not depend on the pixel values.
* memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` over a step; on CPU the peak resident
  memory above the level before the step, sampled every millisecond from ``/proc/self/statm`` (glibc told
  to hand freed blocks back at once during that step only); one extra, untimed step per implementation.
* FLOPs: the baseline's step counted once with ``torch.utils.flop_counter`` (convolutions and matmuls,
  forward and backward: the model FLOPs), divided by each implementation's step time; on CUDA the
  achieved TFLOP/s is divided by the device's dense float32 peak (MFU).

Run ``python benchmarks/bench_search_step.py --help``; the results table and the commands are in
``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import baseline_loader, baseline_step, build_baseline  # noqa: E402

from dartslib import build_supernet  # noqa: E402
from dartslib.data import BatchIterator, ImageData  # noqa: E402
from dartslib.engine.steps import arch_step_first_order, weight_step  # noqa: E402

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

# Dense (no sparsity) float32 / bfloat16 peaks in TFLOP/s, from NVIDIA's data sheets (SXM parts).
PEAK_TFLOPS = {"H100": {"float32": 67.0, "bfloat16": 989.4}, "H200": {"float32": 67.0, "bfloat16": 989.4},
               "A100": {"float32": 19.5, "bfloat16": 312.0}}


# ------------------------------------------------------------------------------------------- helpers
class Clock:
    """Wall and process-CPU seconds of a block; synchronises CUDA before reading the clocks."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __enter__(self) -> "Clock":
        self.sync()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sync()
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def release_freed_memory_at_once(on: bool) -> None:
    """``on``: make glibc hand every freed block above 128 KiB back to the OS at once, so that the resident
    size follows the memory PyTorch's CPU tensors hold and :class:`PeakRSS` measures a step's own peak
    instead of blocks kept from earlier steps. This makes every allocation a system call, so timing runs
    with it ``off`` (blocks up to 32 MiB kept in the heap, as glibc's own adaptive threshold ends up).
    Linux/glibc only; elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024 if on else 32 * 1024 * 1024)
    libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024 if on else 64 * 1024 * 1024)
    if on:
        libc.malloc_trim(0)  # hand back what earlier steps freed, so this step's pages count when touched


class PeakRSS:
    """Peak resident memory (bytes) above the level at entry, sampled by a thread (CPU runs; see
    :func:`release_freed_memory_at_once`)."""

    def __init__(self, interval: float = 1e-3) -> None:
        self.interval, self.page = interval, os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakRSS":
        self.start = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        self.bytes = max(self.peak, self._rss()) - self.start


def synthetic_images(n: int, size: int, num_classes: int, seed: int) -> ImageData:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, num_classes, (n,), generator=generator)
    return ImageData(images, labels, num_classes, MEAN, STD, "synthetic")


def optimizers(model: Any, lr: float = 0.025) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """DARTS' optimizers, as dartslib.search builds them (SGD momentum 0.9, wd 3e-4; Adam 3e-4, (0.5, 0.999))."""
    weights = torch.optim.SGD(model.weight_parameters(), lr, momentum=0.9, weight_decay=3e-4)
    arch = torch.optim.Adam(model.arch_parameters(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    return weights, arch


def count_flops(step: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peaks in PEAK_TFLOPS.items():
        if key in name:
            return peaks["float32"]
    return None


# ------------------------------------------------------------------------------------------- one configuration
def bench_config(space: str, device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    size, batch = args.image_size, args.batch
    torch.manual_seed(args.seed)
    shape = dict(C=args.C, layers=args.layers, cells_per_stage=args.cells_per_stage, num_classes=10)
    baseline = build_baseline(space, **shape).to(device)
    fast = build_supernet(space, **shape).to(device)
    fast.load_state_dict(baseline.state_dict())
    impls = {"baseline": baseline, "dartslib": fast}
    opts = {name: optimizers(model) for name, model in impls.items()}

    gen = torch.Generator().manual_seed(args.seed + 1)
    x, x_val = (torch.randn(batch, 3, size, size, generator=gen).to(device) for _ in range(2))
    y, y_val = (torch.randint(0, 10, (batch,), generator=gen).to(device) for _ in range(2))

    def step_of(name: str) -> Callable[[], Any]:
        model, (w_opt, a_opt) = impls[name], opts[name]
        if name == "baseline":
            return lambda: baseline_step(model, x, y, x_val, y_val, w_opt, a_opt, 5.0)

        def step() -> torch.Tensor:
            arch_step_first_order(model, x_val, y_val, a_opt)
            return weight_step(model, x, y, w_opt, 5.0)[0]
        return step

    steps = {name: step_of(name) for name in impls}
    flops = {name: count_flops(step) for name, step in steps.items()}  # also the first warm-up step
    for _ in range(args.warmup):
        for step in steps.values():
            step()

    clock = Clock(device)
    memory: dict[str, int] = {}
    for name, step in steps.items():  # peak memory of one step (an extra, untimed step)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            step()
            memory[name] = torch.cuda.max_memory_allocated(device)
        else:
            release_freed_memory_at_once(True)
            with PeakRSS() as rss:
                step()
            release_freed_memory_at_once(False)
            memory[name] = rss.bytes
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in impls}
    for rep in range(args.reps):
        order = list(impls) if rep % 2 == 0 else list(impls)[::-1]
        for name in order:
            with clock:
                steps[name]()
            times[name]["wall"].append(clock.wall)
            times[name]["cpu"].append(clock.cpu)

    # epoch: the data pipeline included, projected from --epoch-steps steps
    train = synthetic_images(args.epoch_steps * batch, size, 10, args.seed + 2)
    valid = synthetic_images(args.epoch_steps * batch, size, 10, args.seed + 3)
    epoch: dict[str, float] = {}
    for name in ("baseline", "dartslib"):
        model, (w_opt, a_opt) = impls[name], opts[name]
        with clock:
            if name == "baseline":
                train_loader = baseline_loader(train.images, train.labels, batch, MEAN, STD)
                valid_loader = baseline_loader(valid.images, valid.labels, batch, MEAN, STD)
                for (xb, yb), (xv, yv) in zip(train_loader, valid_loader):
                    xb, yb, xv, yv = (t.to(device, non_blocking=True) for t in (xb, yb, xv, yv))
                    baseline_step(model, xb, yb, xv, yv, w_opt, a_opt, 5.0)
            else:
                train_it = BatchIterator(train.to(device), batch, augment=True, seed=args.seed, drop_last=True)
                valid_stream = BatchIterator(valid.to(device), batch, augment=True, seed=args.seed + 1,
                                             drop_last=True).stream()
                loss_sum = torch.zeros((), device=device)
                for xb, yb in train_it.epoch(0):
                    xv, yv = next(valid_stream)
                    arch_step_first_order(model, xv, yv, a_opt)
                    loss_sum += weight_step(model, xb, yb, w_opt, 5.0)[0]
                loss_sum.item()  # one host read per epoch
        epoch[name] = clock.wall / args.epoch_steps * (args.train_size // batch)

    peak = peak_tflops(device)
    result: dict[str, Any] = {"space": space, "device": device.type, "batch": batch, "image_size": size,
                              "C": args.C, "layers": args.layers, "cells_per_stage": args.cells_per_stage}
    model_flops = flops["baseline"]  # the paper's model FLOPs; dartslib counts fewer (it skips none) or
    # more (its average pooling is a convolution), but the work asked of both is the same
    for name in impls:
        wall, cpu = statistics.median(times[name]["wall"]), statistics.median(times[name]["cpu"])
        tflops = model_flops / wall / 1e12
        result[name] = {"step_s": wall, "step_cpu_s": cpu, "images_per_s": batch / wall,
                        "epoch_s_projected": epoch[name], "peak_memory_mb": memory[name] / 2**20,
                        "gflop_per_step": model_flops / 1e9, "gflop_counted": flops[name] / 1e9, "tflops": tflops,
                        "mfu": tflops / peak if peak else None,
                        "walls": times[name]["wall"], "cpus": times[name]["cpu"]}
    result["ratio_step"] = result["dartslib"]["step_s"] / result["baseline"]["step_s"]
    result["ratio_step_cpu"] = result["dartslib"]["step_cpu_s"] / result["baseline"]["step_cpu_s"]
    result["ratio_epoch"] = result["dartslib"]["epoch_s_projected"] / result["baseline"]["epoch_s_projected"]
    result["search_50_epochs_min_projected"] = 50 * result["dartslib"]["epoch_s_projected"] / 60
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    rows = ["| space | device | impl | step (s) | step CPU (s) | images/s | epoch (s, projected) | "
            "peak mem (MB) | model GFLOP/step | GFLOP/s | MFU |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for name in ("baseline", "dartslib"):
            m = r[name]
            mfu = f"{100 * m['mfu']:.1f}%" if m["mfu"] is not None else "n/a"
            rows.append(f"| {r['space']} | {r['device']} | {name} | {m['step_s']:.3f} | {m['step_cpu_s']:.3f} | "
                        f"{m['images_per_s']:.1f} | {m['epoch_s_projected']:.0f} | {m['peak_memory_mb']:.0f} | "
                        f"{m['gflop_per_step']:.2f} | {1000 * m['tflops']:.1f} | {mfu} |")
        rows.append(f"| {r['space']} | {r['device']} | **ratio dartslib/baseline** | **{r['ratio_step']:.3f}** | "
                    f"{r['ratio_step_cpu']:.3f} | | {r['ratio_epoch']:.3f} | | | | |")
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spaces", nargs="+", default=["darts", "nb201"])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"],
                        help="cuda is skipped (and said so) when torch.cuda.is_available() is False")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--C", type=int, default=16)
    parser.add_argument("--layers", type=int, default=8, help="cells of the DARTS supernet")
    parser.add_argument("--cells-per-stage", type=int, default=5, help="N of the NB201 supernet")
    parser.add_argument("--reps", type=int, default=5, help="timed steps per implementation (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per implementation")
    parser.add_argument("--epoch-steps", type=int, default=3, help="steps timed for the epoch projection")
    parser.add_argument("--train-size", type=int, default=25000, help="images per epoch (CIFAR-10 half split)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    for name in ("batch", "image_size", "C", "layers", "cells_per_stage", "reps", "epoch_steps", "train_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
               "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))}
    print(json.dumps(machine), flush=True)
    results = []
    for device_name in args.devices:
        if device_name.startswith("cuda") and not torch.cuda.is_available():
            print(f"{device_name}: not measured, CUDA is not available here", flush=True)
            continue
        for space in args.spaces:
            result = bench_config(space, torch.device(device_name), args)
            results.append(result)
            if args.json is not None:  # after every configuration, so an interrupted run keeps what it measured
                write_json(args.json, machine, results)
            print(f"{space} on {device_name}: dartslib/baseline step {result['ratio_step']:.3f} "
                  f"(CPU-seconds {result['ratio_step_cpu']:.3f}), epoch {result['ratio_epoch']:.3f}", flush=True)
    print(markdown(results))
    if args.json is not None:
        write_json(args.json, machine, results)
    return results


def write_json(path: Path, machine: dict[str, Any], results: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine, "results": results,
                                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, indent=1))


if __name__ == "__main__":
    main()
