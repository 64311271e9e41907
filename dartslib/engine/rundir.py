"""One run per output directory: a run refuses a directory holding another run, and locks the one it owns.

A *run directory* holds what a search or training writes: ``checkpoint.pt``, ``history.jsonl`` and
``result.json`` (:data:`RUN_FILES`). A new run refuses a directory that already has any of them, unless it
continues that run (``--resume``) or is told to start over (``--overwrite``, which deletes them first).
While it runs, the run holds ``.lock`` (:data:`LOCK_NAME`), a file with its process id and host: a second
process on the same directory stops with a message naming the holder (or waits for it:
``RunLock.acquire(wait=...)``, as a sweep's child does). A lock whose process is gone (same host, no such pid)
is stale and is removed, as is an empty or unreadable one older than :data:`STALE_UNREADABLE_AFTER` seconds.
A lock is written and fsynced into a temporary file and then hard-linked to its name (``O_CREAT | O_EXCL``
where a file system has no hard links), so two processes starting at the same moment cannot both win, and no
process ever sees a lock without its contents.
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

__all__ = ["RUN_FILES", "LOCK_NAME", "PARENT_ENV", "PARENT_DEATH_SIGNAL", "STALE_UNREADABLE_AFTER", "die_with_parent",
           "reset_signals", "RunDirectoryError", "RunDirectoryBusy", "RunLock", "existing_run_files",
           "check_new_run_dir", "clear_run_files"]

RUN_FILES = ("checkpoint.pt", "history.jsonl", "result.json")
"""The files that make a directory a run's (and that ``--overwrite`` removes)."""

LOCK_NAME = ".lock"

STALE_UNREADABLE_AFTER = 60.0
"""Seconds after which an empty or unreadable lock file counts as stale (a process that crashed between
creating and writing it; locks are now written before they appear, so a live process never leaves one)."""


def _fsync_directory(folder: Path) -> None:
    """Make a new directory entry durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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

    def _age(self) -> float | None:
        """Seconds since the lock file was last written, None if it is gone."""
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return None

    def _create(self, me: dict[str, Any]) -> bool:
        """Create the lock holding ``me``, written and fsynced before it appears under its name (a temporary
        file, then ``link``: no process ever sees an empty or half-written lock). False if a lock exists."""
        tmp = self.out_dir / f".lock.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o666)
        except OSError as exc:
            raise WriteError(f"cannot write to output directory {self.out_dir} ({self.path}): "
                             f"{exc.strerror or exc}") from None
        try:
            self._write_synced(fd, me)
            try:
                os.link(tmp, self.path)  # atomic, and fails if the lock exists (as O_CREAT | O_EXCL)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS):
                    raise WriteError(f"cannot write {self.path}: {exc.strerror or exc}") from None
                return self._create_in_place(me)  # a file system without hard links
        finally:
            try:
                tmp.unlink()
            except OSError:
                pass
        _fsync_directory(self.out_dir)
        return True

    def _create_in_place(self, me: dict[str, Any]) -> bool:
        """``O_CREAT | O_EXCL``, write and fsync (file systems without hard links): an empty lock can only be
        seen for the moment between the two, and an old empty one is stale (:meth:`acquire`)."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return False
        except OSError as exc:
            raise WriteError(f"cannot write to output directory {self.out_dir} ({self.path}): "
                             f"{exc.strerror or exc}") from None
        try:
            self._write_synced(fd, me)
        except WriteError:
            self.path.unlink(missing_ok=True)
            raise
        return True

    def _write_synced(self, fd: int, me: dict[str, Any]) -> None:
        """Write the holder's line to ``fd`` and fsync it (WriteError naming the lock on failure); closes ``fd``."""
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(me) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise WriteError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def acquire(self, wait: float = 0.0, echo: Any = None) -> "RunLock":
        """Take the lock; a live holder makes it wait up to ``wait`` seconds (``echo(line)`` says so once),
        then raise :class:`RunDirectoryBusy` naming the holder."""
        if self.held:
            return self
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot create output directory {self.out_dir}: {exc.strerror or exc}") from None
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        deadline, said, changes = time.monotonic() + wait, False, 0
        while True:
            if self._create(me):
                self.held = True
                return self
            holder = self.holder()
            if holder is None:
                changes += 1
                if changes > 100:
                    raise RunDirectoryError(f"could not take the lock {self.path} (it keeps changing hands)")
                continue  # released in between: try again
            if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                self.held = True  # this process's own lock (e.g. a second Search object)
                return self
            pid = holder.get("pid")
            age = self._age()
            if holder.get("host") == me["host"] and isinstance(pid, int) and not _alive(pid):
                self._remove_stale()  # its process is gone
                continue
            if not holder and age is not None and age > STALE_UNREADABLE_AFTER:
                self._remove_stale()  # empty or garbage, and old: a crash between creating and writing it
                continue
            if time.monotonic() < deadline:
                if echo is not None and not said:
                    echo(f"waiting for {self._who(holder)} to release {self.path} (up to {wait:.0f} s)")
                    said = True
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
                continue
            raise RunDirectoryBusy(
                f"{self.out_dir} is in use by {self._who(holder)} (lock file {self.path}); wait for it to finish, "
                f"or delete the lock file if that process is gone")

    @staticmethod
    def _who(holder: dict[str, Any]) -> str:
        return (f"process {holder.get('pid')} on {holder.get('host')}" if holder
                else f"an unreadable lock (younger than {STALE_UNREADABLE_AFTER:.0f} s)")

    def _remove_stale(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise WriteError(f"cannot remove the stale lock {self.path}: {exc.strerror or exc}") from None

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


PARENT_DEATH_SIGNAL = signal.SIGTERM
"""What a sweep's child gets when the sweep dies: SIGTERM, which a run turns into "save and stop"
(:func:`dartslib.engine.run.stop_on_signals`). Not SIGINT: a sweep started in the background by a script, or
under ``nohup`` from one, passes SIGINT on ignored, and a signal the child ignores would never arrive."""


def reset_signals() -> None:
    """Give SIGINT and SIGTERM their default actions, whatever this process inherited (``nohup``, ``&`` in a
    non-interactive shell: SIGINT ignored; any parent may pass SIGTERM ignored or blocked)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def die_with_parent() -> None:
    """In a sweep's child: stop when the sweep process dies (even by ``kill -9``), saving after the current step
    if the search runs, instead of running on, orphaned. The signal dispositions are reset first
    (:func:`reset_signals`); then Linux: ``prctl(PR_SET_PDEATHSIG, SIGTERM)``; elsewhere a thread that watches
    the parent process id. A parent already gone stops the child at once. Until the run installs its own
    handlers, SIGTERM raises KeyboardInterrupt (as SIGINT does), so the child releases what it holds and exits."""
    reset_signals()
    if threading.current_thread() is threading.main_thread():
        signal.signal(PARENT_DEATH_SIGNAL, _interrupt)
    parent = os.environ.get(PARENT_ENV)
    if not parent or not parent.isdigit():
        return
    parent_pid = int(parent)
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            armed = ctypes.CDLL(None, use_errno=True).prctl(1, int(PARENT_DEATH_SIGNAL), 0, 0, 0) == 0
        except (OSError, AttributeError):  # 1: PR_SET_PDEATHSIG
            armed = False
    if os.getppid() != parent_pid:  # it died before we could ask
        os.kill(os.getpid(), PARENT_DEATH_SIGNAL)
        return
    if not armed:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os.kill(os.getpid(), PARENT_DEATH_SIGNAL)

        threading.Thread(target=watch, name="sweep-parent-watch", daemon=True).start()
