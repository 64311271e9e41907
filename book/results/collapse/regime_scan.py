"""Regime scan table (issue 22 part 2; endpoints and rules: PROTOCOL.md).

Reads sweep folders as ``python -m dartslib sweep`` wrote them (``METHOD__nb201__seedS/history.jsonl`` and,
once a search has finished, ``result.json`` with its machine) and prints one Markdown row per
(folder, method, read epoch):

    skip-dominated k/n (at least 4 of 6 edges skip_connect) with its Clopper-Pearson 95 % interval,
    the exact one-sided binomial p against chance (p0 = 0.017), mean skips with a bootstrap 95 % interval,
    mean skip share of the op weights, median alpha lead (top alpha minus runner-up, per edge) and its
    epoch-1 value, the largest op weight of any edge, and the machine (CPU capability, fingerprint prefix).

usage:
    python book/results/collapse/regime_scan.py FOLDER [FOLDER ...] [--epochs 10,20,30] [--methods darts]
    python book/results/collapse/regime_scan.py --all [--epochs ...]     # every folder under scan/

``--epochs`` reads those epochs' history lines (only meaningful as search lengths under the constant
weight-lr schedule, PROTOCOL.md section 3); by default the last epoch of each search. A search whose
history does not reach an epoch is left out of that row (n says how many are in it). ``--compare A B``
adds Fisher's exact test between the two folders' rates at each epoch and whether each rate lies in the
other's interval.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
SKIP = "skip_connect"
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # NB201 order (dartslib.space)
CHANCE = 0.017  # P(>= 4 of 6 edges skip) for a uniformly drawn cell: sum_k>=4 C(6,k) (1/5)^k (4/5)^(6-k)


# the protocol's statistics, one implementation: dartslib.book.verdicts
from dartslib.book.verdicts import bootstrap_ci as bootstrap_mean, chance_rate, clopper_pearson  # noqa: E402


def read_run(run: Path) -> dict:
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]
    result = json.loads((run / "result.json").read_text()) if (run / "result.json").exists() else None
    return {"history": history, "result": result}


def epoch_measures(line: dict) -> dict:
    genotype = line["genotype"]
    alphas = np.array(line["alphas"]["cell"], dtype=float)
    weights = np.array(line["op_weights"]["cell"], dtype=float)
    top2 = np.sort(alphas, axis=1)[:, -2:]
    share = weights[:, OPS.index(SKIP)] / weights.sum(1)
    return {"skips": genotype.count(SKIP), "leads": top2[:, 1] - top2[:, 0], "share": float(share.mean()),
            "max_w": float(weights.max())}


def runs_of(folder: Path, method: str) -> list[Path]:
    return sorted((p for p in folder.glob(f"{method}__nb201__seed*") if (p / "history.jsonl").exists()),
                  key=lambda p: int(p.name.rsplit("seed", 1)[1]))


def machine_of(runs: list[dict], folder: Path) -> str:
    """The distinct machines of the finished searches (dartslib.engine.machine.machine_label); for a sweep
    interrupted before any search finished, the folder's ``machine.json`` (``machine_info()`` of the machine
    that ran it, written by hand with dartslib), marked as such."""
    from dartslib.engine.machine import machine_label
    seen = {machine_label(r["result"].get("machine")) for r in runs if r["result"] is not None}
    if not seen and (folder / "machine.json").exists():
        return machine_label(json.loads((folder / "machine.json").read_text())) + " (machine.json; unfinished)"
    return "; ".join(sorted(seen)) or "(unfinished)"


def row(folder: Path, method: str, epoch: int | None) -> dict | None:
    runs = [read_run(p) for p in runs_of(folder, method)]
    if not runs:
        return None
    lines, firsts = [], []
    for r in runs:
        h = r["history"]
        if epoch is None:
            if r["result"] is None:
                continue
            lines.append(h[-1])
        elif len(h) >= epoch:
            lines.append(h[epoch - 1])
        else:
            continue
        firsts.append(h[0])
    n = len(lines)
    if n == 0:
        return None
    ms = [epoch_measures(x) for x in lines]
    skips = np.array([m["skips"] for m in ms], dtype=float)
    k = int((skips >= 4).sum())
    lo, hi = clopper_pearson(k, n)
    blo, bhi = bootstrap_mean(skips)
    return {"folder": str(folder.relative_to(HERE)) if folder.is_relative_to(HERE) else str(folder),
            "method": method, "epoch": int(lines[0]["epoch"]) if epoch is None else epoch, "n": n, "k": k,
            "rate": k / n, "ci": (lo, hi), "p_chance": float(stats.binomtest(k, n, chance_rate(),
                                                                             alternative="greater").pvalue),
            "skips": float(skips.mean()), "skips_ci": (blo, bhi), "per_seed": "".join(str(int(s)) for s in skips),
            "share": float(np.mean([m["share"] for m in ms])),
            "lead": float(np.median(np.concatenate([m["leads"] for m in ms]))),
            "lead1": float(np.median(np.concatenate([epoch_measures(x)["leads"] for x in firsts]))),
            "max_w": float(max(m["max_w"] for m in ms)), "machine": machine_of(runs, folder)}


HEADER = ("| folder | method | epoch | n | skip-dominated | 95 % CI | p vs chance | skips per seed | mean skips "
          "[95 % CI] | skip share | median lead (epoch 1) | max weight | machine |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def fmt(r: dict) -> str:
    return (f"| {r['folder']} | {r['method']} | {r['epoch']} | {r['n']} | {r['k']}/{r['n']} ({100 * r['rate']:.0f} %)"
            f" | {100 * r['ci'][0]:.0f}-{100 * r['ci'][1]:.0f} % | {r['p_chance']:.1g} | {r['per_seed']} | "
            f"{r['skips']:.2f} [{r['skips_ci'][0]:.2f}, {r['skips_ci'][1]:.2f}] | {r['share']:.3f} | "
            f"{r['lead']:.3f} ({r['lead1']:.3f}) | {r['max_w']:.3f} | {r['machine']} |")


def compare(a: dict, b: dict) -> str:
    p = stats.fisher_exact([[a["k"], a["n"] - a["k"]], [b["k"], b["n"] - b["k"]]]).pvalue
    a_in_b = b["ci"][0] <= a["rate"] <= b["ci"][1]
    b_in_a = a["ci"][0] <= b["rate"] <= a["ci"][1]
    k, n = a["k"] + b["k"], a["n"] + b["n"]
    lo, hi = clopper_pearson(k, n)
    same = sum((x >= "4") == (y >= "4") for x, y in zip(a["per_seed"], b["per_seed"])) if a["n"] == b["n"] else None
    return (f"epoch {a['epoch']}: {a['folder']} {a['k']}/{a['n']} vs {b['folder']} {b['k']}/{b['n']}: Fisher two-sided "
            f"p = {p:.3g}; each rate inside the other's 95 % CI: {a_in_b and b_in_a}; pooled {k}/{n} "
            f"({100 * k / n:.1f} %, CI {100 * lo:.0f}-{100 * hi:.0f} %); same skip-dominated verdict for the same seed "
            f"on both: {same}/{a['n']}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--all", action="store_true", help="every sweep folder under scan/ (scan/NAME/ARITH)")
    ap.add_argument("--epochs", default=None, help="comma-separated read epochs (default: each search's last)")
    ap.add_argument("--methods", default="darts")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = ap.parse_args(argv)
    folders = list(args.folders)
    if args.all:
        folders += sorted(p.parent for p in (HERE / "scan").glob("*/*/sweep.json"))
    epochs = [None] if args.epochs is None else [int(e) for e in args.epochs.split(",")]
    print(HEADER)
    for folder in folders:
        for method in args.methods.split(","):
            for e in epochs:
                r = row(folder.resolve(), method, e)
                if r:
                    print(fmt(r))
    if args.compare:
        for method in args.methods.split(","):
            for e in epochs:
                a, b = (row(f.resolve(), method, e) for f in args.compare)
                if a and b:
                    print(compare(a, b))


if __name__ == "__main__":
    main()
