"""Execute the chapters that the build must execute side by side, before Sphinx reads them.

With ``execute_notebooks: cache`` (``_config.yml``), MyST-NB executes a notebook when Sphinx reads it, one
notebook after the other, and caches its outputs in ``_build/.jupyter_cache``. The chapters are independent of
each other (each writes its runs into its own directory and reads only committed files), and most of their
cells keep one core busy, so on a machine with two cores or more, one at a time leaves cores idle.

This extension runs before Sphinx reads the pages (``env-before-read-docs``). It finds the chapter notebooks that
the cache cannot serve (their code changed, or a fresh clone) and executes them in a pool of processes with the
worker of jupyter-cache's own parallel executor (``local-parallel``: nbclient in the notebook's folder, as
MyST-NB runs it), which stores each executed notebook in the same cache; only the pool's size is this
extension's. MyST-NB then reads every
chapter from the cache; the executed notebooks, and so the pages, are what executing them one at a time gives.

* The number of notebooks executed at once is ``$DARTSLIB_BUILD_JOBS`` if set (``1``: one at a time, as without
  this extension), else the number of CPUs this process may use, at most 4 (each chapter's searches use a
  second process at times, and a chapter needs up to about 1 GB of memory).
* The notebooks start in the order of their file names (chapter 1, the longest, first).
* A chapter that times something for the reader (chapter 8 times a paper-sized step to price a search) says
  so in its metadata, ``"dartslib": {"execute_alone": true}``: it is left to MyST-NB, which executes it when
  Sphinx reads it, after the others have finished, so that no other chapter shares the CPU with its clock.
* Where no process pool can start (a platform or a sandbox without one), a warning says so and MyST-NB
  executes the chapters one at a time, as without this extension.
* A notebook that raises is not cached here. With ``execute.raise_on_error`` (the book's setting) the build
  stops at once with the notebook's name and traceback, rather than executing it a second time.
* ``execute_notebooks`` other than ``cache`` (``force``, ``off``, ``auto``), or execution in a temporary folder:
  this extension does nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MAX_DEFAULT_JOBS = 4


def build_jobs() -> int:
    """How many notebooks execute at once: ``$DARTSLIB_BUILD_JOBS``, else the usable CPUs (at most 4)."""
    value = os.environ.get("DARTSLIB_BUILD_JOBS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ExtensionError(f"DARTSLIB_BUILD_JOBS must be a whole number of at least 1, got {value!r}")
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_JOBS))


def stale_notebooks(cache: Any, paths: list[Path]) -> list[Path]:
    """The notebooks among ``paths`` whose code the cache has no executed copy of, except those that ask to be
    executed alone (metadata ``dartslib.execute_alone``)."""
    import nbformat

    stale = []
    for path in paths:
        notebook = nbformat.read(str(path), as_version=4)
        if (notebook.metadata.get("dartslib") or {}).get("execute_alone"):
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            stale.append(path)
    return stale


def _execute_stale(app: Any, env: Any, docnames: list[str]) -> None:
    config = env.mystnb_config  # MyST-NB's settings, as it resolved them from _config.yml
    if config.execution_mode != "cache" or config.execution_in_temp:
        return
    jobs = build_jobs()
    excluded = list(config.execution_excludepatterns or [])
    paths = []
    for docname in sorted(docnames):
        path = Path(env.doc2path(docname))
        if path.suffix == ".ipynb" and not any(path.match(pattern) for pattern in excluded):
            paths.append(path)
    if jobs < 2 or len(paths) < 2:
        return  # MyST-NB executes what it needs while reading, one at a time

    from jupyter_cache import get_cache
    from jupyter_cache.cache.db import NbProjectRecord

    cache = get_cache(config.execution_cache_path)
    stale = stale_notebooks(cache, paths)
    if len(stale) < 2:
        return
    records = [cache.add_nb_to_project(str(path)) for path in stale]
    logger.info(f"[parallel_execution] executing {len(stale)} notebooks, {min(jobs, len(stale))} at a time: "
                + ", ".join(path.name for path in stale))
    try:
        result = _run(cache, records, jobs, config)
    except Exception as exc:  # no process pool here (a platform, a sandbox): MyST-NB executes them one by one
        logger.warning(f"[parallel_execution] could not execute the chapters side by side ({type(exc).__name__}: "
                       f"{exc}); they execute one at a time")
        return
    failed = list(result.excepted) + list(result.errored)
    if failed and config.execution_raise_on_error:
        tracebacks = []
        for uri in failed:
            try:
                tracebacks.append(f"{uri}:\n{NbProjectRecord.record_from_uri(uri, cache.db).traceback or ''}")
            except KeyError:
                tracebacks.append(uri)
        raise ExtensionError("executing a notebook failed (execute.raise_on_error):\n" + "\n".join(tracebacks))
    logger.info(f"[parallel_execution] executed and cached {len(result.succeeded)} notebooks")


def _run(cache: Any, records: list[Any], jobs: int, config: Any) -> Any:
    """Execute ``records`` in a pool of ``jobs`` processes with jupyter-cache's own worker (the one its
    ``local-parallel`` executor uses: nbclient in the notebook's folder, the result cached on success)."""
    import multiprocessing

    from jupyter_cache.cache.db import NbProjectRecord
    from jupyter_cache.executors.base import ExecutorRunResult
    from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

    NbProjectRecord.remove_tracebacks([record.pk for record in records], cache.db)
    work = [ProcessData(record.pk, record.uri, cache, config.execution_timeout, config.execution_allow_errors)
            for record in records]
    with multiprocessing.Pool(min(jobs, len(work))) as pool:  # the platform's start method, as jupyter-cache's
        results = pool.map(ExecutionWorkerLocalMProc(), work, chunksize=1)  # in order: chapter 1, the longest, first
    return ExecutorRunResult(succeeded=[uri for code, uri in results if code == 0],
                             excepted=[uri for code, uri in results if code == 1],
                             errored=[uri for code, uri in results if code == 2])


def setup(app: Any) -> dict[str, Any]:
    app.connect("env-before-read-docs", _execute_stale)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
