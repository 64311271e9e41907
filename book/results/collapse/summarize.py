"""Summarise the committed collapse runs: python book/results/collapse/summarize.py [DIR]

Reads the runs with :func:`dartslib.book.results.load_collapse_results` (the same code the chapters load them
with) and writes DIR/SUMMARY.md: first the verdicts of the 20-seed primary arm, computed by
:func:`dartslib.book.verdicts.load_evidence` by PROTOCOL.md's rules (``tests/test_verdicts.py`` checks that
this section is the module's output for the committed runs); then, for the 5-seed regime runs, per method, over seeds, the derived cell's parameter-free and skip counts, the
first epoch the count exceeds half the edges, IES, the discretization drops (measures.csv), the seconds per
search and the retrained test accuracy of the derived cells; then one line per run and per retrained cell.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dartslib.book.results import load_collapse_results


def ms(mean: float, std: float, fmt: str = "{:.2f}") -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    return (fmt + " ± " + fmt).format(mean, 0.0 if std is None or math.isnan(std) else std)


def cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def main(root: Path) -> str:
    from dartslib.book.verdicts import load_evidence

    res = load_collapse_results(root)
    summary = res.summary()
    lines = ["# Collapse runs: summary", "", load_evidence(root).markdown(),
             "## The 5-seed regime runs (30 epochs, cosine): descriptive", "",
             "Written by `summarize.py` from the committed runs (`dartslib.book.results`). Counts are of the derived "
             "cell (NB201: 6 edges; parameter-free = none, skip_connect, avg_pool_3x3); `collapsed`: seeds with at "
             "least 4 of 6 parameter-free. `first > half`: mean over the seeds that get there of the first epoch "
             "whose derived cell has more than half its edges parameter-free. IES: Zhang & Ding (2023), Eq. 21, on "
             "the final op weights normalised per edge (uniform: 6 ln 5 = 9.66). Drops (measures.csv, on the digits "
             "test split for every method, points): `drop` supernet minus one-hot supernet accuracy with batch-"
             "statistics BN; `recal.` both nets with BN re-estimated on 8 training batches; `fine-tuned` the one-hot "
             "net after 40 SGD steps. Retrained: test accuracy of the derived cells trained from scratch (`train "
             "--scale toy`, 3 seeds per cell; `hard`: `--C 4 --epochs 3`), mean ± std over the search seeds of the "
             "per-cell means. Means ± standard deviations (ddof 1) over seeds.", "",
             "| sweep | method | seeds | collapsed | param-free (of 6) | skips | first > half | IES | drop | "
             "drop recal. | drop fine-tuned | gc bi-level | gc train-train | retrained acc | retrained acc (hard) | "
             "wall s / search |", "|" + "---|" * 16]
    table = res.table()
    sweep_of = {r.method: r.sweep for r in res.runs}
    for method, row in summary.iterrows():
        def get(col: str, fmt: str = "{:.2f}") -> str:
            return ms(row.get(f"{col}_mean", math.nan), row.get(f"{col}_std", math.nan), fmt)
        lines.append("| " + " | ".join([
            sweep_of[method], method, str(int(row["n"])), f"{int(row['collapsed'])}/{int(row['n'])}",
            get("param_free"), get("skips"), get("first_over_half", "{:.1f}"), get("ies"), get("drop", "{:.1f}"),
            get("drop_recal", "{:.1f}"), get("drop_finetuned", "{:.1f}"), get("gc_bilevel", "{:.3f}"),
            get("gc_train_train", "{:.3f}"), get("retrained_acc"), get("retrained_acc_hard"),
            get("seconds", "{:.0f}")]) + " |")
    lines += ["", "## Per run", "", "| method | seed | genotype | param-free per epoch | skips | drop | drop fine-tuned "
              "| retrained acc (hard) |", "|---|---|---|---|---|---|---|---|"]
    for run in sorted(res.runs, key=lambda r: (res.methods.index(r.method), r.seed)):
        row = table[(table.method == run.method) & (table.seed == run.seed)].iloc[0]
        fmt = lambda v: "-" if pd.isna(v) else f"{v:.1f}"  # noqa: E731
        lines.append(f"| {run.method} | {run.seed} | {cell(run.genotype)} | "
                     f"{''.join(map(str, run.param_free_per_epoch))} | {run.skips_per_epoch[-1]} | "
                     f"{fmt(row.get('drop'))} | {fmt(row.get('drop_finetuned'))} | {fmt(row.get('retrained_acc_hard'))} |")
    if res.replication:
        lines += ["", "## The same commands on another CPU (`replication/`)", "",
                  "The regime's sweep command run again, unchanged, on a 2-core AMD EPYC (`regime/` was written on a "
                  "2-core Intel Xeon). One thread each, same PyTorch: float32 rounds differently on the two CPUs, and "
                  "every history differs from epoch 1 on (tests/test_results_reproduce.py keeps one reference per "
                  "machine). Final derived cell per seed: parameter-free edges / skips, and the collapse count.", "",
                  "| method | machine | seeds | collapsed | param-free per seed | skips per seed | param-free | skips |",
                  "|---|---|---|---|---|---|---|---|"]
        for method in res.methods:
            twin = res.replication_of(method)
            if not twin:
                continue
            for machine, runs in (("Intel Xeon (`regime/`)", res.of(method)), ("AMD EPYC (`replication/`)", twin)):
                free = [int(r.param_free_per_epoch[-1]) for r in runs]
                skips = [int(r.skips_per_epoch[-1]) for r in runs]
                lines.append(f"| {method} | {machine} | {len(runs)} | {sum(f >= 4 for f in free)}/{len(runs)} | "
                             f"{' '.join(map(str, free))} | {' '.join(map(str, skips))} | "
                             f"{ms(np.mean(free), np.std(free, ddof=1))} | {ms(np.mean(skips), np.std(skips, ddof=1))} |")
    for title, folder in (("Retrained cells (`train --scale toy`)", "train"),
                          ("Retrained cells, harder (`train --scale toy --C 4 --epochs 3`)", "train_hard")):
        retrained = res.retrained(folder)
        lines += ["", f"## {title}", "", "| cell | genotype | param-free | seeds | test acc | parameters |",
                  "|---|---|---|---|---|---|"]
        groups = retrained.groupby(["cell", "genotype"])
        for (name, genotype), g in sorted(groups, key=lambda kv: -kv[1].test_acc.mean()):
            lines.append(f"| {name} | {cell(genotype)} | {g.param_free.iloc[0]} | {len(g)} | "
                         f"{ms(g.test_acc.mean(), g.test_acc.std())} | {g.parameters.iloc[0]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    text = main(root)
    (root / "SUMMARY.md").write_text(text)
    print(text)
