"""Sweeps: a method x space x seed grid of searches, one process per run, collected into one table.

::

    python -m dartslib sweep --methods darts,fairdarts --spaces nb201,s1 --seeds 0,1,2 --scale toy \\
        --out runs/sweep --jobs 2            # or --gpus 0,1: one run per GPU (CUDA_VISIBLE_DEVICES)

Each run lives in ``OUT/METHOD__SPACE__seedSEED/`` (``spec.json``: what was asked and the resolved config;
``log.txt``: the run's output; then what :class:`~dartslib.engine.loop.Search` writes). Invoking the same sweep
again skips finished runs (those with ``result.json``), resumes interrupted ones from their checkpoint
(Ctrl-C saves every running search) and starts the rest. Pairs a method refuses (e.g. ``fairdarts`` on a
space with ``none``) are listed as refused with the reason instead of failing the sweep. At the end the
table :func:`collect` builds is written to ``OUT/results.csv`` and ``OUT/results.md``.

``collect("runs/sweep")`` is what a notebook calls: one row per (method, space, seed) with the status,
the derived genotype, its skip connections and parametric ops (normal cell; NB201: its one cell), the
supernet's held-out accuracy at the end of the search (valid split; the test split for single-level
methods, see ``eval_split``) and the search's seconds.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from dartslib.engine.checkpoint import write_json_atomic, write_text_atomic
from dartslib.engine.config import SearchConfig, make_config, override_names
from dartslib.engine.machine import machine_label
from dartslib.engine.rundir import PARENT_ENV as _PARENT_ENV
from dartslib.engine.rundir import die_with_parent as _die_with_parent

__all__ = ["PlannedRun", "parse_settings", "plan", "run_sweep", "collect", "COLUMNS"]

COLUMNS = ["method", "space", "seed", "status", "skip_count", "parametric_ops", "supernet_acc", "eval_split",
           "genotype", "seconds", "epochs", "machine", "reason"]
MANIFEST = "sweep.json"


@dataclass
class PlannedRun:
    """One cell of the grid: its directory name and resolved config, or why the method refuses the space."""

    method: str
    space: str
    seed: int
    config: SearchConfig | None
    reason: str | None = None

    @property
    def name(self) -> str:
        return f"{self.method}__{self.space}__seed{self.seed}"

    def spec(self) -> dict[str, Any]:
        return {"method": self.method, "space": self.space, "seed": self.seed,
                "config": self.config.to_dict() if self.config else None}


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """The overrides of ``--set KEY=VALUE`` items, for :func:`~dartslib.engine.config.make_config` (every run's
    config is made there, as a search's flags and Python's calls are): ``KEY`` is any name it takes as an
    override (:func:`~dartslib.engine.config.override_names`: a config field or a switch's knob, ``max_skip``
    included) but ``seed``, which ``--seeds`` sets (as ``--methods``, ``--spaces`` and ``--scale`` set the
    method, space and scale); ``VALUE`` is read as JSON, else taken as text (``--set op_weights=sigmoid``). A
    ValueError (one line) names the item."""
    names = [n for n in override_names() if n != "seed"]
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in names:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY a config field or a method switch's "
                             f"knob other than method, space, seed, scale")
        try:
            overrides[key] = json.loads(text)
        except (ValueError, RecursionError):  # not JSON (or nested too deep, or a number too long): text
            overrides[key] = text
    return overrides


def plan(methods: Sequence[str], spaces: Sequence[str], seeds: Sequence[int], scale: str = "toy",
         overrides: dict[str, Any] | None = None) -> list[PlannedRun]:
    """The grid in (method, space, seed) order. Unknown names raise ValueError; a pair the method refuses
    becomes a :class:`PlannedRun` with ``config=None`` and the library's reason. Every run's config is
    validated here, before any starts (fields, device, supernet size): a bad override is a ValueError."""
    from dartslib.engine.loop import check_supernet_size, resolve_device
    from dartslib.methods.presets import METHODS
    from dartslib.space.spaces import SPACES

    for kind, names, known in (("method", methods, METHODS), ("space", spaces, SPACES)):
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown)) or '(none given)'}; "
                             f"choose from: {', '.join(known)}")
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be non-negative integers, got {list(seeds)}")
    runs = []
    for method in methods:
        for space in spaces:
            for seed in seeds:
                try:  # without the overrides: does the method run on this space at all?
                    make_config(method, space, scale, seed=seed)
                except ValueError as exc:
                    runs.append(PlannedRun(method, space, seed, None, str(exc)))
                    continue
                try:  # every field's type and range, the device, the supernet's size: before any run starts
                    config = make_config(method, space, scale, **{**(overrides or {}), "seed": seed})
                    resolve_device(config.device)
                    check_supernet_size(config)
                except (ValueError, TypeError) as exc:  # a bad override stops the whole sweep, up front
                    raise ValueError(f"invalid override for {method} on {space}: {exc}") from None
                runs.append(PlannedRun(method, space, seed, config))
    return runs


FAILED = "failed.json"
"""Written into a run directory by the sweep when its process fails (exit status and last log line);
removed when the run is started again."""


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _status(run_dir: Path) -> str:
    if (run_dir / "result.json").is_file():
        return "finished"
    if (run_dir / "checkpoint.pt").is_file():
        return "interrupted"
    return "new"


def _prepare(run: PlannedRun, run_dir: Path) -> None:
    """Write ``spec.json``, or check that an existing one asked for the same config."""
    spec_path = run_dir / "spec.json"
    if spec_path.is_file():
        try:
            old = json.loads(spec_path.read_text())["config"]
            if not isinstance(old, dict):
                raise TypeError(f"'config' is a {type(old).__name__}")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ValueError(f"{spec_path} is unreadable or corrupt ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:100] if str(exc) else ''}); delete it or that run's "
                             f"directory") from None
        new = json.loads(json.dumps(run.spec()["config"]))  # tuples -> lists, as stored
        if old != new:
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(f"{run_dir} holds a run with another config (differs in: {', '.join(changed)}); "
                             f"use another --out or delete it")
        return
    write_json_atomic(spec_path, run.spec())


def run_sweep(out: str | Path, methods: Sequence[str], spaces: Sequence[str], seeds: Sequence[int],
              scale: str = "toy", overrides: dict[str, Any] | None = None, jobs: int = 1,
              gpus: Sequence[str] | None = None, echo: Callable[[str], None] = print,
              batch_seeds: bool = False) -> pd.DataFrame:
    """Run the grid, ``jobs`` processes at a time (or one per GPU in ``gpus``), skipping finished runs and
    resuming interrupted ones; write ``results.csv``/``results.md`` and return :func:`collect`'s table.
    A KeyboardInterrupt waits for the running searches to save (they get the same Ctrl-C) and re-raises.
    ``batch_seeds``: the seeds of each (method, space) run in one process as one batched search
    (:mod:`dartslib.engine.batched`; the group's log is in its first run's directory)."""
    out = Path(out)
    runs = plan(methods, spaces, seeds, scale, overrides)
    slots = [str(g) for g in gpus] if gpus else [None] * max(1, jobs)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    known = json.loads(manifest.read_text())["runs"] if manifest.is_file() else {}
    known.update({run.name: {"method": run.method, "space": run.space, "seed": run.seed, "reason": run.reason}
                  for run in runs})
    write_json_atomic(manifest, {"runs": known})

    pending = []
    for run in runs:
        run_dir = out / run.name
        if run.config is None:
            echo(f"refused  {run.name}: {run.reason}")
            continue
        _prepare(run, run_dir)
        status = _status(run_dir)
        if status == "finished":
            echo(f"finished {run.name} (skipped)")
        else:
            pending.append((run, "resume" if status == "interrupted" else "start"))

    if batch_seeds:
        from dartslib.engine.batched import group_seeds

        pending = group_seeds(pending, out, echo, parts=len(slots))
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // len(slots))))
    running: dict[int, tuple[subprocess.Popen, PlannedRun, Any]] = {}
    failed = []
    try:
        while pending or running:
            for slot in range(len(slots)):
                if slot not in running and pending:
                    run, action = pending.pop(0)
                    echo(f"{action:8s} {run.name}" + (f" on GPU {slots[slot]}" if slots[slot] is not None else ""))
                    child_env = dict(env)
                    if slots[slot] is not None:
                        child_env["CUDA_VISIBLE_DEVICES"] = slots[slot]
                    (out / run.name / FAILED).unlink(missing_ok=True)
                    child_env[_PARENT_ENV] = str(os.getpid())  # the child stops (and saves) if we die
                    log = open(out / run.name / "log.txt", "a")
                    dirs = [str(out / m.name) for m in getattr(run, "members", [run])]  # several: batched
                    process = subprocess.Popen([sys.executable, "-m", getattr(run, "child_module", "dartslib.sweep"),
                                                *dirs],
                                               stdout=log, stderr=subprocess.STDOUT, env=child_env)
                    running[slot] = (process, run, log)
            for slot, (process, run, log) in list(running.items()):
                if process.poll() is not None:
                    log.close()
                    del running[slot]
                    rc = process.returncode
                    if rc == 0:
                        echo(f"done     {run.name}")
                    elif rc in (130, -signal.SIGINT, -signal.SIGTERM):  # Ctrl-C, SIGINT, SIGTERM: resumable
                        echo(f"interrupted {run.name} (state saved; run the sweep again to resume)")
                    else:
                        failed.append(run.name)
                        reason = _last_line(out / run.name / "log.txt")
                        write_json_atomic(out / run.name / FAILED, {"returncode": rc, "reason": reason})
                        echo(f"failed   {run.name} (exit {rc}: {reason}); see {out / run.name / 'log.txt'}")
            time.sleep(0.1)
    except KeyboardInterrupt:
        for process, run, log in running.values():
            process.wait()
            log.close()
        raise
    table = collect(out)
    table.to_csv(out / "results.csv", index=False)
    write_text_atomic(out / "results.md", to_markdown(table))
    return table


def collect(path: str | Path) -> pd.DataFrame:
    """The table of a sweep directory: one row per (method, space, seed), columns :data:`COLUMNS`.
    ``status``: finished, failed (its process failed; ``reason``: the last line of its log), interrupted
    (checkpoint, no result), not started, or refused (with ``reason``)."""
    from dartslib.diagnostics.measures import num_parametric, skip_count

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no sweep directory at {path}")
    manifest = path / MANIFEST
    known = json.loads(manifest.read_text())["runs"] if manifest.is_file() else {}
    names = set(known) | {p.parent.name for p in path.glob("*/spec.json")}
    rows = []
    for name in names:
        run_dir = path / name
        spec = json.loads((run_dir / "spec.json").read_text()) if (run_dir / "spec.json").is_file() else known[name]
        row: dict[str, Any] = {"method": spec["method"], "space": spec["space"], "seed": spec["seed"]}
        if (run_dir / "result.json").is_file():
            result = json.loads((run_dir / "result.json").read_text())
            metrics = result["metrics"]
            split = metrics.get("eval_split", "valid")
            row.update(status="finished", genotype=result["genotype"], skip_count=skip_count(result["genotype"]),
                       parametric_ops=num_parametric(result["genotype"]), supernet_acc=metrics.get(f"{split}_acc"),
                       eval_split=split, seconds=metrics.get("seconds"), epochs=metrics.get("epochs"),
                       machine=machine_label(result.get("machine")))
        elif known.get(name, {}).get("reason"):
            row.update(status="refused", reason=known[name]["reason"])
        elif (run_dir / FAILED).is_file():
            try:
                reason = json.loads((run_dir / FAILED).read_text()).get("reason")
            except (OSError, ValueError, AttributeError):
                reason = None
            history = run_dir / "history.jsonl"
            row.update(status="failed", reason=reason or _last_line(run_dir / "log.txt"),
                       epochs=len(history.read_text().splitlines()) if history.is_file() else 0)
        elif (run_dir / "checkpoint.pt").is_file():
            history = (run_dir / "history.jsonl")
            row.update(status="interrupted",
                       epochs=len(history.read_text().splitlines()) if history.is_file() else 0)
        else:
            row.update(status="not started")
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("skip_count", "parametric_ops", "epochs"):
        table[column] = table[column].astype("Int64")
    return table.sort_values(["method", "space", "seed"], ignore_index=True)


def to_markdown(table: pd.DataFrame) -> str:
    """A pipe table (no extra dependency); empty cells for missing values."""
    def cell(value: Any) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        text = f"{value:.2f}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


LOCK_WAIT_ENV = "DARTSLIB_SWEEP_LOCK_WAIT"
"""Seconds a sweep's child waits for a run directory held by a live process (default
:data:`LOCK_WAIT`), e.g. the child of a killed sweep that is still saving its last step."""
LOCK_WAIT = 300.0


def _lock_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(LOCK_WAIT_ENV, LOCK_WAIT)))
    except ValueError:
        return LOCK_WAIT


def _run_one(run_dir: Path) -> int:
    """The child process of a sweep: start or resume the search in ``run_dir``. Exit 0 when finished,
    130 when interrupted (state saved), 1 with a last line ``error: ...`` otherwise.

    The child takes the run directory's lock first (waiting up to :data:`LOCK_WAIT` seconds for a live holder,
    e.g. an earlier sweep's child still saving), and only then looks at what the directory holds: a run that
    another process finished meanwhile is not run again, and no epoch runs twice."""
    from dartslib.engine.loop import Search, run_as_child
    from dartslib.engine.rundir import RunLock

    def work() -> list[str]:
        _die_with_parent()
        lock = RunLock(run_dir).acquire(wait=_lock_wait(), echo=lambda line: print(line, flush=True))
        try:
            if (run_dir / "result.json").is_file():
                print("finished by an earlier process: nothing to run", flush=True)
                result = json.loads((run_dir / "result.json").read_text())
                return [json.dumps({"genotype": result.get("genotype"), **result.get("metrics", {})})]
            if (run_dir / "checkpoint.pt").is_file():
                search = Search.resume(run_dir, progress=False)
                print(f"resuming at epoch {search.epoch + 1}, step {search.step}", flush=True)
            else:
                spec = json.loads((run_dir / "spec.json").read_text())
                search = Search(SearchConfig.from_dict(spec["config"]), run_dir, progress=False)
                print("starting", flush=True)
            result = search.run()
        finally:
            lock.release()
        return [json.dumps({"genotype": result.genotype, **result.metrics})]

    return run_as_child(work)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m dartslib.sweep RUN_DIR (started by `python -m dartslib sweep`)")
    sys.exit(_run_one(Path(sys.argv[1])))
