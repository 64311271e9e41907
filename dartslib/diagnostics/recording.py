"""Recording diagnostics during a search, and reading a run back to plot it.

:class:`DiagnosticsRecorder` is a :class:`~dartslib.engine.loop.SearchHook`: every ``every`` epochs (and after
the last) it measures the supernet and stores the results in the epoch's history record under
``"diagnostics"``, so ``history.jsonl`` holds everything a chapter needs to re-plot the run::

    from dartslib import make_config, search
    from dartslib.diagnostics.recording import DiagnosticsRecorder
    search(make_config("darts", "nb201", "toy"), "runs/nb201",
           hooks=[DiagnosticsRecorder(every=1, hessian=True, landscape=True)])

Measurements never change the search: the model's buffers (BN statistics), training flag and random
state are restored, the alphas are never written, and batches come from pure calls
(``BatchIterator.epoch(k)``), never from the search's architecture stream, so a recorded search ends with
the same alphas as an unrecorded one.

What is recorded (the cheap ones by default, the costly ones opt-in):

=======================  ==========================================================================
``discretization``       supernet vs one-hot accuracy on the held-out data (``gap=True``)
``grad_correlation``     Hou et al., 2021, Eq. 8 per cell and node (``gradients=True``)
``op_weight_grads``      dL/dp per searchable cell (``gradients=True``)
``hessian_eigenvalue``   dominant Hessian eigenvalue w.r.t. the alphas (``hessian=True`` or ``"dense"``)
``landscape``            validation-accuracy landscape over two directions (``landscape=True``)
=======================  ==========================================================================

IES, dominant ops, skip counts and #P need no recording: they follow from the op weights and genotype
that every history record already holds (see :func:`metric_series`).

:func:`load_run` reads a run directory (``history.jsonl`` plus ``result.json`` or ``checkpoint.pt`` for
the config) into a :class:`Run`; :func:`metric_series` turns a run into ``(epochs, values)`` for any named
metric in :data:`METRICS`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Union

import numpy as np

from dartslib.diagnostics.measures import (
    as_arrays, discretization_gap, dominant_ops, ies, is_exclusive, num_parametric, preserved_state, skip_count,
    take_batches
)
from dartslib.hooks import EpochContext, SearchHook
from dartslib.space.spaces import SearchSpace, get_space

__all__ = ["DiagnosticsRecorder", "parse_diagnostics_spec", "Run", "load_run", "as_run", "metric_series",
           "METRICS", "op_weight_history", "dominant_op_history"]


class DiagnosticsRecorder(SearchHook):
    """Measure the supernet every ``every`` epochs (and after the last epoch) into ``record["diagnostics"]``.

    Args:
        every: record at epochs ``every, 2 * every, ...`` (and the last).
        gap: discretization gap on the held-out data (``eval_batches`` batches; None = all).
        gradients: gradient correlation (Eq. 8) and op-weight gradients on one batch of the weight step's
            data and one of the alpha step's (the same batch for single-level search).
        hessian: False, True / ``"power"`` (power iteration) or ``"dense"`` (whole Hessian; small spaces).
        landscape: validation-accuracy landscape (``landscape_points`` x ``landscape_points`` grid over
            ``[-landscape_span, landscape_span]``, on ``landscape_batches`` held-out batches).
        hessian_every, landscape_every: record these two (the costly ones) only every so many epochs
            (multiples of it, and the last epoch); default ``every``.
        hessian_samples: held-out images the Hessian's loss averages over.
        hessian_iters: power-iteration steps at most.
        bn: ``"batch"`` or ``"running"`` BN statistics for the accuracies (see :func:`diagnostics.accuracy`).
        seed: seed of the random directions (landscape, power iteration); fixed, so epochs are comparable.
    """

    def __init__(self, every: int = 1, gap: bool = True, gradients: bool = True, hessian: bool | str = False,
                 landscape: bool = False, eval_batches: int | None = None, hessian_samples: int = 128,
                 hessian_iters: int = 30, landscape_points: int = 11, landscape_span: float = 1.0,
                 landscape_batches: int = 2, bn: str = "batch", seed: int = 0, hessian_every: int | None = None,
                 landscape_every: int | None = None) -> None:
        for name, value in (("every", every), ("hessian_every", hessian_every), ("landscape_every", landscape_every)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive number of epochs, got {value!r}")
        if hessian not in (False, True, "power", "dense"):
            raise ValueError(f"hessian must be False, True, 'power' or 'dense', got {hessian!r}")
        if bn not in ("batch", "running"):
            raise ValueError(f"bn must be 'batch' or 'running', got {bn!r}")
        self.every, self.gap, self.gradients = int(every), bool(gap), bool(gradients)
        self.hessian = "power" if hessian is True else hessian
        self.landscape = bool(landscape)
        self.eval_batches, self.hessian_samples, self.hessian_iters = eval_batches, hessian_samples, hessian_iters
        self.landscape_points, self.landscape_span = int(landscape_points), float(landscape_span)
        self.landscape_batches, self.bn, self.seed = int(landscape_batches), bn, int(seed)
        self.hessian_every = hessian_every or self.every
        self.landscape_every = landscape_every or self.every

    def __repr__(self) -> str:
        return (f"DiagnosticsRecorder(every={self.every}, gap={self.gap}, gradients={self.gradients}, "
                f"hessian={self.hessian!r}, landscape={self.landscape})")

    @staticmethod
    def _due(every: int, epoch: int, epochs: int) -> bool:
        return epoch % every == 0 or epoch == epochs

    def on_epoch_end(self, ctx: EpochContext, record: dict[str, Any]) -> None:
        epoch, epochs = record["epoch"], ctx.epochs
        if not self._due(self.every, epoch, epochs):
            return
        record["diagnostics"] = self.measure(ctx, epoch, hessian=self._due(self.hessian_every, epoch, epochs),
                                             landscape=self._due(self.landscape_every, epoch, epochs))

    def measure(self, ctx: EpochContext, epoch: int, hessian: bool = True, landscape: bool = True) -> dict[str, Any]:
        """The enabled measurements of ``ctx.model`` now (``epoch`` picks the data pass of the batches;
        ``hessian`` / ``landscape`` False skip those two even when enabled)."""
        from dartslib.diagnostics.grad_correlation import gradient_correlation, op_weight_gradients
        from dartslib.diagnostics.hessian import alpha_hessian_eigenvalue
        from dartslib.diagnostics.landscape import accuracy_landscape

        model, cfg = ctx.model, ctx.config
        started = time.perf_counter()
        out: dict[str, Any] = {"bn": self.bn}
        with preserved_state(model):
            if self.gap:
                batches = take_batches(ctx.held_out.epoch(0), self.eval_batches)
                out["discretization"] = discretization_gap(model, batches, None, cfg.derive, cfg.derive_options,
                                                           self.bn)
            if self.gradients:
                pass_index = max(epoch - 1, 0)
                weight_batch = next(iter(ctx.train_batches.epoch(pass_index)))
                if cfg.update == "single-level":
                    arch_batch = weight_batch
                else:
                    arch_batch = next(iter(ctx.arch_batches.epoch(pass_index)))
                out["grad_correlation"] = gradient_correlation(model, weight_batch, arch_batch).to_dict()
                cell_types, grads = op_weight_gradients(model, arch_batch)
                out["op_weight_grads"] = {"cell_types": cell_types, "grads": [g.tolist() for g in grads]}
            if self.hessian and hessian:
                batches = take_batches(ctx.held_out.epoch(0), max_samples=self.hessian_samples)
                out["hessian_eigenvalue"] = alpha_hessian_eigenvalue(model, batches, self.hessian,
                                                                     iters=self.hessian_iters, seed=self.seed)
                out["hessian_method"] = self.hessian
            if self.landscape and landscape:
                batches = take_batches(ctx.held_out.epoch(0), self.landscape_batches)
                out["landscape"] = accuracy_landscape(model, batches, self.landscape_span, self.landscape_points,
                                                      seed=self.seed, bn=self.bn).to_dict()
        out["seconds"] = time.perf_counter() - started
        return out


_BOOL_KEYS = {"gap", "gradients", "hessian", "landscape"}
_INT_KEYS = {"every", "eval_batches", "hessian_samples", "hessian_iters", "landscape_points",
             "landscape_batches", "seed", "hessian_every", "landscape_every"}
_FLOAT_KEYS = {"landscape_span"}
_ALIASES = {"points": "landscape_points", "span": "landscape_span", "grad": "gradients", "gradcorr": "gradients",
            "grads": "gradients", "eigenvalue": "hessian", "batches": "eval_batches"}


def parse_diagnostics_spec(spec: str) -> DiagnosticsRecorder:
    """A recorder from a command-line spec: comma-separated ``key=value`` pairs and flags, e.g.
    ``"every=2,hessian,landscape,points=7"``, ``"no-gap"``, ``"hessian=dense"``, ``"bn=running"``.

    Keys: every, gap, gradients (grad), hessian (power|dense), landscape, eval_batches (batches),
    hessian_samples, hessian_iters, hessian_every, landscape_points (points), landscape_span (span),
    landscape_batches, landscape_every, bn (batch|running), seed. An empty spec records the defaults every epoch.
    """
    kwargs: dict[str, Any] = {}
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        key, sep, value = token.partition("=")
        key = key.strip().lower().replace("-", "_")
        negated = not sep and key.startswith("no_")
        if negated:
            key = key[3:]
        key = _ALIASES.get(key, key)
        value = value.strip()
        if key in _BOOL_KEYS:
            if not sep:
                kwargs[key] = not negated
            elif key == "hessian" and value in ("power", "dense"):
                kwargs[key] = value
            elif value.lower() in ("1", "true", "yes", "on"):
                kwargs[key] = True
            elif value.lower() in ("0", "false", "no", "off"):
                kwargs[key] = False
            else:
                raise ValueError(f"diagnostics: {key} takes on/off{' or power/dense' if key == 'hessian' else ''}, "
                                 f"got {value!r}")
        elif key in _INT_KEYS or key in _FLOAT_KEYS:
            if not sep:
                raise ValueError(f"diagnostics: {key} needs a value ({key}=...)")
            try:
                kwargs[key] = int(value) if key in _INT_KEYS else float(value)
            except ValueError:
                raise ValueError(f"diagnostics: {key} takes a number, got {value!r}") from None
        elif key == "bn":
            kwargs[key] = value
        else:
            known = sorted(_BOOL_KEYS | _INT_KEYS | _FLOAT_KEYS | {"bn"} | set(_ALIASES))
            raise ValueError(f"diagnostics: unknown key {key!r}; known: {', '.join(known)}")
    return DiagnosticsRecorder(**kwargs)


# ------------------------------------------------------------------------------------------ reading runs

@dataclass
class Run:
    """A search's record: its per-epoch history, its config and (when finished) its result."""

    history: list[dict[str, Any]]
    config: dict[str, Any]
    result: dict[str, Any] | None = None
    path: Path | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.label is None:
            self.label = str(self.config.get("method", "run"))

    @property
    def space(self) -> SearchSpace:
        return get_space(self.config.get("space", "darts"))

    @property
    def epochs(self) -> list[int]:
        return [int(h["epoch"]) for h in self.history]

    @property
    def eval_split(self) -> str:
        if self.result and "eval_split" in self.result.get("metrics", {}):
            return self.result["metrics"]["eval_split"]
        return "test" if self.history and "test_acc" in self.history[0] else "valid"

    @property
    def exclusive(self) -> bool:
        last = self.history[-1]["op_weights"] if self.history else None
        return is_exclusive(self.config.get("op_weights"), last)

    @property
    def final_op_weights(self) -> dict[str, np.ndarray]:
        if self.result and "arch_weights" in self.result:
            return as_arrays(self.result["arch_weights"])
        return as_arrays(self.history[-1]["op_weights"])

    @property
    def final_genotype(self) -> str:
        if self.result and "genotype" in self.result:
            return self.result["genotype"]
        return self.history[-1]["genotype"]

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    def diagnostics(self, key: str) -> tuple[list[int], list[Any]]:
        """``(epochs, values)`` of a recorded diagnostic (epochs where it was recorded)."""
        epochs, values = [], []
        for h in self.history:
            d = h.get("diagnostics") or {}
            if key in d and d[key] is not None:
                epochs.append(int(h["epoch"]))
                values.append(d[key])
        return epochs, values

    @classmethod
    def from_result(cls, result: Any, label: str | None = None) -> "Run":
        """A :class:`Run` from a :class:`~dartslib.engine.loop.SearchResult` (no files needed)."""
        return cls(list(result.history), result.config.to_dict(), result.to_json(), result.out_dir, label)


def load_run(path: str | Path, label: str | None = None) -> Run:
    """Read a run directory: ``history.jsonl`` and ``result.json`` (or the config in ``checkpoint.pt`` of an
    unfinished run)."""
    path = Path(path)
    history_file = path / "history.jsonl"
    if not history_file.is_file():
        raise FileNotFoundError(f"{path} is not a run directory: no history.jsonl")
    history = [json.loads(line) for line in history_file.read_text().splitlines() if line.strip()]
    result = None
    if (path / "result.json").is_file():
        result = json.loads((path / "result.json").read_text())
        config = result["config"]
    elif (path / "checkpoint.pt").is_file():
        from dartslib.engine.checkpoint import load_checkpoint

        config = load_checkpoint(path / "checkpoint.pt")["config"]
    else:
        config = {}
    return Run(history, config, result, path, label)


RunLike = Union[Run, str, Path, Any]


def as_run(run: RunLike, label: str | None = None) -> Run:
    """A :class:`Run` from a Run, a run directory or a SearchResult."""
    if isinstance(run, Run):
        if label is not None and label != run.label:
            return Run(run.history, run.config, run.result, run.path, label)
        return run
    if isinstance(run, (str, Path)):
        return load_run(run, label)
    if hasattr(run, "history") and hasattr(run, "config"):
        return Run.from_result(run, label)
    raise TypeError(f"expected a Run, a run directory or a SearchResult, got {type(run).__name__}")


# ------------------------------------------------------------------------------------------ series

def op_weight_history(run: RunLike, cell_type: str) -> tuple[list[int], np.ndarray]:
    """``(epochs, (T, E, M) array)`` of a cell type's op weights over the recorded epochs."""
    run = as_run(run)
    return run.epochs, np.stack([as_arrays(h["op_weights"])[cell_type] for h in run.history])


def dominant_op_history(run: RunLike, cell_type: str,
                        threshold: float | None = None) -> tuple[list[int], dict[str, np.ndarray]]:
    """``(epochs, {op: (T,) counts})``: how many edges each op leads per epoch (:func:`dominant_ops`)."""
    run = as_run(run)
    kwargs = {} if threshold is None else {"threshold": threshold}
    per_epoch = [dominant_ops({cell_type: h["op_weights"][cell_type]}, run.space, run.exclusive, **kwargs)[cell_type]
                 for h in run.history]
    ops = run.space.op_names(cell_type)
    return run.epochs, {op: np.array([c[op] for c in per_epoch]) for op in ops}


def _from_history(fn: Callable[[dict[str, Any], Run], Any]) -> Callable[[Run], tuple[list[int], list[float]]]:
    def series(run: Run) -> tuple[list[int], list[float]]:
        epochs, values = [], []
        for h in run.history:
            value = fn(h, run)
            if value is not None:
                epochs.append(int(h["epoch"]))
                values.append(float(value))
        return epochs, values
    return series


def _diag(*keys: str) -> Callable[[Run], tuple[list[int], list[float]]]:
    def get(h: dict[str, Any], run: Run) -> Any:
        value: Any = h.get("diagnostics")
        for k in keys:
            if not isinstance(value, Mapping) or k not in value:
                return None
            value = value[k]
        return value
    return _from_history(get)


METRICS: dict[str, tuple[str, Callable[[Run], tuple[list[int], list[float]]]]] = {
    "train_acc": ("training accuracy (%)", _from_history(lambda h, r: h.get("train_acc"))),
    "train_loss": ("training loss", _from_history(lambda h, r: h.get("train_loss"))),
    "eval_acc": ("held-out accuracy (%)", _from_history(lambda h, r: h.get(f"{r.eval_split}_acc"))),
    "eval_loss": ("held-out loss", _from_history(lambda h, r: h.get(f"{r.eval_split}_loss"))),
    "ies": ("IES (summed entropy, nats)", _from_history(lambda h, r: ies(h["op_weights"]))),
    "skip_count": ("skip connections in the derived cell",
                   _from_history(lambda h, r: skip_count(h["genotype"]))),
    "num_parametric": ("#P (parametric ops in the derived cell)",
                       _from_history(lambda h, r: num_parametric(h["genotype"]))),
    "supernet_acc": ("supernet accuracy (%)", _diag("discretization", "supernet_acc")),
    "discrete_acc": ("discretised accuracy (%)", _diag("discretization", "discrete_acc")),
    "discretization_gap": ("discretization gap (points)", _diag("discretization", "gap")),
    "hessian_eigenvalue": ("dominant Hessian eigenvalue", _diag("hessian_eigenvalue")),
}
"""Named per-epoch metrics of a run: ``name -> (axis label, run -> (epochs, values))``."""


def metric_series(run: RunLike, name: str) -> tuple[list[int], list[float]]:
    """``(epochs, values)`` of metric ``name`` (a key of :data:`METRICS`) for a run; empty if not recorded."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose from: {', '.join(METRICS)}")
    return METRICS[name][1](as_run(run))
