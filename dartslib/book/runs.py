"""Where a chapter's runs live, and the gate that keeps a chapter at ``small``/``paper`` scale from starting
hours of searches that the reader did not ask for.

``$DARTSLIB_RUNS`` (default ``~/.cache/dartslib/runs``) holds every chapter's runs; at ``small``/``paper``
scale they are kept between executions, so a finished search is loaded and an interrupted one resumes.
:func:`opt_in` lets a cell's searches start only when they are all finished already (then they are loaded)
or ``DARTSLIB_RUN_SWEEPS=1`` is set; otherwise it raises :class:`OptInRequired`, whose message is the command
that runs them and what they cost (:mod:`dartslib.book.costs`, estimated until a GPU measured it).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

__all__ = ["RUNS_ENV", "RUN_SWEEPS_ENV", "DEFAULT_RUNS", "runs_root", "sweeps_allowed", "OptInRequired",
           "opt_in", "price", "chapter_command", "CURRENT"]

RUNS_ENV = "DARTSLIB_RUNS"
RUN_SWEEPS_ENV = "DARTSLIB_RUN_SWEEPS"
DEFAULT_RUNS = Path("~/.cache/dartslib/runs")


def runs_root() -> Path:
    """``$DARTSLIB_RUNS``, else ``~/.cache/dartslib/runs`` (expanded; not created here)."""
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS).expanduser()


def sweeps_allowed() -> bool:
    """Whether the reader asked for searches to run at ``small``/``paper`` scale (``DARTSLIB_RUN_SWEEPS=1``)."""
    return os.environ.get(RUN_SWEEPS_ENV, "0").strip().lower() not in ("", "0", "false", "no")


class OptInRequired(RuntimeError):
    """Searches at ``small``/``paper`` scale that have not run yet, and the reader did not ask for them."""


def price(configs: Sequence[Any]) -> str:
    """``"N searches, about H GPU-hours, peak M GiB (estimated: ...)"`` for ``configs`` (dartslib.book.costs)."""
    from dartslib.book.costs import estimate_search, load_gpu_check

    check, cache = load_gpu_check(), {}
    costs = [estimate_search(c, check, cache) for c in configs]
    status = "estimated" if any(c.status == "estimated" for c in costs) else costs[0].status
    return (f"{len(costs)} search(es), about {sum(c.gpu_hours for c in costs):.1f} GPU-hours, peak "
            f"{max(c.peak_gib for c in costs):.1f} GiB of GPU memory ({status}; how: dartslib.book.costs)")


#: the chapter started last in this process (``{"name": ...}``; set by ``dartslib.book.start_chapter``)
CURRENT: dict[str, str] = {}


def chapter_command(scale: str) -> str:
    """The command that runs the current chapter at ``scale`` with its searches allowed."""
    name = CURRENT.get("name", "NOTEBOOK")
    return (f"DARTSLIB_SCALE={scale} DARTSLIB_RUN_SWEEPS=1 jupyter execute nbs/{name}.ipynb "
            f"--output={name}_{scale}.ipynb")


def opt_in(what: str, run_dirs: Sequence[Path | None], configs: Sequence[Any], command: str | None = None) -> bool:
    """Let ``what`` run, or raise :class:`OptInRequired`. Returns True when every run in ``run_dirs`` is
    finished (nothing will run: they are loaded), False when some will run: at toy scale (``configs`` all
    ``toy``: minutes, always allowed) or because ``DARTSLIB_RUN_SWEEPS=1``.

    ``command``: the exact command that runs them (default: the current chapter's, :func:`chapter_command`),
    printed with their price in the error and when they start.
    """
    scales = {getattr(c, "scale", "toy") for c in configs}
    if scales <= {"toy"}:
        return False
    command = command or chapter_command("paper" if "paper" in scales else "small")
    if run_dirs and all(d is not None and (Path(d) / "result.json").is_file() for d in run_dirs):
        return True
    cost = price(configs)
    where = next((Path(d).parent for d in run_dirs if d is not None), runs_root())
    if sweeps_allowed():
        print(f"running {what}: {cost}; into {where}, resumable (run the cell again after a disconnect)")
        return False
    raise OptInRequired(
        f"{what} has not run at this scale yet: {cost}. Nothing starts unless you ask: run\n    {command}\n"
        f"or set {RUN_SWEEPS_ENV}=1 and run this cell again. Runs go to {where} (set ${RUNS_ENV} to keep them "
        f"elsewhere, e.g. on Drive); finished ones are loaded and interrupted ones resume.")
