"""What a second-order DARTS architecture step costs against a first-order one, and why (issue 15).

DARTS' second-order architecture step (Liu et al., 2019, Eq. 6-8; :func:`dartslib.engine.steps.arch_step_second_order`)
makes four passes where the first-order step (Eq. 6 with xi = 0; :func:`dartslib.engine.steps.arch_step_first_order`)
makes one:

1. the training loss at ``w``, differentiated for the weights (the virtual step ``w' = w - xi * grad``);
2. the validation loss at ``w'`` (``torch.func.functional_call``), differentiated for the alphas *and* ``w'``;
3. and 4. the training loss at ``w+`` and at ``w-`` (Eq. 8), differentiated for the alphas only.

Counting passes says "about four times". But the passes are not equal: a backward pass that must produce the
weights' gradients runs every convolution's weight-gradient kernel as well as its input-gradient kernel, and
dartslib's first-order step asks for the alphas' gradient only (no weight-gradient kernels). So this script
times, on one supernet and one pair of batches:

* ``arch_1st``: :func:`arch_step_first_order` (forward + a backward for the alphas only);
* ``arch_1st_full``: the same step with ``loss.backward()`` over every parameter, as DARTS' code does;
* ``arch_2nd``: :func:`arch_step_second_order` (``xi`` = the weights' lr);
* ``search_1st`` / ``search_2nd``: a whole search step, the architecture step plus :func:`weight_step`;
* the passes themselves: ``pass_alpha`` (forward + backward for the alphas), ``pass_full`` (forward + backward
  for the weights and alphas), ``pass_functional`` (``pass_full`` through ``functional_call`` on a dict of
  weights with cloned buffers, as step 2 does), and ``pass_forward`` (forward only, the graph kept).

The pass model predicts ``arch_2nd ~ 2 * pass_full + 2 * pass_alpha`` (steps 1-2 full, 3-4 alphas only)
against ``arch_1st ~ pass_alpha``; the script reports both the measured and the predicted ratio.

Method: every timed operation runs ``--warmup`` times untimed first (the first calls allocate and pick
kernels), then ``--reps`` rounds in which every operation runs once, in an order rotated each round
(interleaved, so that load from other processes falls on all alike); the figures are medians over the
rounds, wall seconds (``time.perf_counter``) and process CPU seconds (``time.process_time``). The first,
cold call of each operation is recorded too, to show what a single un-warmed timing measures. Torch threads:
``--threads`` (default 1). Data: synthetic images with random labels (a step's cost does not depend on the
pixel values). It asserts nothing; ``tests/test_second_order_cost.py`` runs it CI-sized and checks the
pass structure and that the report is consistent.

    OMP_NUM_THREADS=1 python benchmarks/bench_second_order.py --json benchmarks/results_second_order_cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.func import functional_call

from dartslib import build_supernet
from dartslib.engine.steps import arch_step_first_order, arch_step_second_order, weight_step

CRITERION = torch.nn.CrossEntropyLoss()


def optimizers(model: Any, lr: float) -> tuple[torch.optim.SGD, torch.optim.Adam]:
    """DARTS' optimizers, as :mod:`dartslib.search` builds them (SGD momentum 0.9, wd 3e-4; Adam 3e-4)."""
    weights = torch.optim.SGD(model.weight_parameters(), lr, momentum=0.9, weight_decay=3e-4)
    arch = torch.optim.Adam(model.arch_parameters(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    return weights, arch


def operations(model: Any, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
               lr: float) -> dict[str, Callable[[], Any]]:
    """The timed operations, each a closure over one model and one pair of batches ``x, x_val: (B, 3, H, W)``."""
    w_opt, a_opt = optimizers(model, lr)
    alphas = model.arch_parameters()
    everything = list(model.weight_parameters()) + alphas

    def arch_1st_full() -> None:  # DARTS' code: loss.backward() fills the weights' gradients too
        a_opt.zero_grad(set_to_none=True)
        CRITERION(model(x_val), y_val).backward()
        a_opt.step()
        model.zero_grad(set_to_none=True)

    def pass_forward() -> None:
        CRITERION(model(x_val), y_val)

    def pass_alpha() -> None:
        torch.autograd.grad(CRITERION(model(x_val), y_val), alphas)

    def pass_full() -> None:
        torch.autograd.grad(CRITERION(model(x_val), y_val), everything)

    def pass_functional() -> None:  # step 2 of the second-order step: weights as a dict, buffers cloned
        weights = {n: w.detach().clone().requires_grad_() for n, w in model.named_weight_parameters()}
        state = {**weights, **{n: b.clone() for n, b in model.named_buffers()}}
        loss = CRITERION(functional_call(model, state, (x_val,)), y_val)
        torch.autograd.grad(loss, alphas + list(weights.values()))

    return {
        "arch_1st": lambda: arch_step_first_order(model, x_val, y_val, a_opt),
        "arch_1st_full": arch_1st_full,
        "arch_2nd": lambda: arch_step_second_order(model, x, y, x_val, y_val, w_opt, a_opt, xi=lr),
        "search_1st": lambda: (arch_step_first_order(model, x_val, y_val, a_opt),
                               weight_step(model, x, y, w_opt, 5.0)),
        "search_2nd": lambda: (arch_step_second_order(model, x, y, x_val, y_val, w_opt, a_opt, xi=lr),
                               weight_step(model, x, y, w_opt, 5.0)),
        "pass_forward": pass_forward,
        "pass_alpha": pass_alpha,
        "pass_full": pass_full,
        "pass_functional": pass_functional,
    }


def timed(op: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    op()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    """All operations at ``threads`` torch threads: cold call, warm-up, ``reps`` interleaved rounds."""
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    model = build_supernet(args.space, C=args.C, cells_per_stage=args.cells_per_stage, layers=args.layers,
                           num_classes=10)
    gen = torch.Generator().manual_seed(args.seed + 1)
    x, x_val = (torch.randn(args.batch, 3, args.image_size, args.image_size, generator=gen) for _ in range(2))
    y, y_val = (torch.randint(0, 10, (args.batch,), generator=gen) for _ in range(2))
    ops = operations(model, x, y, x_val, y_val, args.lr)
    names = list(ops)
    # a search step first, so that the weights' momentum buffers exist as in a running search
    cold = {}
    for name in names:
        cold[name] = timed(ops[name])
    for _ in range(args.warmup):
        for name in names:
            ops[name]()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(args.reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:  # rotated each round: interleaved
            w, c = timed(ops[name])
            wall[name].append(w)
            cpu[name].append(c)
    med = {n: {"wall_s": statistics.median(wall[n]), "cpu_s": statistics.median(cpu[n]),
               "cold_wall_s": cold[n][0], "walls": wall[n], "cpus": cpu[n]} for n in names}
    out: dict[str, Any] = {"threads": threads, "ops": med}
    for clock in ("wall_s", "cpu_s"):
        m = {n: med[n][clock] for n in names}
        out[f"ratio_arch_{clock}"] = m["arch_2nd"] / m["arch_1st"]
        out[f"ratio_arch_vs_full_{clock}"] = m["arch_2nd"] / m["arch_1st_full"]
        out[f"ratio_search_{clock}"] = m["search_2nd"] / m["search_1st"]
        out[f"predicted_arch_{clock}"] = 2 * m["pass_full"] + 2 * m["pass_alpha"]
        out[f"predicted_ratio_arch_{clock}"] = out[f"predicted_arch_{clock}"] / m["pass_alpha"]
        out[f"full_over_alpha_pass_{clock}"] = m["pass_full"] / m["pass_alpha"]
        out[f"functional_over_full_pass_{clock}"] = m["pass_functional"] / m["pass_full"]
    out["ratio_arch_cold"] = med["arch_2nd"]["cold_wall_s"] / med["arch_1st"]["cold_wall_s"]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--C", type=int, default=8, help="initial channels (the book's toy scale: 8)")
    parser.add_argument("--cells-per-stage", type=int, default=2, help="N of the NB201 supernet (toy: 2)")
    parser.add_argument("--layers", type=int, default=8, help="cells of a DARTS-topology supernet")
    parser.add_argument("--image-size", type=int, default=16, help="toy scale: 16")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.025, help="weights' lr = xi of the second-order step")
    parser.add_argument("--reps", type=int, default=7, help="interleaved timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds after the cold call")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="torch threads, one run each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    for name in ("C", "cells_per_stage", "layers", "image_size", "batch", "reps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    if any(t < 1 for t in args.threads):
        parser.error(f"--threads must be positive, got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "load_average_before": os.getloadavg()},
        "command": " ".join(["python", "benchmarks/bench_second_order.py"]
                            + (argv if argv is not None else sys.argv[1:])),
        "config": {k: getattr(args, k) for k in ("space", "C", "cells_per_stage", "layers", "image_size", "batch",
                                                 "lr", "reps", "warmup", "seed")},
        "runs": []}
    for threads in args.threads:
        run = measure(args, threads)
        report["runs"].append(run)
        m = run["ops"]
        print(f"{threads} thread(s): arch step 1st {m['arch_1st']['wall_s']:.3f} s, 2nd {m['arch_2nd']['wall_s']:.3f} s"
              f" -> {run['ratio_arch_wall_s']:.2f}x wall, {run['ratio_arch_cpu_s']:.2f}x CPU"
              f" (cold single calls: {run['ratio_arch_cold']:.2f}x); vs a 1st-order step with full backward"
              f" {run['ratio_arch_vs_full_wall_s']:.2f}x; whole search step {run['ratio_search_wall_s']:.2f}x;"
              f" pass model predicts {run['predicted_ratio_arch_wall_s']:.2f}x"
              f" (full/alpha-only pass {run['full_over_alpha_pass_wall_s']:.2f},"
              f" functional_call/plain {run['functional_over_full_pass_wall_s']:.2f})", flush=True)
        report["machine"]["load_average_after"] = os.getloadavg()
        if args.json is not None:  # after every run, so that an interrupted benchmark keeps what it measured
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
