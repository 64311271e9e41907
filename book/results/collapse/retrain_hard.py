"""Retrain every cell the primary arm derived, on digits-hard, 5 training seeds each (issue 22 part 5).

    python book/results/collapse/retrain_hard.py [SWEEP_DIR ...] [--out DIR] [--seeds 0,1,2,3,4]

Defaults: SWEEP_DIR ``primary/native``, ``--out primary/retrain``. Collects the distinct derived cells of the
finished searches (``METHOD__nb201__seedS/result.json``) plus the two controls (every edge a 3x3 convolution,
every edge a skip), names each ``cell-<8 hex of sha1>`` (:func:`dartslib.book.results.cell_name`), writes
``OUT/cells.json`` and trains, in this one process, for each cell and seed whose ``result.json`` is missing
(cell by cell, the cells in an order fixed by a hash of their names, so a partial run is a random sample)::

    make_train_config(G, "toy", dataset="digits-hard", C=4, epochs=4, seed=S)   # = python -m dartslib train
        --genotype G --scale toy --dataset digits-hard --C 4 --epochs 4 --seed S --out OUT/CELL__seedS

``digits-hard`` (:func:`dartslib.data.make_digits_hard`) is generated in memory from the embedded digits:
5,748 training and 2,872 test images (one test image is 0.035 accuracy points), with affine transforms,
clutter and noise, so that the cell matters. It deletes what is not committed (checkpoint.pt, spec.json,
log.txt) and skips finished trainings, so re-running it resumes. The committed runs used one thread
(``OMP_NUM_THREADS=1``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = {"dataset": "digits-hard", "C": 4, "epochs": 4}


def cells_of(sweeps: list[Path]) -> dict[str, str]:
    from dartslib.book.results import CONTROL_CELLS, cell_name

    cells = dict(CONTROL_CELLS)
    for sweep in sweeps:
        for result in sorted(sweep.glob("*__nb201__seed*/result.json")):
            genotype = json.loads(result.read_text())["genotype"]
            cells.setdefault(cell_name(genotype), genotype)
    return cells


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="*", type=Path, default=[HERE / "primary" / "native"])
    parser.add_argument("--out", type=Path, default=HERE / "primary" / "retrain")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args(argv)
    from dartslib.engine.train import Training, make_train_config

    seeds = [int(s) for s in args.seeds.split(",")]
    cells = cells_of(args.sweeps)
    args.out.mkdir(parents=True, exist_ok=True)
    known = json.loads((args.out / "cells.json").read_text()) if (args.out / "cells.json").is_file() else {}
    (args.out / "cells.json").write_text(json.dumps({**known, **cells}, indent=1) + "\n")
    # cell by cell (all seeds of a cell before the next), the cells in a seeded random order, so that the cells
    # finished when a run is stopped early are a random sample of the derived cells
    order = sorted(cells, key=lambda n: hashlib.sha1(f"retrain-order:{n}".encode()).hexdigest())
    todo = [(n, cells[n], s) for n in order for s in seeds
            if not (args.out / f"{n}__seed{s}" / "result.json").is_file()]
    print(f"{len(cells)} cells, {len(todo)} trainings to run", file=sys.stderr)
    for i, (name, genotype, seed) in enumerate(todo):
        run = args.out / f"{name}__seed{seed}"
        start = time.process_time()
        config = make_train_config(genotype, "toy", seed=seed, **SETTINGS)
        result = Training(config, run, progress=False, overwrite=run.exists()).run()
        for leftover in ("checkpoint.pt", "spec.json", "log.txt", "lock"):
            path = run / leftover
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        print(f"[{i + 1}/{len(todo)}] {name} seed {seed}: {result['test_acc']:.2f} % "
              f"({time.process_time() - start:.1f} CPU-s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
