"""The measuring half of ``benchmarks/gpu_check.sh``: synthetic CIFAR-10 files, each preset's paper-configuration
step timed with its peak GPU memory, and two epochs of a first-order NAS-Bench-201 search.

    python benchmarks/gpu_check.py data    --root DIR [--dry-run]
    python benchmarks/gpu_check.py presets --root DIR --json OUT [--steps 20] [--dry-run]
    python benchmarks/gpu_check.py nb201   --root DIR --json OUT [--dry-run]
    python benchmarks/gpu_check.py notebook nbs/CHAPTER.ipynb --root OUTDIR --json OUT

Each stage writes its own JSON part; ``gpu_check.sh`` merges them (``merge``) into
``benchmarks/results_gpu_check.json``. ``--dry-run`` runs the same code on the CPU with tiny sizes (a check of
the script, not a measurement: its JSON says ``"dry_run": true`` and :mod:`dartslib.book.costs` ignores it).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from dartslib.hooks import SearchHook


def _device(dry_run: bool) -> str:
    if dry_run:
        return "cpu"
    if not torch.cuda.is_available():
        from dartslib.device import cuda_unavailable_reason

        raise SystemExit(f"gpu_check: CUDA is not usable ({cuda_unavailable_reason()}); use --dry-run on a CPU")
    return "cuda"


def _peak_reset(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2 ** 30 if device == "cuda" else None


def stage_data(args: argparse.Namespace) -> dict[str, Any]:
    """CIFAR-10's on-disk format, real size (50,000 + 10,000 random images) or, dry, 40 + 8."""
    from dartslib.data import write_synthetic_cifar10

    per_batch, test = (8, 8) if args.dry_run else (10_000, 10_000)
    started = time.perf_counter()
    folder = write_synthetic_cifar10(args.root, train_per_batch=per_batch, test=test)
    return {"data": {"folder": str(folder), "train": 5 * per_batch, "test": test,
                     "seconds": time.perf_counter() - started}}


def _cases() -> list[tuple[str, str]]:
    from dartslib.methods.presets import METHODS

    skip = {("darts-m2", "nb201"), ("single-darts-sigmoid", "darts"), ("single-darts-sigmoid", "nb201")}
    spaces = {("fairdarts", "darts"): "darts-nonone"}
    return [(m, spaces.get((m, s), s)) for s in ("darts", "nb201") for m in METHODS if (m, s) not in skip]


class _StepClock(SearchHook):
    """A search hook that records the wall time of every step, synchronising the device first."""

    def __init__(self, device: str) -> None:
        from dartslib.device import synchronize

        self.sync, self.device, self.marks = synchronize, device, []

    def before_step(self, model: Any, ctx: Any) -> None:
        self.sync(self.device)
        self.marks.append(time.perf_counter())


def stage_presets(args: argparse.Namespace) -> dict[str, Any]:
    """Each preset, DARTS and NB201 space, ``--steps`` timed steps after 2 warm-up steps at the paper
    configuration (the paper's batch; dry: 1 step after 1 warm-up of a tiny supernet on the CPU: the script's
    path, not the paper's shapes, which ``tests/test_paper_shapes.py`` checks)."""
    from dartslib import make_config
    from dartslib.device import synchronize
    from dartslib.engine.loop import Search

    device = _device(args.dry_run)
    steps, warmup = (1, 1) if args.dry_run else (args.steps, 2)
    rows = []
    for method, space in _cases():
        tiny = {"batch_size": 4, "C": 4, "layers": 5, "cells_per_stage": 1, "image_size": 8} if args.dry_run else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = make_config(method, space, "paper", data_dir=str(args.root), epochs=1, device=device,
                                 max_steps_per_epoch=steps + warmup, **tiny)
        row: dict[str, Any] = {"method": method, "space": space, "batch": config.batch_size}
        try:
            _peak_reset(device)
            clock = _StepClock(device)
            search = Search(config, None, progress=False, hooks=[clock])
            search.run_epoch()
            synchronize(device)
            marks = clock.marks + [time.perf_counter()]
            per_step = [b - a for a, b in zip(marks, marks[1:])][warmup:]
            row.update(seconds_per_step=sorted(per_step)[len(per_step) // 2], steps=len(per_step),
                       max_memory_gib=_peak_gib(device))
            del search
        except torch.cuda.OutOfMemoryError as exc:  # the answer for this GPU: it does not fit
            row.update(error=f"out of memory: {str(exc).splitlines()[0]}")
        except Exception as exc:  # noqa: BLE001 - recorded, the next preset still runs
            row.update(error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        if device == "cuda":
            torch.cuda.empty_cache()
        print(json.dumps(row), flush=True)
        rows.append(row)
    return {"presets": rows}


def stage_nb201(args: argparse.Namespace) -> dict[str, Any]:
    """Two epochs of first-order DARTS on NAS-Bench-201 at the paper settings (dry: 2 steps per epoch)."""
    from dartslib import make_config, search

    device = _device(args.dry_run)
    extra = {"max_steps_per_epoch": 2, "batch_size": 4, "C": 4, "cells_per_stage": 1, "image_size": 8} \
        if args.dry_run else {}
    config = make_config("darts", "nb201", "paper", data_dir=str(args.root), epochs=2, device=device, **extra)
    _peak_reset(device)
    started = time.perf_counter()
    result = search(config, progress=False)
    seconds = time.perf_counter() - started
    per_epoch = [h["seconds"] for h in result.history]
    full = make_config("darts", "nb201", "paper")
    return {"nb201_two_epochs": {"seconds": seconds, "seconds_per_epoch": per_epoch,
                                 "extrapolated_search_hours": per_epoch[-1] * full.epochs / 3600,
                                 "max_memory_gib": _peak_gib(device), "batch": config.batch_size,
                                 "epochs": len(result.history), "train_images": config.max_steps_per_epoch
                                 and config.max_steps_per_epoch * config.batch_size * 2}}


def stage_notebook(args: argparse.Namespace) -> dict[str, Any]:
    """Execute the chapter ``parts[0]`` (a notebook path) with nbclient in its own folder, as the book build
    does; the executed copy goes to ``--root`` (never over the committed notebook). Its device is printed."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(args.parts[0])
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                   ).execute()
    seconds = time.perf_counter() - started
    args.root.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, args.root / path.name)
    first = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    device = next((line for line in first.splitlines() if "device" in line), "")
    return {"notebooks": {path.stem: {"seconds": seconds, "start_line": device}}}


def stage_merge(args: argparse.Namespace) -> dict[str, Any]:
    """Merge the parts (and the shell's stage log) into one JSON."""
    out: dict[str, Any] = {}
    for part in args.parts:
        path = Path(part)
        if path.is_file() and path.stat().st_size:
            for key, value in json.loads(path.read_text()).items():
                out[key] = {**out[key], **value} if isinstance(value, dict) and key in out else value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("data", "presets", "nb201", "notebook", "merge"))
    parser.add_argument("--root", type=Path, default=Path("gpu_check_data"))
    parser.add_argument("--json", type=Path, default=None, help="where this stage's JSON goes (default: stdout)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: checks the script, measures nothing")
    parser.add_argument("parts", nargs="*", help="merge: the parts' JSON files")
    args = parser.parse_intermixed_args(argv)
    stages = {"data": stage_data, "presets": stage_presets, "nb201": stage_nb201, "notebook": stage_notebook,
              "merge": stage_merge}
    result = stages[args.stage](args)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
