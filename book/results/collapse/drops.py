"""The discretization drop of every finished run of a sweep, measured on its final checkpoint.

    python book/results/collapse/drops.py SWEEP_DIR

Sweeps record no diagnostics, so this is measured afterwards, while the runs' ``checkpoint.pt`` still
exist: the supernet's held-out accuracy against the same supernet with one-hot op weights at the derived
cell, without retraining (:func:`dartslib.diagnostics.discretization_gap`, batch-statistics BN, the
method's evaluation mode, e.g. SP-DARTS' smooth temperature). Appends to SWEEP_DIR/drops.csv
(run, genotype, supernet_acc, discrete_acc, gap), skipping runs already in it.
"""
import csv
import json
import sys
from pathlib import Path

import torch

from dartslib.diagnostics import discretization_gap
from dartslib.search import Search


def main(sweep: Path) -> None:
    torch.set_num_threads(1)
    out = sweep / "drops.csv"
    done = {r["run"]: r for r in csv.DictReader(out.open())} if out.is_file() else {}
    rows = list(done.values())
    for run in sorted(p.parent for p in sweep.glob("*/result.json")):
        if run.name in done or not (run / "checkpoint.pt").is_file():
            continue
        genotype = json.loads((run / "result.json").read_text())["genotype"]
        search = Search.resume(run, progress=False)
        for hook in search.hooks:
            hook.eval_mode(search.model)
        gap = discretization_gap(search.model, search.held_out.epoch(0), genotype=genotype, bn="batch")
        rows.append({"run": run.name, "genotype": genotype, "supernet_acc": gap["supernet_acc"],
                     "discrete_acc": gap["discrete_acc"], "gap": gap["gap"]})
        print(run.name, round(gap["supernet_acc"], 2), round(gap["discrete_acc"], 2), flush=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["run", "genotype", "supernet_acc", "discrete_acc", "gap"])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python book/results/collapse/drops.py SWEEP_DIR")
    main(Path(sys.argv[1]))
