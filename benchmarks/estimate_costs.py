"""Price every chapter's searches at the small and paper scales: write ``benchmarks/cost_estimates.json``.

    python benchmarks/estimate_costs.py [--json benchmarks/cost_estimates.json] [--gpu-check FILE]

Estimates (see :mod:`dartslib.book.costs` for how they are made) unless ``--gpu-check`` (default
``benchmarks/results_gpu_check.json`` when it exists, written by ``benchmarks/gpu_check.sh`` on a GPU) measured
a search's method and space at the paper configuration. Counting runs on the meta device: seconds, no GPU.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dartslib.book.costs import ESTIMATES, GPU_CHECK, estimate_chapters, estimate_commands, load_gpu_check
from dartslib.book.results import REGIME_METHODS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(ESTIMATES), help="where to write (default %(default)s)")
    parser.add_argument("--gpu-check", default=str(GPU_CHECK), help="gpu_check.sh's JSON (default %(default)s)")
    args = parser.parse_args(argv)
    check = load_gpu_check(args.gpu_check)
    data = estimate_chapters(REGIME_METHODS, gpu_check=check)
    data["commands"] = estimate_commands(check)
    Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
    for r in data["rows"]:
        print(f"{r['chapter']:>24} {r['scale']:>5}: {r['searches']:>2} searches {r['gpu_hours']:7.1f} GPU-h "
              f"peak {r['peak_gib']:5.1f} GiB; shared sweep {r['sweep_gpu_hours']:6.1f} GPU-h ({r['status']})")
    for r in data["commands"]:
        hours = "" if r["gpu_hours"] is None else f"{r['gpu_hours']:7.1f} GPU-h"
        print(f"{r['kind']:>6} {r['method']:>16} {r['space']:>12} ({r['protocol']}): {hours} peak "
              f"{r['peak_gib']:5.1f} GiB at batch {r['batch']} ({r['status']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
