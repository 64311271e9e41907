"""Time the book's build, chapter by chapter: execute each chapter notebook with nbclient, as the build does.

``jupyter-book build .`` spends nearly all its time executing the chapter notebooks (``execute_notebooks:
cache`` in ``_config.yml``: a fresh clone runs every chapter once). This script executes the same notebooks
the same way -- one kernel per chapter, the working directory of the notebook, the per-cell timeout of
``_config.yml`` -- without Sphinx, and records per chapter:

* ``wall_s``: wall-clock seconds from the kernel's start to the last cell's reply (what the build waits);
* ``cpu_s``: CPU seconds the kernel process used (user + system, all its threads, and its worker processes
  once they have exited, from ``/proc``), which a machine shared with other jobs inflates far less than the
  wall time;
* ``cells``: per code cell, its index, first source line, wall and CPU seconds (``--cells``), to find the
  cells worth cutting.

It is a benchmark, not a test: nothing is asserted about the times. The results go to ``--json``; the
executed notebooks are thrown away (the committed ones stay without outputs).

    OMP_NUM_THREADS=1 python benchmarks/bench_book_build.py --json benchmarks/results_book_build.json
    python benchmarks/bench_book_build.py nbs/02_unfair_advantage.ipynb --cells   # one chapter, per cell

``--scale`` sets ``DARTSLIB_SCALE`` for the kernels (default: the environment's, else ``toy``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def chapters_in_toc() -> list[Path]:
    """The notebooks of ``_toc.yml``, in the book's order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    found = [ROOT / f"{f}.ipynb" if not f.endswith(".ipynb") else ROOT / f for f in files]
    return [p for p in found if p.is_file()]


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` (all threads) and of its finished children (a chapter's
    worker processes, once reaped), from ``/proc``; None where unreadable."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime, stime, cutime, cstime: fields 14-17 of /proc/PID/stat
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def execution_timeout() -> int:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return int(config.get("execute", {}).get("timeout", 600))


def run_chapter(path: Path, timeout: int, save_dir: Path | None = None) -> dict[str, Any]:
    """Execute one notebook in a fresh kernel; wall and CPU seconds for it and for each code cell.

    With ``save_dir``, the executed notebook (outputs included) is written there under its own name."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    cells: list[dict[str, Any]] = []
    marks: dict[str, float | None] = {}
    pid: list[int | None] = [None]

    def kernel_pid() -> int | None:
        if pid[0] is None:
            process = getattr(getattr(client.km, "provisioner", None), "process", None)
            pid[0] = getattr(process, "pid", None)
        return pid[0]

    def on_execute(cell: Any, cell_index: int) -> None:
        marks["wall"], marks["cpu"] = time.perf_counter(), process_cpu_seconds(kernel_pid())

    def on_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        cpu = process_cpu_seconds(kernel_pid())
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        cells.append({"index": cell_index, "first_line": first[:80],
                      "wall_s": round(time.perf_counter() - marks["wall"], 3),
                      "cpu_s": None if cpu is None or marks["cpu"] is None else round(cpu - marks["cpu"], 3)})

    client.on_cell_execute = on_execute
    client.on_cell_executed = on_executed
    started = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as exc:  # a failing chapter is recorded, and the others still run
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    wall = time.perf_counter() - started
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save_dir / path.name)
    cpu = sum(c["cpu_s"] for c in cells if c["cpu_s"] is not None) if cells else None
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return {"chapter": name, "wall_s": round(wall, 2),
            "cpu_s": None if cpu is None else round(cpu, 2), "cells": cells, "error": error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="chapter notebooks to run (default: every notebook of _toc.yml)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--cells", action="store_true", help="print the per-cell times too")
    parser.add_argument("--save-dir", type=Path,
                        help="write the executed notebooks here (never over the committed ones)")
    parser.add_argument("--scale", default=os.environ.get("DARTSLIB_SCALE", "toy"),
                        help="DARTSLIB_SCALE for the kernels (default: %(default)s)")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or chapters_in_toc()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.save_dir is not None and args.save_dir.resolve() in {p.parent for p in notebooks}:
        parser.error("--save-dir must not be the notebooks' own directory (they are committed without outputs)")
    os.environ["DARTSLIB_SCALE"] = args.scale
    timeout = execution_timeout()
    results = []
    for path in notebooks:
        result = run_chapter(path, timeout, args.save_dir)
        results.append(result)
        print(f"{result['chapter']:<40} {result['wall_s']:8.1f} s wall {result['cpu_s'] or 0:8.1f} s CPU"
              + (f"  FAILED: {result['error']}" if result["error"] else ""), flush=True)
        if args.cells:
            for c in sorted(result["cells"], key=lambda c: -(c["cpu_s"] or c["wall_s"])):
                print(f"    cell {c['index']:>3} {c['wall_s']:8.1f} s wall {c['cpu_s'] or 0:8.1f} s CPU  "
                      f"{c['first_line']}")
    total_wall = sum(r["wall_s"] for r in results)
    print(f"{'all chapters':<40} {total_wall:8.1f} s wall "
          f"{sum(r['cpu_s'] or 0 for r in results):8.1f} s CPU")
    if args.json:
        report = {"scale": args.scale, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                  "cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                  "date": time.strftime("%Y-%m-%d %H:%M:%S"), "total_wall_s": round(total_wall, 2),
                  "chapters": results}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
