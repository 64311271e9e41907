"""One run per output directory: a run refuses a directory holding another run, and locks the one it owns.

A *run directory* holds what a search or training writes: ``checkpoint.pt``, ``history.jsonl`` and
``result.json`` (:data:`RUN_FILES`). A new run refuses a directory that already has any of them, unless it
continues that run (``--resume``) or is told to start over (``--overwrite``, which deletes them first).
While it runs, the run holds ``.lock`` (:data:`LOCK_NAME`), a file with its process id and host: a second
process on the same directory stops with a message naming the holder. A lock whose process is gone (same
host, no such pid) is stale and is removed. Locks are taken with ``O_CREAT | O_EXCL``, so two processes
starting at the same moment cannot both win.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dartslib.engine.checkpoint import WriteError, remove_stale_temporaries

__all__ = ["RUN_FILES", "LOCK_NAME", "PARENT_ENV", "die_with_parent", "RunDirectoryError", "RunDirectoryBusy", "RunLock", "existing_run_files", "check_new_run_dir",
           "clear_run_files"]

RUN_FILES = ("checkpoint.pt", "history.jsonl", "result.json")
"""The files that make a directory a run's (and that ``--overwrite`` removes)."""

LOCK_NAME = ".lock"


class RunDirectoryError(ValueError):
    """The output directory holds another run (or cannot be taken)."""


class RunDirectoryBusy(RunDirectoryError):
    """Another live process holds the output directory's lock."""


def existing_run_files(out_dir: str | Path) -> list[str]:
    """The :data:`RUN_FILES` present in ``out_dir``."""
    out_dir = Path(out_dir)
    return [name for name in RUN_FILES if (out_dir / name).exists()]


def check_new_run_dir(out_dir: str | Path, overwrite: bool = False) -> None:
    """Raise unless a new run may start in ``out_dir``: it is a directory (or does not exist yet) and
    holds no run, or ``overwrite`` is set. Nothing is deleted here (see :func:`clear_run_files`)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteError(f"output directory {out_dir} is a file, not a directory")
    found = existing_run_files(out_dir) if out_dir.is_dir() else []
    if found and not overwrite:
        raise RunDirectoryError(f"{out_dir} already holds a run ({', '.join(found)}); continue it with --resume "
                                f"(Python: Search.resume), start over with --overwrite (overwrite=True), or "
                                f"choose another --out")


def clear_run_files(out_dir: str | Path) -> list[str]:
    """Delete the :data:`RUN_FILES` and stale temporaries of ``out_dir`` (call it holding the lock)."""
    out_dir = Path(out_dir)
    removed = []
    for name in existing_run_files(out_dir):
        try:
            (out_dir / name).unlink()
        except OSError as exc:
            raise WriteError(f"cannot remove {out_dir / name} (--overwrite): {exc.strerror or exc}") from None
        removed.append(name)
    remove_stale_temporaries(out_dir)
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


class RunLock:
    """``OUT/.lock`` holding ``{"pid", "host"}`` while a run works in ``OUT``; a context manager.

    :meth:`acquire` creates the directory if needed (so an unwritable ``--out`` fails here, before the
    first step, with a :class:`~dartslib.engine.checkpoint.WriteError`), removes a stale lock of a dead process
    on this host, and raises :class:`RunDirectoryError` naming the holder if a live process has it.
    Re-acquiring a lock this process already holds is a no-op.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_NAME
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        """The lock file's contents, ``{}`` if unreadable, ``None`` if there is no lock."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError:
            return {}
        try:
            info = json.loads(text)
            return info if isinstance(info, dict) else {}
        except ValueError:
            return {}

    def acquire(self) -> "RunLock":
        if self.held:
            return self
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot create output directory {self.out_dir}: {exc.strerror or exc}") from None
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self.holder()
                if holder is None:
                    continue  # released in between: try again
                if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                    self.held = True  # this process's own lock (e.g. a second Search object)
                    return self
                same_host = holder.get("host") == me["host"]
                pid = holder.get("pid")
                if same_host and isinstance(pid, int) and not _alive(pid):
                    try:
                        self.path.unlink()  # stale: its process is gone
                    except FileNotFoundError:
                        pass
                    continue
                who = f"process {pid} on {holder.get('host')}" if holder else "an unreadable lock"
                raise RunDirectoryBusy(
                    f"{self.out_dir} is in use by {who} (lock file {self.path}); wait for it to finish, or "
                    f"delete the lock file if that process is gone") from None
            except OSError as exc:
                raise WriteError(f"cannot write to output directory {self.out_dir} ({self.path}): "
                                 f"{exc.strerror or exc}") from None
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps(me) + "\n")
            except OSError as exc:
                self.path.unlink(missing_ok=True)
                raise WriteError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            self.held = True
            return self
        raise RunDirectoryError(f"could not take the lock {self.path} (it keeps changing hands)")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self.holder()
        if holder and holder.get("pid") == os.getpid():
            try:
                self.path.unlink()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    pass

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


PARENT_ENV = "DARTSLIB_SWEEP_PARENT"
"""Environment variable holding the sweep parent's pid in its child processes."""


def die_with_parent() -> None:
    """In a sweep's child: get SIGINT when the sweep process dies (even by ``kill -9``), so the search
    saves after its current step and exits instead of running on, orphaned. Linux:
    ``prctl(PR_SET_PDEATHSIG, SIGINT)``; elsewhere a thread that watches the parent process id."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not parent.isdigit():
        return
    parent_pid = int(parent)
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            armed = ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT), 0, 0, 0) == 0  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # it died before we could ask
        os.kill(os.getpid(), signal.SIGINT)
        return
    if not armed:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=watch, name="sweep-parent-watch", daemon=True).start()
