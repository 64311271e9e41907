"""Retrain every derived cell of the committed searches from scratch, at both sizes, 3 seeds each.

    python book/results/collapse/retrain.py [DIR]

Reads DIR/<sweep>/<run>/result.json of every sweep (a folder with a sweep.json), names each distinct derived
cell ``cell-<first 8 hex of sha1(genotype)>``, records the names in DIR/train/cells.json and
DIR/train_hard/cells.json (with the two controls: every edge ``nor_conv_3x3``, every edge ``skip_connect``), and
runs, for each cell and seed 0-2 whose result.json is missing:

    python -m dartslib train --genotype G --scale toy --seed S --out DIR/train/CELL__seedS
    python -m dartslib train --genotype G --scale toy --C 4 --epochs 3 --seed S --out DIR/train_hard/CELL__seedS

one at a time (``OMP_NUM_THREADS`` is inherited; the committed runs used 1). It then deletes what is not
committed: each run's checkpoint.pt, spec.json and log.txt. Re-running it skips finished trainings.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

CONTROLS = {
    "ctrl-conv3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "ctrl-skip": "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
}
SIZES = {"train": [], "train_hard": ["--C", "4", "--epochs", "3"]}
SEEDS = (0, 1, 2)


def cell_name(genotype: str) -> str:
    return "cell-" + hashlib.sha1(genotype.encode()).hexdigest()[:8]


def derived_cells(root: Path) -> dict[str, str]:
    cells = dict(CONTROLS)
    for result in sorted(root.glob("*/*/result.json")):
        if (result.parent.parent / "sweep.json").is_file():
            genotype = json.loads(result.read_text())["genotype"]
            if genotype not in cells.values():
                cells[cell_name(genotype)] = genotype
    return cells


def main(root: Path) -> None:
    cells = derived_cells(root)
    for folder, extra in SIZES.items():
        out = root / folder
        out.mkdir(exist_ok=True)
        (out / "cells.json").write_text(json.dumps(cells, indent=1) + "\n")
        for name, genotype in cells.items():
            for seed in SEEDS:
                run = out / f"{name}__seed{seed}"
                if (run / "result.json").is_file():
                    continue
                cmd = [sys.executable, "-m", "dartslib", "train", "--genotype", genotype, "--scale", "toy", *extra,
                       "--seed", str(seed), "--out", str(run), "--quiet"]
                if run.exists():
                    cmd.append("--overwrite")
                print(" ".join(cmd[1:]), flush=True)
                subprocess.run(cmd, check=True)
                for leftover in ("checkpoint.pt", "spec.json", "log.txt"):
                    (run / leftover).unlink(missing_ok=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
