"""Many small searches at once: ``S`` seeds batched in one model (dartslib.engine.batched) against ``S`` single-seed
searches, at several model sizes; and a whole sweep, ``sweep --jobs 2`` against ``sweep --batch-seeds``.

* step (in one process, interleaved): one first-order search step of all ``S`` seeds, batched (one
  :class:`dartslib.engine.batched.BatchedSearch` step) against ``S`` ordinary steps one after another (the seeds'
  own :class:`dartslib.engine.loop.Search` models, the same batches). Repetitions alternate B S S B ..., so a
  noisy shared machine slows both alike. Reported: median wall and CPU seconds (this process, all threads)
  per step of all seeds, seed-steps/s, training images/s (seed-steps/s x batch), the speed-up, and the
  peak resident memory above the level before the step (``/proc/self/statm`` sampled every millisecond,
  glibc told to hand freed blocks back at once during that step only, as in ``bench_search_step.py``).
* sweep (``--sweep``): the issue's target. ``python -m dartslib sweep --methods darts --spaces SPACE
  --seeds 0..S-1 --jobs 2`` (one process per seed, two at a time, one thread each) against the same sweep
  with ``--batch-seeds``, each in a fresh directory: ``--sweep-threads 1`` (default) is ``--batch-seeds
  --jobs 2`` (the seeds split over two one-thread processes), ``2`` is ``--batch-seeds --jobs 1`` (one
  process, two threads; on an oversubscribed machine every multi-threaded kernel waits for its descheduled
  thread, so this is the slower choice there). Reported:
  wall seconds, CPU seconds of all child processes (``RUSAGE_CHILDREN``), their largest peak RSS, the ratio
  batched / sequential wall (target <= 1/3), and ``uptime``'s load before and after each (the machine may
  be shared: the CPU seconds are the steadier figure).
  ``--sweep-methods darts,darts-minus,sp-darts`` sweeps each method both ways, interleaved, and reports the
  CPU-seconds per seed-epoch and the CPU ratio per method; ``--regime`` sets the collapse regime's size
  (NB201, C=8, N=5 cells per stage, 8x8 digits, batch 64; ``book/results/collapse/REGIME.md``).

Sizes are ``SPACE:C:DEPTH:IMAGE`` (DEPTH = cells per stage on NB201, layers on DARTS spaces), e.g.
``nb201:8:2:16`` (the toy scale). Run ``python benchmarks/bench_batched.py --help``; the results and
commands are in ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search_step import release_freed_memory_at_once  # noqa: E402

from dartslib.engine.batched import BatchedSearch  # noqa: E402
from dartslib.engine.config import make_config  # noqa: E402
from dartslib.engine.steps import arch_step_first_order, weight_step  # noqa: E402


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__() if Path("/proc/loadavg").exists() else ""


class PeakRSS:
    """Peak resident memory (MiB) above the level at entry, sampled every millisecond."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0.0

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self) -> "PeakRSS":
        self.base = self._rss()
        self._stop = False
        self._max = self.base

        def sample() -> None:
            while not self._stop:
                self._max = max(self._max, self._rss())
                time.sleep(0.001)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop = True
        self._thread.join()
        self.peak = (max(self._max, self._rss()) - self.base) / 2**20


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def parse_size(text: str) -> dict[str, Any]:
    space, C, depth, image = text.split(":")
    depth_key = "cells_per_stage" if space.startswith("nb201") else "layers"
    return {"space": space, "C": int(C), depth_key: int(depth), "image_size": int(image)}


def bench_step(size: dict[str, Any], seeds: int, batch: int, reps: int, warmup: int) -> dict[str, Any]:
    values = {k: v for k, v in size.items() if k != "space"}
    configs = [make_config("darts", size["space"], "toy", seed=s, device="cpu", batch_size=batch, **values)
               for s in range(seeds)]
    batched = BatchedSearch.start(configs)
    searches = batched.searches  # their models stay as built; the batched search steps its own copy
    batches = [next(iter(s.train_batches.epoch(0))) for s in searches]
    arch_batches = [next(s.arch_stream) for s in searches]
    x, y = batched._batches(batches)
    xa, ya = batched._batches(arch_batches)

    def batched_step() -> None:  # the alphas' step, then the weights' (DARTS' first-order update)
        batched.take_step((x, y), (xa, ya))

    def sequential_steps() -> None:
        for s, a, b in zip(searches, arch_batches, batches):
            s.model.train()
            arch_step_first_order(s.model, *a, s.arch_optimizer)
            weight_step(s.model, *b, s.weight_optimizer, s.config.grad_clip)

    batched.net.train()
    release_freed_memory_at_once(False)  # timing: blocks up to 32 MiB stay in the heap (as bench_search_step)
    for _ in range(warmup):
        batched_step()
        sequential_steps()
    times: dict[str, list[tuple[float, float]]] = {"batched": [], "sequential": []}
    for rep in range(reps):
        order = ("batched", "sequential") if rep % 2 == 0 else ("sequential", "batched")
        for name in order:
            times[name].append(timed(batched_step if name == "batched" else sequential_steps))
    memory = {}
    for name, fn in (("batched", batched_step), ("sequential", sequential_steps)):
        release_freed_memory_at_once(True)  # freed blocks go back at once: the peak is this step's own
        with PeakRSS() as peak:
            fn()
        release_freed_memory_at_once(False)
        memory[name] = peak.peak
    row: dict[str, Any] = {"size": size, "seeds": seeds, "batch": batch,
                           "params_per_seed": sum(p.numel() for p in searches[0].model.weight_parameters())}
    for name in times:
        wall = statistics.median(t for t, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        row[name] = {"wall_s": wall, "cpu_s": cpu, "seed_steps_per_s": seeds / wall,
                     "images_per_s": seeds * batch / wall, "peak_rss_mib": memory[name]}
    row["speedup_wall"] = row["sequential"]["wall_s"] / row["batched"]["wall_s"]
    row["speedup_cpu"] = row["sequential"]["cpu_s"] / row["batched"]["cpu_s"]
    return row


def run_sweep(out: Path, seeds: int, space: str, epochs: int, batched: bool, threads: int,
              extra: list[str], method: str = "darts", jobs: int | None = None) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "dartslib", "sweep", "--methods", method, "--spaces", space,
               "--seeds", ",".join(map(str, range(seeds))), "--out", str(out), "--set", f"epochs={epochs}",
               "--set", 'device="cpu"', *extra, "--jobs", str(jobs or 2 // threads)]
    command += ["--batch-seeds"] if batched else []
    before_load = load()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"sweep failed: {done.stderr[-2000:]}")
    if batched and "batched  " not in done.stderr:  # the sweep ran the seeds one per process after all
        raise RuntimeError(f"sweep --batch-seeds did not batch {method}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "cpu_s_per_seed_epoch": cpu / (seeds * epochs),
            "max_child_rss_mib": after.ru_maxrss / 1024, "load_before": before_load, "load_after": load(),
            "command": " ".join(command)}


REGIME = ["C=8", "cells_per_stage=5", "image_size=8", "batch_size=64", "arch_lr=0.003"]
"""The collapse regime's size (book/results/collapse/REGIME.md): NB201, C=8, N=5, 8x8 digits, batch 64."""


def sweep_methods(methods: list[str], seeds: int, space: str, epochs: int, batched_jobs: list[int],
                  extra: list[str]) -> dict[str, Any]:
    """``sweep --jobs 2`` against ``sweep --batch-seeds --jobs J`` (one thread per process) for every method and
    every ``J`` of ``batched_jobs``, interleaved (A B C, C B A, ...: the methods alternate the order of the
    variants, so a load that drifts slows them alike)."""
    rows: dict[str, Any] = {}
    variants = [("sequential_jobs2", False, 2)] + [(f"batched_jobs{j}", True, j) for j in batched_jobs]
    with tempfile.TemporaryDirectory() as tmp:
        for k, method in enumerate(methods):
            row: dict[str, Any] = {}
            for name, batched, jobs in (variants if k % 2 == 0 else variants[::-1]):
                row[name] = run_sweep(Path(tmp) / f"{method}-{name}", seeds, space, epochs, batched, 1, extra,
                                      method, jobs)
                print(f"{method:14s} {name:16s} {row[name]['wall_s']:7.1f} s wall {row[name]['cpu_s']:7.1f} CPU-s "
                      f"({row[name]['cpu_s_per_seed_epoch']:.2f} per seed-epoch)  load {row[name]['load_after']}",
                      flush=True)
            for name, batched, _ in variants:
                if batched:
                    row[f"ratio_cpu_{name}"] = row[name]["cpu_s"] / row["sequential_jobs2"]["cpu_s"]
                    row[f"ratio_wall_{name}"] = row[name]["wall_s"] / row["sequential_jobs2"]["wall_s"]
                    print(f"{method:14s} {name} / sequential: CPU {row[f'ratio_cpu_{name}']:.3f}, "
                          f"wall {row[f'ratio_wall_{name}']:.3f}", flush=True)
            rows[method] = row
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=["nb201:4:1:8", "nb201:8:2:16", "nb201:16:3:32", "darts:8:5:16"],
                   help="SPACE:C:DEPTH:IMAGE (DEPTH: cells per stage on NB201, layers on DARTS spaces)")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads of the step benchmark")
    p.add_argument("--no-step", action="store_true", help="skip the in-process step benchmark")
    p.add_argument("--sweep", action="store_true", help="also time sweep --jobs 2 against sweep --batch-seeds")
    p.add_argument("--sweep-space", default="nb201")
    p.add_argument("--sweep-methods", default="darts",
                   help="comma-separated methods; each is swept both ways, interleaved "
                        "(e.g. darts,darts-minus,sp-darts)")
    p.add_argument("--batched-jobs", default="2",
                   help="with --sweep-methods or --regime: comma-separated --jobs of the batched sweeps (2: two "
                        "processes of S/2 seeds, 1: one process of S seeds), each against the same sweep --jobs 2")
    p.add_argument("--regime", action="store_true",
                   help="the sweeps at the collapse regime's size: --set " + " --set ".join(REGIME))
    p.add_argument("--sweep-epochs", type=int, default=10, help="epochs of every sweep run (toy: 10)")
    p.add_argument("--sweep-threads", type=int, choices=(1, 2), default=1,
                   help="threads per batched process: 1 = --batch-seeds --jobs 2 (two processes, the seeds split "
                        "between them), 2 = --batch-seeds --jobs 1 (one process, two threads)")
    p.add_argument("--skip-sequential", action="store_true", help="time only the batched sweep")
    p.add_argument("--sweep-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra --set for both sweeps, e.g. max_steps_per_epoch=4")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                                          "torch": torch.__version__, "threads": args.threads,
                                          "load_at_start": load()}, "steps": [], "sweep": None}
    if not args.no_step:
        for text in args.sizes:
            row = bench_step(parse_size(text), args.seeds, args.batch, args.reps, args.warmup)
            report["steps"].append(row)
            b, s = row["batched"], row["sequential"]
            print(f"{text:16s} S={args.seeds} batched {b['wall_s']:.3f}s wall {b['cpu_s']:.3f}s cpu "
                  f"{b['peak_rss_mib']:.0f} MiB | sequential {s['wall_s']:.3f}s wall {s['cpu_s']:.3f}s cpu "
                  f"{s['peak_rss_mib']:.0f} MiB | speed-up {row['speedup_wall']:.2f}x wall "
                  f"{row['speedup_cpu']:.2f}x cpu  (load {load()})", flush=True)
    if args.sweep and (args.regime or args.sweep_methods != "darts"):
        sets = (REGIME if args.regime else []) + args.sweep_set
        extra = [a for kv in sets for a in ("--set", kv)]
        methods = args.sweep_methods.split(",")
        jobs = [int(j) for j in args.batched_jobs.split(",")]
        report["sweep_methods"] = {"seeds": args.seeds, "epochs": args.sweep_epochs, "space": args.sweep_space,
                                   "sets": sets, "threads_per_process": 1, "batched_jobs": jobs,
                                   "rows": sweep_methods(methods, args.seeds, args.sweep_space, args.sweep_epochs,
                                                         jobs, extra)}
    elif args.sweep:
        extra = [a for kv in args.sweep_set for a in ("--set", kv)]
        with tempfile.TemporaryDirectory() as tmp:
            sequential = run_sweep(Path(tmp) / "sequential", args.seeds, args.sweep_space, args.sweep_epochs,
                                   False, 1, extra) if not args.skip_sequential else None
            print(f"sweep --jobs 2: {sequential}", flush=True)
            batched = run_sweep(Path(tmp) / "batched", args.seeds, args.sweep_space, args.sweep_epochs, True,
                                args.sweep_threads, extra)
            print(f"sweep --batch-seeds: {batched}", flush=True)
        report["sweep"] = {"sequential_jobs2": sequential, "batched": batched, "batched_threads": args.sweep_threads}
        if sequential:
            report["sweep"].update(ratio_wall=batched["wall_s"] / sequential["wall_s"],
                                   ratio_cpu=batched["cpu_s"] / sequential["cpu_s"])
            print(f"batched / sequential: wall {report['sweep']['ratio_wall']:.2f}, "
                  f"cpu {report['sweep']['ratio_cpu']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
