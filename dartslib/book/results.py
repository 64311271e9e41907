"""The book's real-supernet evidence: the committed collapse runs, read back (or, at ``small``/``paper``
scale, made).

At the ``toy`` scale a chapter does not search: it loads the runs that ``python -m dartslib sweep`` wrote into
``book/results/collapse/`` (one ``history.jsonl`` and ``result.json`` per method and seed, the retrainings of
the derived cells, and per-checkpoint measurements in ``measures.csv``), so every chapter shows the same
runs and the book build stays short. At ``small`` or ``paper`` scale (no committed run there) it loads the
sweep with the methods' own presets from ``$DARTSLIB_RUNS/<scale>/collapse/`` (:func:`collapse_root`), and runs
what is missing -- resuming what was interrupted -- only when the reader asks (``DARTSLIB_RUN_SWEEPS=1``,
:func:`dartslib.book.runs.opt_in`)::

    res = collapse_results(SCALE)
    res.table()            # one row per run
    res.summary()          # one row per method: mean and std over seeds
    res.of("darts")        # the runs of one method, by seed: CollapseRun objects
    res.retrained("train_hard")

The regime (``book/results/collapse/REGIME.md``): NB201 with C=8 and 5 cells per stage, 8x8
digits, batch 64, 30 epochs (360 architecture steps), the alphas' Adam lr 3e-3, one CPU thread per search.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from dartslib.arch.architecture import parse_architecture
from dartslib.diagnostics.measures import ies
from dartslib.diagnostics.recording import Run, load_run
from dartslib.engine.machine import machine_label
from dartslib.space.ops import PARAMETER_FREE_OPS

#: op names counted as parameter-free in a derived cell (:data:`dartslib.space.ops.PARAMETER_FREE_OPS`: none, skip,
#: pooling, noise)
PARAMETER_FREE: frozenset[str] = frozenset(PARAMETER_FREE_OPS)
#: the two retrained control cells: every edge a 3x3 convolution, every edge a skip connection
CONTROL_CELLS: dict[str, str] = {
    "ctrl-conv3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "ctrl-skip": "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
}
#: the book's order of the methods (fixes after DARTS, baselines last)
METHOD_ORDER: tuple[str, ...] = ("darts", "fairdarts", "darts-minus", "sp-darts", "single-darts", "darts-gaussian",
                                 "darts-noskip", "darts-large-arch-lr")
#: the regime's overrides of every method's preset
REGIME_SETTINGS: dict[str, Any] = {"C": 8, "cells_per_stage": 5, "image_size": 8, "epochs": 30, "batch_size": 64,
                                   "arch_lr": 0.003}
REGIME_METHODS: tuple[str, ...] = ("darts", "fairdarts", "darts-minus", "sp-darts", "single-darts",
                                   "darts-gaussian", "darts-noskip")
#: the command that made ``regime/`` (``measure.py`` and ``retrain.py`` then add the measures and retrainings)
REGIME_COMMAND = ("OMP_NUM_THREADS=1 python -m dartslib sweep --methods " + ",".join(REGIME_METHODS)
                  + " --spaces nb201 --seeds 0,1,2,3,4 --scale toy --out book/results/collapse/regime --jobs 1 "
                  + " ".join(f"--set {k}={v}" for k, v in REGIME_SETTINGS.items()))
RESULTS_ENV = "DARTSLIB_RESULTS"


def cell_ops(genotype: str) -> list[str]:
    """The op of each edge of an NB201 architecture string, in edge order (parsed by
    :func:`dartslib.arch.parse_architecture`; ValueError, naming the position, for anything else)."""
    arch = parse_architecture(genotype, allow_empty=True)  # an all-none cell is a cell a search may derive
    if arch.topology != "nb201":
        raise ValueError(f"cell_ops reads an NB201 architecture string (|op~0|+|...), got a DARTS genotype "
                         f"{str(arch)[:60]!r}")
    return list(arch.ops)


def param_free_count(genotype: str) -> int:
    """Parameter-free edges (none, skip, pooling) of an NB201 architecture string."""
    return sum(op in PARAMETER_FREE for op in cell_ops(genotype))


def cell_name(genotype: str) -> str:
    """The name a derived cell's retrainings are filed under: ``cell-`` and 8 hex digits of its SHA-1."""
    for name, g in CONTROL_CELLS.items():
        if g == genotype:
            return name
    return "cell-" + hashlib.sha1(genotype.encode()).hexdigest()[:8]


@dataclass
class CollapseRun:
    """One committed search: its run directory read back, with the per-epoch series a chapter plots."""

    path: Path
    sweep: str
    measures: dict[str, float] = field(default_factory=dict)

    @cached_property
    def run(self) -> Run:
        """The run as :mod:`dartslib.viz.plots` takes it (:class:`dartslib.diagnostics.recording.Run`)."""
        return load_run(self.path, label=self.method)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.run.history

    @property
    def result(self) -> dict[str, Any]:
        return self.run.result or {}

    @property
    def config(self) -> dict[str, Any]:
        return self.run.config

    @property
    def machine(self) -> str:
        """Which machine wrote the run (:func:`dartslib.engine.machine.machine_label`); for a run written before
        runs recorded it, the machine that ``machines.json`` beside the sweep folder names for its folder and
        method, marked as not recorded in the run."""
        if "machine" in self.result:
            return machine_label(self.result["machine"])
        registry = self.path.parent.parent / "machines.json"
        if registry.is_file():
            folder = json.loads(registry.read_text()).get(self.path.parent.name, {})
            known = folder.get(self.method, folder.get("*"))
            if known:
                return f"{known} (from machines.json)"
        return machine_label(None)

    @property
    def method(self) -> str:
        return self.path.name.split("__")[0]

    @property
    def space(self) -> str:
        return self.path.name.split("__")[1]

    @property
    def seed(self) -> int:
        return int(self.path.name.split("__")[2].removeprefix("seed"))

    @property
    def genotype(self) -> str:
        return self.run.final_genotype

    @property
    def epochs(self) -> np.ndarray:
        """``[E]``: 1, ..., E."""
        return np.array(self.run.epochs)

    @property
    def ops(self) -> tuple[str, ...]:
        from dartslib.space.spaces import get_space

        return tuple(get_space(self.space).ops_of("cell", 0))

    def _per_epoch(self, key: str) -> np.ndarray:
        return np.array([h[key]["cell"] for h in self.history], dtype=np.float64)

    @property
    def op_weights(self) -> np.ndarray:
        """``[E, edges, ops]``: the op weights at the end of each epoch, as the search logged them (a softmax
        share for DARTS, a sigmoid gate for FairDARTS and Single-DARTS, SP-DARTS' softmax at its current
        temperature)."""
        return self._per_epoch("op_weights")

    @property
    def alphas(self) -> np.ndarray:
        """``[E, edges, ops]``: the architecture parameters at the end of each epoch."""
        return self._per_epoch("alphas")

    @property
    def param_free_per_epoch(self) -> np.ndarray:
        """``[E]``: parameter-free edges of the cell derived at the end of each epoch."""
        return np.array([param_free_count(h["genotype"]) for h in self.history])

    @property
    def skips_per_epoch(self) -> np.ndarray:
        """``[E]``: skip connections in the cell derived at the end of each epoch."""
        return np.array([cell_ops(h["genotype"]).count("skip_connect") for h in self.history])

    def op_weight(self, op: str) -> np.ndarray:
        """``[E]``: ``op``'s weight at the end of each epoch, mean over the edges."""
        return self.op_weights[:, :, self.ops.index(op)].mean(1)

    @property
    def t_sm(self) -> float | None:
        """SP-DARTS' smooth temperature of the run (its config's ``t_sm``, else ``10 t_sp`` as
        :class:`dartslib.methods.temperature.SparseSmooth` sets it); None for a run without ``t_sp``."""
        cfg = self.config
        if cfg.get("t_sm"):
            return float(cfg["t_sm"])
        return 10 * float(cfg["t_sp"]) if cfg.get("t_sp") else None

    def ies_at(self, t: float) -> float:
        """The IES (sum over the edges of the softmax entropy, nats) of the final alphas read at temperature ``t``."""
        import torch

        from dartslib.diagnostics.entropy import edge_entropies

        return float(edge_entropies(torch.softmax(torch.as_tensor(self.alphas[-1]) / t, -1)).sum())

    def row(self) -> dict[str, Any]:
        """The run's line of :meth:`CollapseResults.table`."""
        counts = self.param_free_per_epoch
        half = len(cell_ops(self.genotype)) / 2
        over = np.flatnonzero(counts > half)
        weights = self.op_weights
        metrics = self.result.get("metrics", {})
        split = metrics.get("eval_split", "valid")
        return {"method": self.method, "seed": self.seed, "genotype": self.genotype,
                "param_free": int(counts[-1]), "skips": int(self.skips_per_epoch[-1]),
                "first_over_half": float(self.epochs[over[0]]) if len(over) else math.nan,
                "ies": ies({"cell": weights[-1]}), "ies_epoch1": ies({"cell": weights[0]}),
                "skip_weight": float(weights[-1][:, self.ops.index("skip_connect")].mean()),
                "supernet_acc": metrics.get(f"{split}_acc", math.nan), "eval_split": split,
                "seconds": metrics.get("seconds", math.nan), "epochs": len(self.history),
                "machine": self.machine,
                **{k: v for k, v in self.measures.items()}}


@dataclass
class CollapseResults:
    """Every committed run under ``root``: searches (folders with a ``sweep.json``), their measures, and
    the retrainings in ``root/train`` and ``root/train_hard``."""

    root: Path
    runs: list[CollapseRun]
    scale: str = "toy"
    #: the same sweep command run again on another CPU (``root/replication``): float32 rounds differently
    #: there, so each run's history differs from the first epoch on; kept apart from :attr:`runs`
    replication: list[CollapseRun] = field(default_factory=list)

    @property
    def command(self) -> str:
        return REGIME_COMMAND if self.scale == "toy" else _sweep_command(self.scale, self.root)

    @property
    def source(self) -> str:
        """One sentence for a chapter: where these runs come from and how to make them again."""
        n = len(self.runs)
        if self.scale == "toy":
            return (f"These {n} searches are loaded from the runs committed in `book/results/collapse/` (made by "
                    f"`{REGIME_COMMAND}`; see that folder's README for the retrainings and measurements), "
                    "not run during the build.")
        return (f"These {n} searches were run by this notebook at the `{self.scale}` scale into `{self.root}` "
                f"(`{self.command}`).")

    @property
    def methods(self) -> list[str]:
        present = {r.method for r in self.runs}
        return [m for m in METHOD_ORDER if m in present] + sorted(present - set(METHOD_ORDER))

    def of(self, method: str, sweep: str | None = None) -> list[CollapseRun]:
        """The runs of ``method`` (in sweep ``sweep``, default: its first), sorted by seed."""
        runs = [r for r in self.runs if r.method == method and (sweep is None or r.sweep == sweep)]
        if sweep is None and runs:
            runs = [r for r in runs if r.sweep == runs[0].sweep]
        return sorted(runs, key=lambda r: r.seed)

    def retrained(self, folder: str = "train") -> pd.DataFrame:
        """One row per retraining in ``root/folder``: cell, genotype, seed, test_acc, parameters,
        param_free, skips."""
        rows = []
        for path in sorted((self.root / folder).glob("*/result.json")):
            r = json.loads(path.read_text())
            name, seed = path.parent.name.rsplit("__seed", 1)
            rows.append({"cell": name, "genotype": r["genotype"], "seed": int(seed), "test_acc": r["test_acc"],
                         "parameters": r["parameters"], "param_free": param_free_count(r["genotype"]),
                         "skips": cell_ops(r["genotype"]).count("skip_connect")})
        return pd.DataFrame(rows, columns=["cell", "genotype", "seed", "test_acc", "parameters", "param_free",
                                           "skips"])

    def replication_of(self, method: str) -> list[CollapseRun]:
        """The runs of ``method`` in :attr:`replication`, sorted by seed."""
        return sorted((r for r in self.replication if r.method == method), key=lambda r: r.seed)

    def retrained_by_method(self, folder: str, table: pd.DataFrame, controls: Iterable[str] = ()) -> pd.DataFrame:
        """:meth:`retrained` of ``folder`` joined with ``table`` (one row per search: ``method``, ``genotype``):
        one row per (cell, training seed) with ``method`` (the first method that derived the cell) and
        ``derived_by`` (every method that did, with its number of seeds: ``"darts (2), fairdarts (1)"``); the
        ``controls`` cells get ``"control"`` in both. Cells of no search in ``table`` are left out."""
        r = self.retrained(folder)
        derived = table.groupby("genotype").agg(
            method=("method", "first"),
            derived_by=("method", lambda s: ", ".join(f"{m} ({n})" for m, n in s.value_counts(sort=False).items())))
        r = r.join(derived, on="genotype")
        r.loc[r.cell.isin(list(controls)), ["method", "derived_by"]] = "control"
        return r.dropna(subset=["method"])

    def table(self, replication: bool = False) -> pd.DataFrame:
        """One row per search (see :meth:`CollapseRun.row`), with the mean retrained test accuracy of its
        derived cell at both sizes (``retrained_acc``, ``retrained_acc_hard``; NaN where not retrained).
        ``replication=True``: the same for the runs of :attr:`replication`."""
        rows = [r.row() for r in (self.replication if replication else self.runs)]
        table = pd.DataFrame(rows)
        if table.empty:
            return table
        for folder, column in (("train", "retrained_acc"), ("train_hard", "retrained_acc_hard")):
            accs = self.retrained(folder).groupby("genotype")["test_acc"].mean()
            table[column] = table["genotype"].map(accs).astype(float)
        order = {m: i for i, m in enumerate(self.methods)}
        return table.sort_values(["method", "seed"], key=lambda c: c.map(order) if c.name == "method" else c,
                                 ignore_index=True)

    def summary(self, replication: bool = False) -> pd.DataFrame:
        """One row per method: ``n`` seeds, ``collapsed`` (seeds whose derived cell has at least 4 of 6
        edges parameter-free), and the mean and standard deviation (ddof=1) of every numeric column
        (``replication=True``: of the runs of :attr:`replication`)."""
        table = self.table(replication)
        numeric = [c for c in table.columns if c not in ("method", "seed", "genotype", "eval_split")
                   and pd.api.types.is_numeric_dtype(table[c])]
        grouped = table.groupby("method", sort=False)
        out = grouped[numeric].agg(["mean", "std"])
        out.columns = [f"{c}_{stat}" for c, stat in out.columns]
        out.insert(0, "collapsed", grouped["param_free"].apply(lambda s: int((s >= 4).sum())))
        out.insert(0, "n", grouped.size())
        return out


#: the folder (under the results root) of the regime's sweep command run again on another CPU
REPLICATION = "replication"


def find_results(root: str | os.PathLike[str] | None = None) -> Path:
    """The committed results folder: ``root``, else ``$DARTSLIB_RESULTS``, else ``book/results/collapse`` of
    the repository this dartslib was installed from (or of the current directory or its parent)."""
    candidates = [Path(root)] if root is not None else (
        [Path(os.environ[RESULTS_ENV])] if os.environ.get(RESULTS_ENV) else
        [Path(__file__).resolve().parents[2] / "book" / "results" / "collapse",
         Path.cwd() / "book" / "results" / "collapse", Path.cwd().parent / "book" / "results" / "collapse"])
    for path in candidates:
        if (path / "regime").is_dir():
            return path
    raise FileNotFoundError(
        f"no committed collapse runs at {', '.join(map(str, candidates))} (a folder with regime/ in it): clone the "
        f"repository, set ${RESULTS_ENV} to its book/results/collapse, or make them with: {REGIME_COMMAND}")


def load_collapse_results(root: str | os.PathLike[str] | None = None, scale: str = "toy") -> CollapseResults:
    """Read every search under ``root`` (see :func:`find_results`) with its measures."""
    root = find_results(root) if scale == "toy" else Path(root)
    runs: list[CollapseRun] = []
    replication: list[CollapseRun] = []
    for sweep_dir in sorted(p.parent for p in root.glob("*/sweep.json")):
        measures = read_measures(sweep_dir)
        into = replication if sweep_dir.name == REPLICATION else runs
        for result in sorted(sweep_dir.glob("*/result.json")):
            into.append(CollapseRun(result.parent, sweep_dir.name, measures.get(result.parent.name, {})))
    return CollapseResults(root, runs, scale, replication)


def read_measures(sweep_dir: Path) -> dict[str, dict[str, float]]:
    """``measures.csv`` of a sweep (written by :func:`measure_sweep`) as ``{run name: {column: value}}``;
    the older ``drops.csv`` (the batch-BN drop only) fills in runs that have no line there."""
    out: dict[str, dict[str, float]] = {}
    for name, columns in (("drops.csv", {"gap": "drop"}), ("measures.csv", None)):
        path = sweep_dir / name
        if not path.is_file():
            continue
        for row in csv.DictReader(path.open()):
            values = {(columns or {}).get(k, k): float(v) for k, v in row.items()
                      if k not in ("run", "genotype") and (columns is None or k in columns) and v not in ("", None)}
            out.setdefault(row["run"], {}).update(values)
    return out


# ------------------------------------------------------------------------- measuring the final checkpoints

MEASURE_COLUMNS = ("drop", "drop_recal", "drop_keep", "drop_finetuned", "supernet_acc_recal",
                   "discrete_acc_recal", "discrete_acc_finetuned", "gc_bilevel", "gc_train_train")


def measure_run(run_dir: str | os.PathLike[str], calibration_batches: int = 8, pairs: int = 8,
                finetune_steps: int = 40) -> dict[str, float]:
    """Measurements on a finished search's final ``checkpoint.pt``, all on the same data for every method
    (the digits test split, which no search trains on; weight and alpha batches from DARTS' train/valid halves
    of the training split, whatever split the method itself used):

    * ``drop``: supernet minus one-hot supernet accuracy, both with batch-statistics BN
      (:func:`dartslib.diagnostics.measures.discretization_gap`);
    * ``drop_recal`` (and ``supernet_acc_recal``, ``discrete_acc_recal``): the same with each network's BN
      re-estimated on ``calibration_batches`` training batches (:func:`dartslib.diagnostics.measures.recalibrate_bn`);
    * ``drop_keep``: the discrete net keeps the derived op at its trained weight (the rescaling control);
    * ``drop_finetuned`` (and ``discrete_acc_finetuned``): the recalibrated supernet's accuracy minus the one-hot
      net's after ``finetune_steps`` SGD steps on its weights at the search's weight lr
      (:func:`dartslib.diagnostics.measures.finetuned_accuracy`);
    * ``gc_bilevel``, ``gc_train_train``: the cosine of Hou et al. (2021), Eq. 8, averaged over nodes and
      ``pairs`` batch pairs, between a weight batch of the train half and an alpha batch of the valid half
      (bi-level), or another batch of the train half (same subset).
    """
    import torch

    from dartslib.data import BatchIterator, load_dataset, split_train_valid
    from dartslib.diagnostics.measures import discretization_gap, finetuned_accuracy, one_hot_op_weights
    from dartslib.diagnostics.grad_correlation import gradient_correlation
    from dartslib.engine.loop import Search
    from dartslib.hooks import call_hooks

    torch.manual_seed(0)
    search = Search.resume(run_dir, progress=False)
    call_hooks([(search.model, search.hooks)], "eval_mode")
    cfg = search.config
    model = search.model
    genotype = json.loads((Path(run_dir) / "result.json").read_text())["genotype"]
    test = load_dataset(cfg.dataset, "test", root=cfg.data_dir, image_size=cfg.image_size)
    held = list(BatchIterator(test, 256, shuffle=False).epoch(0))
    full = load_dataset(cfg.dataset, "train", root=cfg.data_dir, image_size=cfg.image_size)
    train_half, valid_half = split_train_valid(full, 0.5)
    train = list(BatchIterator(train_half, cfg.batch_size, shuffle=True, seed=0).epoch(0))
    valid = list(BatchIterator(valid_half, cfg.batch_size, shuffle=True, seed=1).epoch(0))
    calib = train[:calibration_batches]
    batch = discretization_gap(model, held, genotype=genotype, bn="batch")
    recal = discretization_gap(model, held, genotype=genotype, bn="recalibrate", calibration_batches=calib)
    keep = discretization_gap(model, held, genotype=genotype, bn="batch", keep_weight=True)
    with torch.no_grad():
        one_hot = one_hot_op_weights(genotype, model.space, like=model.op_weights())
    tuning = (train * (finetune_steps // len(train) + 1))[:finetune_steps]
    _, tuned = finetuned_accuracy(model, held, tuning, one_hot, lr=cfg.lr, momentum=cfg.momentum)

    def mean_cosine(weight_batches: Sequence[Any], arch_batches: Sequence[Any]) -> float:
        values = [c for wb, ab in zip(weight_batches, arch_batches)
                  for cell in gradient_correlation(model, wb, ab).cosine for c in cell]
        return float(np.mean(values))

    return {"drop": batch["gap"], "drop_recal": recal["gap"], "drop_keep": keep["gap"],
            "drop_finetuned": recal["supernet_acc"] - tuned, "supernet_acc_recal": recal["supernet_acc"],
            "discrete_acc_recal": recal["discrete_acc"], "discrete_acc_finetuned": tuned,
            "gc_bilevel": mean_cosine(train[:pairs], valid[:pairs]),
            "gc_train_train": mean_cosine(train[:pairs], train[pairs:2 * pairs])}


def measure_sweep(sweep_dir: str | os.PathLike[str], runs: Iterable[str] | None = None, log: Any = print) -> Path:
    """Measure (:func:`measure_run`) every finished run of ``sweep_dir`` that still has its checkpoint and
    has no line yet in ``sweep_dir/measures.csv``; rewrites that file with the old lines and the new ones."""
    sweep_dir = Path(sweep_dir)
    out = sweep_dir / "measures.csv"
    rows = {r["run"]: r for r in csv.DictReader(out.open())} if out.is_file() else {}
    wanted = set(runs) if runs is not None else None
    for result in sorted(sweep_dir.glob("*/result.json")):
        run = result.parent
        if run.name in rows or not (run / "checkpoint.pt").is_file() or (wanted and run.name not in wanted):
            continue
        values = measure_run(run)
        rows[run.name] = {"run": run.name, "genotype": json.loads(result.read_text())["genotype"],
                          **{k: f"{values[k]:.6g}" for k in MEASURE_COLUMNS}}
        if log:
            log(run.name + " " + " ".join(f"{k}={values[k]:.3g}" for k in MEASURE_COLUMNS))
        tmp = out.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, ["run", "genotype", *MEASURE_COLUMNS])
            writer.writeheader()
            writer.writerows(rows[k] for k in sorted(rows))
        tmp.replace(out)
    return out


# ----------------------------------------------------------------------------------------- the entry point

def collapse_root(scale: str) -> Path:
    """Where the real-supernet sweep of ``scale`` (small/paper) lives: ``$DARTSLIB_RUNS/SCALE/collapse``,
    shared by chapters 1-7 and kept between executions."""
    from dartslib.book.runs import runs_root

    return runs_root() / scale / "collapse"


def _sweep_command(scale: str, root: Path, methods: Sequence[str] = REGIME_METHODS,
                   seeds: Sequence[int] = range(5)) -> str:
    return (f"python -m dartslib sweep --methods {','.join(methods)} --spaces nb201 "
            f"--seeds {','.join(map(str, seeds))} --scale {scale} --out {root / 'regime'}")


def collapse_results(scale: str = "toy", methods: Sequence[str] = REGIME_METHODS, seeds: Sequence[int] = range(5),
                     root: str | os.PathLike[str] | None = None) -> CollapseResults:
    """The real-supernet runs a chapter shows: at ``toy`` scale the committed ones (:func:`load_collapse_results`);
    at ``small``/``paper`` scale a sweep of ``methods`` x ``seeds`` with the methods' own presets on NB201 in
    ``root`` (default :func:`collapse_root`, kept between executions): loaded when every run is finished, else
    run (finished runs skipped, interrupted ones resumed) and measured -- but only when the reader asked
    (``DARTSLIB_RUN_SWEEPS=1``); otherwise :class:`~dartslib.book.runs.OptInRequired` gives the command and its
    cost. No retraining is run at those scales (``retrained()`` is empty unless ``root/train`` has runs)."""
    if scale == "toy":
        return load_collapse_results(root)
    from dartslib.book.runs import opt_in
    from dartslib.engine.config import make_config
    from dartslib.sweep import run_sweep

    root = Path(root) if root is not None else collapse_root(scale)
    dirs = [root / "regime" / f"{m}__nb201__seed{s}" for m in methods for s in seeds]
    configs = [make_config(m, "nb201", scale, seed=s) for m in methods for s in seeds]
    if not opt_in("the real-supernet sweep", dirs, configs, _sweep_command(scale, root, methods, seeds)):
        run_sweep(root / "regime", list(methods), ["nb201"], list(seeds), scale=scale)
    measure_sweep(root / "regime", log=None)
    return load_collapse_results(root, scale=scale)
