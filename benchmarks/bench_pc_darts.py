"""What PC-DARTS' partial channels save against DARTS: activation memory and search-step time.

PC-DARTS (Xu et al., 2020, Sec. 3.2; :mod:`dartslib.methods.pc_darts`) sends 1/K of every edge's channels
through its ops (K = 4), so the activations the ops keep for backward, and their work, shrink. This script
builds the DARTS supernet and the PC-DARTS one (the ``pc-darts`` preset's extensions: K = 4, and edge
normalisation in the DARTS space) from the same configuration and measures, per setting:

* ``saved_mb``: the activation memory of one training-mode forward pass, i.e. what autograd keeps for the
  backward pass (``torch.autograd.graph.saved_tensors_hooks``), counted once per storage (a view of a tensor
  that is already kept costs nothing more), on the CPU with real tensors. This is the memory that grows with
  the batch and that PC-DARTS targets;
* ``param_mb``: the weights (and alphas/betas);
* ``step_s`` / ``step_cpu_s``: one first-order search step (:func:`dartslib.engine.steps.arch_step_first_order`
  on a held-out batch, then :func:`dartslib.engine.steps.weight_step` with clipping at 5), the median over
  ``--reps`` rounds in which the two models alternate (after ``--warmup`` untimed steps each), wall and
  process CPU seconds, on ``--threads`` torch threads.

The settings: ``regime`` (NAS-Bench-201, C=8, N=5, 8x8 images, batch 64: the book's collapse regime),
``toy-darts`` (the DARTS space at the toy scale: C=8, 5 cells, 16x16, batch 64) and ``paper-darts`` (the DARTS
space at DARTS' search size: C=16, 8 cells, 32x32, batch 64; memory counted on the 'meta' device, where views
cannot be told apart, so every saved tensor counts in full, for both models alike; not timed). Data are
synthetic (a step's cost does not depend on the pixel values). It asserts nothing; ``tests/test_pc_darts.py``
runs it CI-sized.

    OMP_NUM_THREADS=1 python benchmarks/bench_pc_darts.py --json benchmarks/results_pc_darts_cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import torch

from dartslib.engine.config import make_config
from dartslib.engine.steps import arch_step_first_order, weight_step
from dartslib.methods.presets import prepare_supernet
from dartslib.space.supernet import build_supernet

SETTINGS = {
    "regime": dict(space="nb201", C=8, cells_per_stage=5, layers=8, image_size=8, batch=64, timed=True),
    "toy-darts": dict(space="darts", C=8, cells_per_stage=5, layers=5, image_size=16, batch=64, timed=True),
    "paper-darts": dict(space="darts", C=16, cells_per_stage=5, layers=8, image_size=32, batch=64, timed=False),
}


def models(setting: dict[str, Any], k: int, device: str = "cpu") -> dict[str, Any]:
    """``{"darts": supernet, "pc-darts": supernet}`` of one setting, the same weights where they coincide."""
    out = {}
    for name in ("darts", "pc-darts"):
        torch.manual_seed(0)
        config = make_config(name, setting["space"], "toy", C=setting["C"], layers=setting["layers"],
                             cells_per_stage=setting["cells_per_stage"],
                             **({"partial_channels": k} if name == "pc-darts" else {}))
        with torch.device(device):
            model = build_supernet(setting["space"], C=setting["C"], layers=setting["layers"], num_classes=10,
                                   cells_per_stage=setting["cells_per_stage"])
            prepare_supernet(model, config)
        out[name] = model.train()
    return out


def saved_bytes(model: Any, x: torch.Tensor) -> int:
    """Bytes autograd keeps for backward in one forward pass of ``model`` on ``x``, each storage once (on the
    meta device, every saved tensor in full)."""
    seen: dict[Any, int] = {}
    total = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.device.type == "meta":
            total[0] += t.numel() * t.element_size()
        else:
            storage = t.untyped_storage()
            seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x).sum()
    del loss
    return total[0] + sum(seen.values())


def step_closure(model: Any, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor):
    weights = torch.optim.SGD(model.weight_parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    arch = torch.optim.Adam(model.arch_parameters(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def step() -> None:
        arch_step_first_order(model, x_val, y_val, arch)
        weight_step(model, x, y, weights, 5.0)
    return step


def measure(name: str, setting: dict[str, Any], k: int, reps: int, warmup: int) -> dict[str, Any]:
    B, size = setting["batch"], setting["image_size"]
    device = "cpu" if setting["timed"] else "meta"
    nets = models(setting, k, device)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, 3, size, size, generator=g).to(device)
    result: dict[str, Any] = {"setting": name, **{k_: v for k_, v in setting.items() if k_ != "timed"},
                              "K": k, "memory_counted_on": device}
    for label, model in nets.items():
        result[label] = {"saved_mb": saved_bytes(model, x) / 2**20,
                         "param_mb": sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20}
    if setting["timed"]:
        y = torch.randint(0, 10, (B,), generator=g)
        x_val, y_val = torch.randn(B, 3, size, size, generator=g), torch.randint(0, 10, (B,), generator=g)
        steps = {label: step_closure(model, x, y, x_val, y_val) for label, model in nets.items()}
        for step in steps.values():
            for _ in range(warmup):
                step()
        walls: dict[str, list[float]] = {label: [] for label in steps}
        cpus: dict[str, list[float]] = {label: [] for label in steps}
        for r in range(reps):
            order = list(steps) if r % 2 == 0 else list(reversed(steps))  # interleaved, alternating order
            for label in order:
                t0, c0 = time.perf_counter(), time.process_time()
                steps[label]()
                walls[label].append(time.perf_counter() - t0)
                cpus[label].append(time.process_time() - c0)
        for label in steps:
            result[label].update(step_s=statistics.median(walls[label]), step_cpu_s=statistics.median(cpus[label]),
                                 walls=walls[label])
        result["ratio_step_cpu"] = result["pc-darts"]["step_cpu_s"] / result["darts"]["step_cpu_s"]
        result["ratio_step"] = result["pc-darts"]["step_s"] / result["darts"]["step_s"]
    result["ratio_saved"] = result["pc-darts"]["saved_mb"] / result["darts"]["saved_mb"]
    result["ratio_params"] = result["pc-darts"]["param_mb"] / result["darts"]["param_mb"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--K", type=int, default=4)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="override every setting's batch (CI-sized runs)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.reps < 1 or args.warmup < 0 or args.K < 1 or (args.batch is not None and args.batch < 2):
        parser.error("--reps and --K must be positive, --warmup non-negative, --batch at least 2")
    torch.set_num_threads(args.threads)
    results = []
    for name in args.settings:
        setting = {**SETTINGS[name], **({"batch": args.batch} if args.batch else {})}
        results.append(measure(name, setting, args.K, args.reps, args.warmup))
    print("| setting | memory counted on | saved for backward, DARTS (MB) | PC-DARTS (MB) | ratio | weights ratio "
          "| step CPU s, DARTS | PC-DARTS | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        timed = "step_cpu_s" in r["darts"]
        print(f"| {r['setting']} | {r['memory_counted_on']} | {r['darts']['saved_mb']:.1f} | "
              f"{r['pc-darts']['saved_mb']:.1f} | {r['ratio_saved']:.3f} | {r['ratio_params']:.3f} | "
              + (f"{r['darts']['step_cpu_s']:.3f} | {r['pc-darts']['step_cpu_s']:.3f} | {r['ratio_step_cpu']:.3f} |"
                 if timed else "not timed | | |"))
    report = {"results": results,
              "machine": {"command": " ".join([os.path.basename(sys.argv[0]), *(argv if argv is not None else sys.argv[1:])]),
                          "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                          "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                          "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                          "date": time.strftime("%Y-%m-%d")}}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
