"""What ``python -m dartslib plot`` reads, checked before a figure is drawn.

:func:`load_run_checked` reads a run directory as :func:`dartslib.diagnostics.recording.load_run` does, but
every problem is one :class:`PlotInputError` line naming the file (and, in ``history.jsonl``, the line): a
line that is not JSON, nested too deep or holding an integer too long to be a measurement; a record that is
not an object, without an increasing integer ``epoch``, with a metric that is no number, op weights of the
wrong shape for the run's space, a genotype that does not parse; a ``result.json`` or ``checkpoint.pt`` that
gives no config; a run with neither (its space, and so the meaning of its op weights, is unknown).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dartslib.diagnostics.recording import Run
from dartslib.hooks import shown

__all__ = ["PlotInputError", "load_run_checked", "MAX_DEPTH", "MAX_INT"]

MAX_DEPTH = 12
"""The deepest nesting a history record may have (op weights: record -> op_weights -> cell -> edge -> op)."""
MAX_INT = 2**63
"""The largest integer a record may hold (epochs, counts); anything larger is no measurement."""
NUMBERS = ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc", "lr", "seconds")
"""The per-epoch metrics the figures draw: each a number when present."""
WEIGHTS = ("op_weights", "alphas")


class PlotInputError(ValueError):
    """A run directory ``plot`` cannot draw; the one-line message names the file (and line)."""


def _depth_and_values(value: Any, where: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, integers beyond :data:`MAX_INT` (iteratively: no
    recursion limit is reached)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PlotInputError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, bool) or item is None or isinstance(item, (str, float)):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_INT:
                raise PlotInputError(f"{where}: an integer too large to be a measurement ({shown(item)})")
        elif isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise PlotInputError(f"{where}: nested too deep to read") from None
    except ValueError as exc:  # JSONDecodeError, and integers beyond Python's digit limit
        if "digits" in str(exc) and "limit" in str(exc):
            raise PlotInputError(f"{where}: an integer too long to be a measurement") from None
        raise PlotInputError(f"{where}: not valid JSON ({str(exc).splitlines()[0][:120]})") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_weights(value: Any, space: Any, where: str, key: str) -> None:
    if not isinstance(value, dict):
        raise PlotInputError(f"{where}: {key!r} must be an object of cell types, got {shown(value)}")
    unknown = sorted(set(value) - set(space.cell_types), key=str)
    if unknown or not value:
        raise PlotInputError(f"{where}: {key!r} has cell types {shown(sorted(value, key=str))}; space "
                             f"{space.name!r} has {', '.join(space.cell_types)}")
    for cell_type, rows in value.items():
        shape = (len(space.edges), space.num_ops(cell_type))
        ok = (isinstance(rows, list) and len(rows) == shape[0]
              and all(isinstance(r, list) and len(r) == shape[1] and all(_is_number(w) for w in r) for r in rows))
        if not ok:
            raise PlotInputError(f"{where}: {key}[{cell_type!r}] must be {shape[0]} rows of {shape[1]} numbers "
                                 f"(space {space.name!r})")
        if not all(math.isfinite(w) for r in rows for w in r):
            raise PlotInputError(f"{where}: {key}[{cell_type!r}] holds a value that is not finite")


def _check_genotype(value: Any, where: str) -> None:
    from dartslib.diagnostics.measures import skip_count

    if not isinstance(value, str):
        raise PlotInputError(f"{where}: 'genotype' must be text, got {shown(value)}")
    try:
        skip_count(value)
    except (ValueError, TypeError, KeyError, IndexError, SyntaxError) as exc:
        raise PlotInputError(f"{where}: 'genotype' does not parse ({str(exc).splitlines()[0][:120]})") from None


def _check_diagnostics(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise PlotInputError(f"{where}: 'diagnostics' must be an object, got {shown(value)}")
    gap = value.get("discretization")
    if gap is not None:
        if not isinstance(gap, dict) or not all(gap.get(k) is None or _is_number(gap.get(k))
                                                for k in ("supernet_acc", "discrete_acc", "gap")):
            raise PlotInputError(f"{where}: diagnostics 'discretization' must hold numbers, got {shown(gap)}")
    eigenvalue = value.get("hessian_eigenvalue")
    if eigenvalue is not None and not _is_number(eigenvalue):
        raise PlotInputError(f"{where}: diagnostics 'hessian_eigenvalue' must be a number, got {shown(eigenvalue)}")
    bn = value.get("bn")
    if bn is not None and not isinstance(bn, str):
        raise PlotInputError(f"{where}: diagnostics 'bn' must be text, got {shown(bn)}")


def check_record(record: Any, where: str, space: Any, previous_epoch: int) -> int:
    """Check one history record (see the module docstring); returns its epoch."""
    _depth_and_values(record, where)
    if not isinstance(record, dict):
        raise PlotInputError(f"{where}: a history record must be a JSON object, got {shown(record)}")
    epoch = record.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch <= previous_epoch:
        raise PlotInputError(f"{where}: 'epoch' must be an integer above the previous line's "
                             f"({previous_epoch}), got {shown(epoch)}")
    for key in NUMBERS:
        value = record.get(key)
        if value is not None and not _is_number(value):
            raise PlotInputError(f"{where}: {key!r} must be a number, got {shown(value)}")
    for key in WEIGHTS:
        if key in record:
            _check_weights(record[key], space, where, key)
    if "op_weights" not in record:
        raise PlotInputError(f"{where}: the record has no 'op_weights'")
    if "genotype" in record:
        _check_genotype(record["genotype"], where)
    _check_diagnostics(record.get("diagnostics"), where)
    return epoch


def _config_of(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(config, result)`` from ``result.json``, else ``checkpoint.pt``; PlotInputError if neither gives one."""
    result_file, checkpoint = path / "result.json", path / "checkpoint.pt"
    if result_file.is_file():
        try:
            text = result_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise PlotInputError(f"{result_file}: cannot read ({exc})") from None
        result = _parse_json(text, str(result_file))
        _depth_and_values(result, str(result_file))
        if not isinstance(result, dict) or not isinstance(result.get("config"), dict):
            raise PlotInputError(f"{result_file}: expected an object with a 'config' object")
        if "metrics" in result and not isinstance(result["metrics"], dict):
            raise PlotInputError(f"{result_file}: 'metrics' must be an object")
        return result["config"], result
    if checkpoint.is_file():
        from dartslib.engine.checkpoint import CheckpointError, load_checkpoint

        try:
            state = load_checkpoint(checkpoint)
        except CheckpointError as exc:
            raise PlotInputError(str(exc)) from None
        config = state.get("config") if isinstance(state, dict) else None
        if not isinstance(config, dict):
            raise PlotInputError(f"{checkpoint}: holds no config")
        return config, None
    raise PlotInputError(f"{path}: neither result.json nor checkpoint.pt, so the run's config (its space) is "
                         f"unknown; nothing to plot")


def load_run_checked(path: str | Path, label: str | None = None) -> Run:
    """The :class:`~dartslib.diagnostics.recording.Run` of run directory ``path``, every input checked first
    (:class:`PlotInputError` naming the file and line; see the module docstring)."""
    from dartslib.space.spaces import get_space

    path = Path(path)
    history_file = path / "history.jsonl"
    if not history_file.is_file():
        raise PlotInputError(f"{path} is not a run directory: no history.jsonl")
    config, result = _config_of(path)
    source = path / ("result.json" if result is not None else "checkpoint.pt")
    try:
        space = get_space(config.get("space"))
    except (ValueError, TypeError, KeyError) as exc:
        raise PlotInputError(f"{source}: its config names no known space ({str(exc).splitlines()[0][:120]})") \
            from None
    if result is not None and "arch_weights" in result:
        _check_weights(result["arch_weights"], space, str(source), "arch_weights")
    if result is not None and "genotype" in result:
        _check_genotype(result["genotype"], str(source))
    try:
        lines = history_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PlotInputError(f"{history_file}: cannot read ({exc})") from None
    history, epoch = [], 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{history_file}, line {number}"
        record = _parse_json(line, where)
        epoch = check_record(record, where, space, epoch)
        history.append(record)
    if label is not None and not isinstance(label, str):
        raise PlotInputError(f"label must be text, got {shown(label)}")
    return Run(history, config, result, path, label)
