"""Summarise the committed collapse runs: python book/results/collapse/summarize.py [DIR]

Reads DIR/<sweep>/<run>/{history.jsonl,result.json}, DIR/<sweep>/drops.csv and DIR/train/<cell>__seedS/result.json
and writes DIR/SUMMARY.md: per method, over seeds, the derived cell's parameter-free and skip counts, the first
epoch the count exceeds half the edges, IES, the mean skip weight, the discretization drop, the seconds per
search and the retrained test accuracy of the derived cells. Standard library and numpy only.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

PARAMETER_FREE = {"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"}
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def ops_of(genotype: str) -> list[str]:
    return [tok.split("~")[0] for tok in genotype.strip().strip("|").replace("|+|", "|").split("|")]


def param_free(genotype: str) -> int:
    return sum(op in PARAMETER_FREE for op in ops_of(genotype))


def ies(weights: list[list[float]]) -> float:
    w = np.asarray(weights, dtype=np.float64)
    p = w / w.sum(axis=1, keepdims=True)
    return float(-(p * np.log(np.where(p > 0, p, 1.0))).sum())


def ms(values: list[float], fmt: str = "{:.2f}") -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    return (fmt + " ± " + fmt).format(float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)


def load_runs(root: Path) -> list[dict]:
    runs = []
    for result_path in sorted(root.glob("*/*/result.json")):
        run_dir = result_path.parent
        if not (run_dir.parent / "sweep.json").is_file():  # retraining runs, not searches
            continue
        result = json.loads(result_path.read_text())
        history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
        method, space, seed = run_dir.name.split("__")
        drops = {}
        drops_path = run_dir.parent / "drops.csv"
        if drops_path.is_file():
            drops = {r["run"]: r for r in csv.DictReader(drops_path.open())}
        counts = [param_free(h["genotype"]) for h in history]
        half = len(ops_of(result["genotype"])) / 2
        first = next((h["epoch"] for h, c in zip(history, counts) if c > half), None)
        stays = None
        for h, c in zip(reversed(history), reversed(counts)):
            if c <= half:
                break
            stays = h["epoch"]
        cell = next(iter(result["arch_weights"]))
        ops = NB201_OPS if len(result["arch_weights"][cell][0]) == 5 else None
        skip_w = (float(np.mean([e[ops.index("skip_connect")] for e in history[-1]["op_weights"][cell]]))
                  if ops else float("nan"))
        runs.append({"sweep": run_dir.parent.name, "method": method, "space": space, "seed": int(seed[4:]),
                     "genotype": result["genotype"], "pf": counts[-1], "pf_first_epoch": counts[0],
                     "skips": ops_of(result["genotype"]).count("skip_connect"), "half": half,
                     "first_over_half": first, "stays_over_half": stays, "epochs": len(history),
                     "ies": ies(history[-1]["op_weights"][cell]), "ies_epoch1": ies(history[0]["op_weights"][cell]),
                     "skip_weight": skip_w, "seconds": result["metrics"]["seconds"],
                     "supernet_acc": result["metrics"].get(f"{result['metrics'].get('eval_split', 'valid')}_acc"),
                     "drop": float(drops[run_dir.name]["gap"]) if run_dir.name in drops else None,
                     "counts": counts})
    return runs


def load_trains(root: Path, folder: str = "train") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in sorted((root / folder).glob("*/result.json")):
        r = json.loads(p.read_text())
        out.setdefault(r["genotype"], []).append({"acc": r["test_acc"], "params": r["parameters"],
                                                  "name": p.parent.name})
    return out


def main(root: Path) -> str:
    runs, trains, hard = load_runs(root), load_trains(root), load_trains(root, "train_hard")
    lines = ["# Collapse runs: summary", "", "Written by `summarize.py` from the committed runs. Counts are of the derived "
             "cell (NB201: 6 edges; parameter-free = none, skip_connect, avg_pool_3x3). `first > half`: the first "
             "epoch whose derived cell has more than half its edges parameter-free (`stays`: the epoch from which it "
             "stays so until the end); `never`: seeds where it never does. IES: sp-darts.md Eq. 21 on the final op "
             "weights (uniform NB201: 6 ln 5 = 9.66; sigmoid weights are normalised per edge first). Mean skip weight: the skip_connect op weight averaged over the edges (a softmax share; for FairDARTS a sigmoid gate, not comparable). Drop: supernet minus one-hot-discretised supernet accuracy on the "
             "held-out split (points, batch BN, no retraining). Supernet acc: the search's own held-out accuracy "
             "(running BN). Retrained: test accuracy of the derived cells trained "
             "from scratch (`train --scale toy`, 3 seeds per cell; `hard`: `--C 4 --epochs 3`), mean ± std over every "
             "(search seed, train seed).",
             "", "| sweep | method | seeds | param-free (of 6) | seeds >= 4 | skips | param-free at epoch 1 | "
             "first > half | stays > half | IES | mean skip weight | drop (pts) | supernet acc | retrained acc | "
             "retrained acc (hard) | cells retrained | wall s / search |", "|" + "---|" * 17]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["sweep"], r["method"]), []).append(r)
    for (sweep, method), rs in sorted(groups.items()):
        accs = [t["acc"] for r in rs for t in trains.get(r["genotype"], [])]
        hard_accs = [t["acc"] for r in rs for t in hard.get(r["genotype"], [])]
        retrained = sum(1 for r in rs if r["genotype"] in trains)
        firsts = [r["first_over_half"] for r in rs if r["first_over_half"] is not None]
        stays = [r["stays_over_half"] for r in rs if r["stays_over_half"] is not None]
        never = sum(r["first_over_half"] is None for r in rs)
        lines.append("| " + " | ".join([
            sweep, method, str(len(rs)), ms([r["pf"] for r in rs]), f"{sum(r['pf'] >= 4 for r in rs)}/{len(rs)}",
            ms([r["skips"] for r in rs]), ms([r["pf_first_epoch"] for r in rs]),
            (ms(firsts, "{:.1f}") + (f" ({never} never)" if never else "")) if firsts else f"never ({never})",
            ms(stays, "{:.1f}") if stays else "-", ms([r["ies"] for r in rs]), ms([r["skip_weight"] for r in rs], "{:.3f}"),
            ms([r["drop"] for r in rs]), ms([r["supernet_acc"] for r in rs], "{:.1f}"), ms(accs), ms(hard_accs),
            f"{retrained}/{len(rs)}", ms([r["seconds"] for r in rs], "{:.0f}")]) + " |")
    lines += ["", "## Per run", "", "| sweep | method | seed | genotype | param-free per epoch | skips | drop | retrained acc |",
              "|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["sweep"], r["method"], r["seed"])):
        acc = [t["acc"] for t in trains.get(r["genotype"], [])]
        drop = "-" if r["drop"] is None else f"{r['drop']:.2f}"
        lines.append(f"| {r['sweep']} | {r['method']} | {r['seed']} | `{r['genotype'].replace('|', chr(92) + '|')}` | {''.join(map(str, r['counts']))} | "
                     f"{r['skips']} | {drop} | {ms(acc)} |")
    for title, table in (("Retrained cells (`train --scale toy`)", trains),
                         ("Retrained cells, harder (`train --scale toy --C 4 --epochs 3`)", hard)):
        lines += ["", f"## {title}", "", "| genotype | param-free | seeds | test acc | parameters |", "|---|---|---|---|---|"]
        for g, ts in sorted(table.items(), key=lambda kv: -np.mean([t["acc"] for t in kv[1]])):
            lines.append(f"| `{g.replace('|', chr(92) + '|')}` | {param_free(g)} | {len(ts)} | {ms([t['acc'] for t in ts])} "
                         f"| {ts[0]['params']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    text = main(root)
    (root / "SUMMARY.md").write_text(text)
    print(text)
