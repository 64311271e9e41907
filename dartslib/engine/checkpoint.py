"""Atomic file writes and safe checkpoint loading.

Every file is written to a temporary file in the same directory, flushed to disk and renamed over the
target, so a crash leaves either the old file or the new one, never half of one. Checkpoints are
loaded with ``torch.load(weights_only=True)``: they hold tensors, numbers, strings, lists and dicts only,
plus a SHA-256 of that payload, verified on load. A failed write raises :class:`WriteError` naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["CheckpointError", "WriteError", "save_checkpoint", "load_checkpoint", "write_json_atomic",
           "write_text_atomic", "payload_digest", "check_format", "remove_stale_temporaries", "KNOWN_FORMATS"]


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt or not a dartslib checkpoint."""


class WriteError(OSError):
    """An output file could not be written (read-only directory, full disk, a file where a directory
    should be, ...). The message names the file; the previous version of the file, if any, is kept."""


CHECKSUM_KEY = "checksum"
"""Key of the SHA-256 of a checkpoint's payload (every other entry), written by :func:`save_checkpoint`."""


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` through a temporary file in the same directory, fsync, rename. The file gets the
    usual permissions (0666 minus the umask), not mkstemp's 0600. Any OS error becomes a
    :class:`WriteError` naming ``path``; the temporary file is removed and the old ``path`` kept."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        except (AttributeError, OSError):  # no fchmod (Windows): keep mkstemp's mode
            pass
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except RuntimeError as exc:  # torch.save reports a failed write as RuntimeError ("... file write failed")
        if "write" not in str(exc).lower():
            raise
        raise WriteError(f"cannot write {path}: {str(exc).splitlines()[0]}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def remove_stale_temporaries(folder: str | Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files a killed :func:`_atomic_write` left in ``folder`` (for the given
    target ``names``, default all). Call it only while owning the folder (see :mod:`dartslib.engine.rundir`)."""
    removed = []
    for tmp in Path(folder).glob(".*.*.tmp"):
        target = tmp.name[1:].rsplit(".", 2)[0]
        if names is None or target in names:
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def write_text_atomic(path: str | Path, text: str) -> None:
    _atomic_write(Path(path), lambda f: f.write(text), "w")


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def payload_digest(state: dict[str, Any]) -> str:
    """SHA-256 (hex) of every entry of ``state`` but :data:`CHECKSUM_KEY`: tensors by dtype, shape and
    bytes (wherever they live), other values by type and ``repr``, in the dicts' order."""
    digest = hashlib.sha256()

    def visit(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            if t.numel():
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            digest.update(f"D{len(value)}".encode())
            for k, v in value.items():
                digest.update(repr(k).encode())
                visit(v)
        elif isinstance(value, (list, tuple)):  # a tuple may come back a list: same digest
            digest.update(f"L{len(value)}".encode())
            for v in value:
                visit(v)
        else:
            digest.update(f"{type(value).__name__}:{value!r};".encode())

    visit({k: v for k, v in state.items() if k != CHECKSUM_KEY})
    return digest.hexdigest()


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` ``state`` plus its :func:`payload_digest` to a temporary file, then rename over ``path``."""
    state = {**state, CHECKSUM_KEY: payload_digest(state)}
    _atomic_write(Path(path), lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True``, and verify its
    checksum (checkpoints written before checksums existed load unverified).

    Raises :class:`CheckpointError` naming the file and the problem when it is missing, unreadable or
    altered since it was written.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}" + (" (a directory without checkpoint.pt)"
                                                            if path.is_dir() else ""))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError,
            AttributeError, TypeError, IndexError, OverflowError, MemoryError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a dartslib checkpoint "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path} is not a dartslib checkpoint (no 'format' entry)")
    stored = state.pop(CHECKSUM_KEY, None)
    if stored is not None and stored != payload_digest(state):
        raise CheckpointError(f"checkpoint {path} is corrupt: its contents no longer match the checksum "
                              f"written with it (the file was changed or damaged on disk)")
    return state


KNOWN_FORMATS = {"search": "dartslib-search-1", "train": "dartslib-train-1"}
"""The checkpoint format this version writes and reads, per kind of run."""


def check_format(state: dict[str, Any], path: str | Path, kind: str, required: tuple[str, ...] = ()) -> None:
    """Raise :class:`CheckpointError` unless ``state`` is a ``kind`` ("search" or "train") checkpoint of a
    format this version reads and has the ``required`` entries."""
    fmt, expected = state.get("format"), KNOWN_FORMATS[kind]
    if not isinstance(fmt, str) or not fmt.startswith("dartslib-"):
        raise CheckpointError(f"{path} is not a dartslib checkpoint (format {fmt!r})")
    other = {v: k for k, v in KNOWN_FORMATS.items() if k != kind}
    if fmt in other:
        raise CheckpointError(f"{path} is a {other[fmt]} checkpoint ({fmt}), not a {kind} run's; continue it "
                              f"with `python -m dartslib {other[fmt]} --resume`")
    if fmt != expected:
        family, _, version = fmt.rpartition("-")
        newer = family == expected.rpartition("-")[0] and version.isdigit() and int(version) > int(
            expected.rpartition("-")[2])
        raise CheckpointError(f"{path} has checkpoint format {fmt!r}"
                              + (", written by a newer dartslib" if newer else "")
                              + f"; this version reads {expected!r}")
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a complete {kind} checkpoint: missing {', '.join(map(repr, missing))}")
