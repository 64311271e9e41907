"""The helpers of the book "Why DARTS Collapses": what every chapter needs before its first experiment.

Each chapter notebook starts with its parameters cell (``SCALE`` from ``DARTSLIB_SCALE``), then one import
line and one call, in the manner of *Dive into Deep Learning*'s ``from d2l import torch as d2l``::

    from dartslib.book import *              # the names below
    chapter = start_chapter("02_unfair_advantage", SCALE, threads=1)

``from dartslib.book import *`` gives a chapter

* the modules every chapter uses: ``math``, ``time``, ``np`` (numpy), ``pd`` (pandas), ``torch``, :func:`tqdm`
  (a widget bar in an interactive session, none in the book's build: :func:`progress_mode`),
  ``Markdown`` (IPython), ``Figure`` (matplotlib);
* the parts of ``dartslib`` that most chapters use: ``dartslib`` itself, :mod:`~dartslib.viz.plots`,
  :mod:`~dartslib.diagnostics.measures`, :mod:`~dartslib.book.toys`, :class:`~dartslib.book.explorer.Explorer`,
  :func:`~dartslib.make_config`, :func:`~dartslib.search`, :func:`~dartslib.derive`,
  :func:`~dartslib.get_space`, :func:`~dartslib.build_supernet` and the data pipeline
  (:func:`~dartslib.data.load_dataset`, :func:`~dartslib.data.split_train_valid`,
  :class:`~dartslib.data.BatchIterator`), and the device helpers :func:`~dartslib.device.to_device`,
  :func:`~dartslib.device.model_device` and :func:`~dartslib.device.synchronize` (a chapter that calls a model
  itself moves its batches with them: a search leaves its model on CUDA when there is a GPU). What only
  one chapter uses (a method's own module) is imported by
  that chapter where it is first used, so the reader sees where it comes from;
* :func:`glue` (myst-nb's, which pastes a computed value into the prose of the built book; elsewhere it
  prints the value), :func:`new_figure`, :func:`band`, :func:`show_table` (a formatted table, never a raw
  DataFrame of floats), :func:`start_chapter` and :func:`search_many`
  (independent searches, one per CPU core: the same runs as one :func:`~dartslib.search` call each);
* what a few chapters share, imported by name where a chapter uses it: :mod:`~dartslib.book.summaries`
  (mean ± sd, standard error or t interval over seeds, :func:`~dartslib.book.summaries.glue_mean_sd`, formatted
  tables), :mod:`~dartslib.book.figures` (the explorers' panels), :mod:`~dartslib.book.prose` (sentences about
  the committed runs) and :mod:`~dartslib.book.toys` (the toy's R^2 with chosen op weights,
  :func:`~dartslib.book.toys.toy_r2`). A chapter defines a function only when it is the point of its cell (``tests/test_notebook_functions.py``);
* :func:`~dartslib.book.results.collapse_results`: the real-supernet collapse runs, loaded from the committed
  ``book/results/collapse/`` at the toy scale, at ``small``/``paper`` scale loaded from the runs folder or run
  on request.

**Where runs go, and paper scale on request.** A chapter's searches write into ``chapter.runs``, under
``$DARTSLIB_RUNS`` (default ``~/.cache/dartslib/runs``; on Colab point it at Drive, e.g.
``%env DARTSLIB_RUNS=/content/drive/MyDrive/dartslib-runs``). At ``toy`` scale the searches take minutes and
are rebuilt by every execution (``toy/NAME/run-PID``, emptied at the start). At ``small`` and ``paper`` scale
the folder is ``SCALE/NAME`` and is never emptied: a finished search is loaded from it, an interrupted one
(a disconnect) resumes from its last checkpoint, and a search that has not run yet starts only when the reader
asks for it with ``DARTSLIB_RUN_SWEEPS=1``; otherwise the chapter stops with :class:`OptInRequired`, whose
message gives the command that runs it and its cost (GPU-hours and memory: :mod:`dartslib.book.costs`).
"""
from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import shutil
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown
from matplotlib.figure import Figure
from dartslib.progress import PROGRESS_ENV, progress_bar, progress_mode  # noqa: F401  (re-exported)

import dartslib
from dartslib import build_supernet, derive, diagnostics, get_space, make_config, search
from dartslib.book import toys
from dartslib.viz import plots
from dartslib.viz.plots import band
from dartslib.data import BatchIterator, load_dataset, split_train_valid
from dartslib.device import model_device, synchronize, to_device
from dartslib.book.explorer import Explorer
from dartslib.book.results import CollapseResults, collapse_results
from dartslib.book.runs import CURRENT, OptInRequired, opt_in, runs_root

from dartslib.book.figures import new_figure
from dartslib.book.paste import glue
from dartslib.book.summaries import mean_sd, mean_sd_table, show_table

__all__ = [
    # modules and classes every chapter uses
    "math", "time", "np", "pd", "torch", "tqdm", "Markdown", "Figure",
    # dartslib
    "dartslib", "plots", "diagnostics", "toys", "Explorer", "make_config", "search", "derive", "get_space",
    "build_supernet", "BatchIterator", "load_dataset", "split_train_valid",
    # the device contract: batches follow the model (dartslib.device)
    "model_device", "to_device", "synchronize",
    # the book's helpers
    "glue", "new_figure", "band", "show_table", "mean_sd", "mean_sd_table", "Chapter", "start_chapter",
    "search_many", "search_in_background", "OptInRequired", "opt_in", "runs_root",
    # the committed real-supernet runs (dartslib.book.results) and the verdicts computed from them
    "collapse_results", "CollapseResults", "glue_evidence",
]


def glue_evidence(root: Any = None) -> Any:
    """Load the committed evidence of ``book/results/collapse/PROTOCOL.md`` and glue every verdict computed
    from it (:meth:`dartslib.book.verdicts.Evidence.glue_values`: ``verdict_...`` keys, as Markdown, for
    ``{glue:md}``); returns the :class:`~dartslib.book.verdicts.Evidence`. The book states a verdict about a
    method only through these keys (``tests/test_verdicts.py`` checks the prose for the rest)."""
    from dartslib.book.verdicts import load_evidence

    evidence = load_evidence(root)
    for key, value in evidence.glue_values().items():
        glue(key, Markdown(value), display=False)
    return evidence


def tqdm(*args: Any, **kwargs: Any) -> Any:
    """A progress bar for a chapter: a widget in an interactive session, none in the book's build, text elsewhere
    (:func:`dartslib.progress.progress_bar`, which the library's own loops use too)."""
    return progress_bar(*args, **kwargs)


@dataclass
class Chapter:
    """One chapter's run: its name, scale, device, where its searches write, and its clock.

    Attributes:
        name: the notebook's name, e.g. ``"01_darts"``.
        scale: ``"toy"``, ``"small"`` or ``"paper"`` (the chapter's ``SCALE``).
        device: ``"cuda"`` when a GPU is visible, else ``"cpu"``.
        runs: the directory for the chapter's search runs (see the module docstring): at toy scale
            ``$DARTSLIB_RUNS/toy/NAME/run-PID``, empty at the start (rebuilt by every execution); at
            ``small``/``paper`` ``$DARTSLIB_RUNS/SCALE/NAME``, kept between executions (loaded or resumed).
        started: ``time.perf_counter()`` when the chapter started.
    """

    name: str
    scale: str
    device: str
    runs: Path
    started: float = field(default_factory=time.perf_counter)

    def minutes(self) -> float:
        """Minutes since the chapter started."""
        return (time.perf_counter() - self.started) / 60

    def finish(self) -> float:
        """Glue the chapter's running time as ``total_minutes`` (its "What it costs to run" box) and print it."""
        minutes = self.minutes()
        glue("total_minutes", minutes, display=False)
        print(f"this notebook ran for {minutes:.1f} minutes at scale {self.scale!r}")
        return minutes


def _configure_notebook() -> None:
    """Inline figures at retina resolution when running in IPython (``%matplotlib inline``, ``%config``)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.run_line_magic("matplotlib", "inline")
    shell.run_line_magic("config", "InlineBackend.figure_formats = ['retina']")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fresh_runs_dir(base: Path) -> Path:
    """An empty directory for this execution's runs: ``base/run-PID`` (PID: this kernel's process).

    A search refuses a directory that holds an older run (:mod:`dartslib.engine.rundir`), and the runs are rebuilt by
    every execution, so each execution starts from an empty one. It is its own per process, so two executions of
    one chapter at once (a build and a Jupyter session) never delete each other's runs; the directories of
    executions whose process has ended are removed here, and a re-run in the same kernel empties its own."""
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob("run-*"):
        pid = old.name.removeprefix("run-")
        if not pid.isdigit() or int(pid) == os.getpid() or not _process_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    runs = base / f"run-{os.getpid()}"
    runs.mkdir()
    return runs


def start_chapter(name: str, scale: str, threads: int | None = None, quiet: bool = False) -> Chapter:
    """Start a chapter: inline figures, the torch thread count, its clock and its runs directory (emptied at
    toy scale, kept at ``small``/``paper``: see the module docstring).

    Args:
        name: the notebook's name (``"01_darts"``); names the runs directory.
        scale: the chapter's ``SCALE`` (``"toy"``, ``"small"`` or ``"paper"``).
        threads: if given, ``torch.set_num_threads(threads)`` (the toys' tensors are small: one thread is fastest).
        quiet: do not print the versions line.

    Returns:
        the :class:`Chapter`; ``chapter.finish()`` at the end glues the chapter's running time.
    """
    from dartslib.engine.config import SCALES

    if scale not in SCALES:
        raise ValueError(f"DARTSLIB_SCALE={scale!r} is not a scale; choose one of {', '.join(SCALES)}")
    _configure_notebook()
    if threads is not None:
        torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if scale == "toy":
        runs = _fresh_runs_dir(runs_root() / "toy" / name)
    else:  # kept: finished searches are loaded, interrupted ones resume (a Colab disconnect loses nothing)
        runs = runs_root() / scale / name
        runs.mkdir(parents=True, exist_ok=True)
    chapter = Chapter(name=name, scale=scale, device=device, runs=runs)
    CURRENT["name"] = name
    _glue_costs(name)
    if not quiet:
        print(f"dartslib {dartslib.__version__}, torch {torch.__version__}, scale {scale!r}, device {device}, "
              f"{torch.get_num_threads()} CPU thread(s)")
        if scale != "toy":
            print(f"runs: {runs} (kept; set $DARTSLIB_RUNS to move them)")
            if device == "cpu":
                from dartslib.device import cuda_unavailable_reason

                print(f"WARNING: scale {scale!r} on the CPU: CUDA is not usable here ({cuda_unavailable_reason()})")
    return chapter



def _glue_costs(name: str) -> None:
    """Glue chapter ``name``'s GPU price at ``small`` and ``paper`` scale for its cost box, from
    ``benchmarks/cost_estimates.json`` (:mod:`dartslib.book.costs`): ``cost_SCALE_gpu_hours`` and
    ``cost_SCALE_peak_gib`` (its own searches), ``cost_SCALE_sweep_gpu_hours`` (the shared real-supernet sweep)
    and ``cost_SCALE_status`` ("estimated" until a GPU ran ``benchmarks/gpu_check.sh``)."""
    import json

    from dartslib.book.costs import ESTIMATES

    if not ESTIMATES.is_file():  # an installed wheel without the repository: the boxes keep their words
        return
    for row in json.loads(ESTIMATES.read_text())["rows"]:
        if row["chapter"] == name:
            scale = row["scale"]
            glue(f"cost_{scale}_gpu_hours", float(row["gpu_hours"]), display=False)
            glue(f"cost_{scale}_peak_gib", float(row["peak_gib"]), display=False)
            glue(f"cost_{scale}_sweep_gpu_hours", float(row["sweep_gpu_hours"]), display=False)
            glue(f"cost_{scale}_status", row["status"], display=False)


def _search(config: dartslib.SearchConfig, out_dir: Path | None, hooks: list | None, threads: int,
            ignore_warnings: tuple[type[Warning], ...] = ()) -> dartslib.SearchResult:
    """``search(config, out_dir)``; a run already in ``out_dir`` (small/paper scale: the folder is kept) is
    loaded when finished and resumed when interrupted, after checking it is a run of ``config``."""
    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        for category in ignore_warnings:
            warnings.simplefilter("ignore", category)
        if out_dir is not None and (Path(out_dir) / "checkpoint.pt").is_file():
            from dartslib.engine.loop import Search

            run = Search.resume(out_dir, progress=False, hooks=hooks)
            mine, theirs = config.to_dict(), run.config.to_dict()
            differ = sorted(k for k in mine if k not in ("device", "data_dir") and mine[k] != theirs.get(k))
            if differ:
                raise ValueError(f"{out_dir} holds a search with other settings ({', '.join(differ)}); delete it "
                                 f"or set $DARTSLIB_RUNS to another folder")
            if (Path(out_dir) / "result.json").is_file() and run.epoch >= run.config.epochs:
                return run.result()  # finished: loaded, not run again
            return run.run()
        return search(config, out_dir=out_dir, progress=False, hooks=hooks)


def _search_in_worker(*args: Any) -> bytes:
    """One search in a worker process (module level, so a spawned process can import it), its result
    returned as plain pickle bytes: handing the tensors back through torch's multiprocessing instead would
    pass one file descriptor per tensor, and 45 searches' models exhaust them ("received 0 items of
    ancdata"). The bytes come from this worker, which the parent started; no file is unpickled."""
    return pickle.dumps(_search(*args), protocol=pickle.HIGHEST_PROTOCOL)


def search_in_background(config: Any, out_dir: Path | None = None, *, threads: int = 1,
                         ignore_warnings: tuple[type[Warning], ...] = (), desc: str = "search") -> Future:
    """Start one search in its own process and return at once: a chapter runs its longest search on the
    second core while the first core runs the chapter's other cells. ``.result()`` waits for it and gives
    the ``SearchResult`` (its ``model`` included), the same search as ``search_many({k: config}, {k: out_dir},
    threads=threads)[k]``; an error in the search is raised by ``.result()``.

    Like :func:`search_many`, at the small and paper scales a search that has not finished starts only on
    request (:func:`dartslib.book.runs.opt_in`)."""
    opt_in(f"1 search of this chapter ({desc})", [out_dir], [config])
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    inner = pool.submit(_search_in_worker, config, out_dir, None, threads, ignore_warnings)
    outer: Future = Future()

    def finish(done: Future) -> None:
        try:
            outer.set_result(pickle.loads(done.result()))  # our own worker's bytes (see search_many)
        except BaseException as error:  # noqa: BLE001  (handed to the caller of .result())
            outer.set_exception(error)
        finally:
            pool.shutdown(wait=False)

    inner.add_done_callback(finish)
    return outer


def search_many(configs: Mapping[Hashable, Any], out_dirs: Mapping[Hashable, Path] | None = None, *,
                hooks: Callable[[Hashable, Any], list] | None = None, workers: int | None = None,
                threads: int = 1, ignore_warnings: tuple[type[Warning], ...] = (),
                desc: str = "searches") -> dict[Hashable, Any]:
    """Run independent searches several at a time; the results, in the order of ``configs``.

    Each search is exactly ``search(config, out_dir=out_dirs[key], progress=False, hooks=hooks(key, config))``,
    run in its own worker process with ``threads`` torch threads. A toy-scale supernet step is mostly
    Python overhead and gains little from a second thread, so on a machine with two cores two single-threaded
    searches at once finish in about half the time of one after the other (``sweep --jobs 2`` does the same
    from the command line). The results do not depend on the number of workers.

    Args:
        configs: ``key -> SearchConfig``.
        out_dirs: ``key -> run directory`` (None: the searches write nothing).
        hooks: ``(key, config) -> list of search hooks`` for that search (e.g. a ``DiagnosticsRecorder``); the
            hooks run in the worker, and what they record is in the result's history.
        workers: processes at once (default: the CPU count, at most 2 -- the book is built on two cores;
            1 runs every search in this process).
        threads: torch threads per search.
        ignore_warnings: warning categories not to show (a worker's warnings would reach the page as stderr;
            a ``warnings.catch_warnings`` around the call does not reach into the workers).
        desc: the progress bar's label.

    Returns:
        ``key -> SearchResult`` (its ``model`` included).
    """
    keys = list(configs)
    out_dirs = out_dirs or {}
    # small/paper: load what exists, run the rest only on request (toy: always runs)
    opt_in(f"{len(keys)} search(es) of this cell ({desc})", [out_dirs.get(k) for k in keys],
           [configs[k] for k in keys])
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    jobs = {k: (configs[k], out_dirs.get(k), hooks(k, configs[k]) if hooks else None) for k in keys}
    if workers <= 1 or len(keys) <= 1:
        before = torch.get_num_threads()
        try:
            return {k: _search(*jobs[k], threads, ignore_warnings) for k in tqdm(keys, desc=desc)}
        finally:
            torch.set_num_threads(before)
    results: dict[Hashable, Any] = {}
    context = multiprocessing.get_context("spawn")  # no fork of a process whose torch threads already started
    with ProcessPoolExecutor(max_workers=min(workers, len(keys)), mp_context=context) as pool:
        futures = {pool.submit(_search_in_worker, *jobs[k], threads, ignore_warnings): k for k in keys}
        for future in tqdm(as_completed(futures), total=len(futures), desc=desc):
            results[futures[future]] = pickle.loads(future.result())  # our own worker's bytes (see above)
    return {k: results[k] for k in keys}
