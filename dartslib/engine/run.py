"""What a search and a training share: one run that owns its output directory, stops cleanly, saves a
checkpoint every epoch and resumes from it bit-identically.

:meth:`Run.run` is the library's one epoch loop and :meth:`Run.run_epoch` its one step loop (one screen each); the
search, the training, the batched search and the book's toy search supply their parts (the epoch's:
:meth:`Run.progress_bar`, :meth:`Run.train_epoch`, :meth:`Run.check_epoch`, :meth:`Run.schedule_epoch`,
:meth:`Run.record_epoch`, :meth:`Run.finish`; the step's: :meth:`Run.hooked_models`, :meth:`Run.epoch_steps`,
:meth:`Run.start_epoch`, :meth:`Run.train_step`, :meth:`Run.accumulate`, :meth:`Run.epoch_stats`). :class:`Run` also
holds the run's directory (:mod:`dartslib.engine.rundir`: the lock, ``history.jsonl``), its stop requests (Ctrl-C,
SIGTERM, :meth:`Run.request_stop`), the divergence check, the atomic save, the random states, and
:meth:`Run._resume`: load with ``torch.load(weights_only=True)``, check the checkpoint's kind and format, rebuild
the run from its config, restore its state. A subclass (:class:`~dartslib.engine.loop.Search`,
:class:`~dartslib.engine.train.Training`) builds its model and its steps, says what its state is (``state_dict`` /
``load_state_dict``) and raises errors named for what it is (``Diverged``, ``Interrupted``: subclasses of
:class:`RunDiverged` and :class:`RunInterrupted`).
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Iterable, Iterator, Sequence, TypeVar

import torch

from dartslib.engine.checkpoint import (
    CheckpointError, check_format, load_checkpoint, remove_stale_temporaries, save_checkpoint, write_json_atomic,
    write_text_atomic
)
from dartslib.engine.distributed import Distributed
from dartslib.engine.rundir import RunDirectoryError, RunLock, check_new_run_dir, clear_run_files
from dartslib.hooks import SearchHook, StepContext, call_hooks

ResultT = TypeVar("ResultT")
"""What a run's :meth:`Run.run` returns (a search's SearchResult, a training's metrics, a batched search's list)."""

__all__ = ["Run", "RunDiverged", "RunInterrupted", "stop_on_signals", "STOP_SIGNALS", "RESUME_CHANGES"]

RESUME_CHANGES = ("device", "data_dir")
"""The config fields a resume may change: where the run computes and where its data lives, never its maths
(``Search.resume(path, epochs=8)`` is refused: a resumed run is the run its checkpoint describes)."""


class RunDiverged(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM (or ``request_stop``) stopped the run after a complete step, state saved in
    ``checkpoint`` (``None``: no output directory, or nothing saved yet)."""

    noun = "run"

    def __init__(self, checkpoint: Path | None, unsaved: str = "no output directory, nothing saved") -> None:
        super().__init__(f"{self.noun} interrupted; state saved to {checkpoint}" if checkpoint
                         else f"{self.noun} interrupted ({unsaved})")
        self.checkpoint = checkpoint


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that ask a run to stop after its current step (a second one acts as usual)."""


@contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[None]:
    """Inside: the first Ctrl-C or SIGTERM calls ``request_stop()``; a second one acts at once (SIGINT:
    ``KeyboardInterrupt``, SIGTERM: the default, termination). The previous handlers come back on exit.
    Outside the main thread (where Python cannot install handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        request_stop()
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: a handler not installed from Python, cannot be restored
                signal.signal(signum, old)


class Run(Generic[ResultT]):
    """The epoch and step loops and the run management of a search or a training (see the module docstring).

    A subclass sets the class attributes, ``self.device`` (where its random state lives) and, from its
    ``__init__``, calls ``Run.__init__`` first; it supplies the parts of :meth:`run` and :meth:`run_epoch` (an
    epoch's batches, a step, its stats, an epoch's record, the result). ``self.epoch`` counts completed epochs,
    ``self.step`` the steps completed in the current one (non-zero only in a checkpoint written by an interrupt).
    """

    kind: ClassVar[str]                       # the checkpoint kind (dartslib.engine.checkpoint.KNOWN_FORMATS)
    noun: ClassVar[str] = "run"               # what the messages call it ("search", "training")
    config_class: ClassVar[Any]               # has from_dict(dict) -> config (ValueError/TypeError if invalid)
    state_keys: ClassVar[tuple[str, ...]]     # entries a checkpoint of this kind must have
    lr_flags: ClassVar[str] = "--lr"          # what the divergence message suggests lowering
    Diverged: ClassVar[type[RunDiverged]] = RunDiverged
    Interrupted: ClassVar[type[RunInterrupted]] = RunInterrupted
    device: torch.device
    scheduler: Any                            # the learning-rate schedule (stepped by schedule_epoch)
    partial: dict[str, Any]                   # the current epoch's sums (accumulate), checkpointed mid-epoch

    def __init__(self, config: Any, out_dir: str | Path | None, progress: bool, overwrite: bool,
                 resuming: bool, dist: Distributed | None = None) -> None:
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__}: config must be a {self.config_class.__name__} (see "
                            f"{'make_config' if self.kind == 'search' else 'make_train_config'}), got "
                            f"{type(config).__name__}")
        if out_dir is not None and (not isinstance(out_dir, (str, Path)) or not str(out_dir).strip()):
            raise ValueError(f"out_dir must be a directory (or None: write nothing), got {out_dir!r}")
        self.config, self.progress, self.overwrite = config, progress, overwrite
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self._resumed = resuming
        self._owns_dir = False  # set once running() has checked (and, with overwrite, cleared) the directory
        if self.out_dir is not None and not resuming:
            check_new_run_dir(self.out_dir, overwrite)  # before loading data: fail in seconds, not minutes
        self.dist = dist if dist is not None else Distributed()  # one process unless torchrun
        self._stop_requested = False
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / "checkpoint.pt" if self.out_dir is not None else None

    # ---------------------------------------------------------------------------------- the epoch loop
    def run(self) -> ResultT:
        """Run the remaining epochs holding the output directory; return :meth:`finish`'s result. Ctrl-C or
        SIGTERM stops after the current step and saves (:attr:`Interrupted`); a NaN or infinite training loss
        stops before the epoch is saved (:attr:`Diverged`)."""
        with self.running(), self.progress_bar() as bar:
            while self.epoch < self.config.epochs:
                started = time.perf_counter()
                stats = self.train_epoch(bar)  # a stop request inside saves and raises Interrupted
                self.check_epoch(stats)
                self.schedule_epoch()
                self.epoch, self.step = self.epoch + 1, 0
                self.record_epoch(stats, started, bar)  # evaluate, append to the history, save
                if self.stop_requested() and self.epoch < self.config.epochs:
                    raise self.Interrupted(self.checkpoint_path)
            return self.finish()

    def progress_bar(self) -> Any:
        """The bar :meth:`run` updates (a ``tqdm`` context manager, disabled when nobody sees it)."""
        raise NotImplementedError

    def train_epoch(self, bar: Any) -> Any:
        """The steps of the current epoch from step ``self.step`` on (:meth:`run_epoch`); returns the epoch's
        training stats."""
        return self.run_epoch(bar)

    def check_epoch(self, stats: Any) -> None:
        """Refuse an epoch whose training loss is not finite (:meth:`check_finite`), before it is saved."""
        self.check_finite(stats["train_loss"])

    def schedule_epoch(self) -> None:
        """The learning-rate schedule's step at an epoch's end."""
        self.scheduler.step()

    def record_epoch(self, stats: Any, started: float, bar: Any) -> None:
        """After epoch ``self.epoch`` (begun at ``time.perf_counter()`` ``started``): evaluate it, append its
        record to the history, save the checkpoint."""
        raise NotImplementedError

    def finish(self) -> ResultT:
        """The result of the finished run, written to ``result.json`` (:meth:`write_result`)."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------- the step loop
    def run_epoch(self, bar: Any = None) -> Any:
        """The steps of the current epoch from step ``self.step`` on, the library's one step loop: the hooks'
        ``on_epoch_start`` at step 0 and ``before_step`` before every step, the step (:meth:`train_step`), its
        stats summed (:meth:`accumulate`), the step counter, the bar; a stop request saves and raises
        :attr:`Interrupted`. Returns :meth:`epoch_stats`."""
        hooked, epochs, steps = self.hooked_models(), self.config.epochs, self.epoch_steps()
        batches = self.start_epoch()
        if self.step == 0:
            call_hooks(hooked, "on_epoch_start", self.epoch, epochs)
        for step, batch in zip(range(self.step, steps), batches):
            call_hooks(hooked, "before_step", StepContext(self.epoch, epochs, step, steps))
            self.accumulate(self.train_step(batch))
            self.step = step + 1
            if bar is not None:
                bar.update(1)
            if self.stop_requested() and self.step < steps:
                self.save()
                raise self.Interrupted(self.checkpoint_path)
        return self.epoch_stats()

    def hooked_models(self) -> list[tuple[torch.nn.Module, Sequence[SearchHook]]]:
        """The ``(model, hooks)`` pairs the step loop calls (:func:`~dartslib.hooks.call_hooks`); none here."""
        return []

    def epoch_steps(self) -> int:
        """The number of steps in the current epoch."""
        return self._steps_per_epoch()

    def start_epoch(self) -> Iterable[Any]:
        """Get ready for the current epoch's steps from ``self.step`` on (e.g. train mode; at step 0 fresh
        sums in ``self.partial``) and return their batches, one per step."""
        raise NotImplementedError

    def train_step(self, batch: Any) -> dict[str, Any]:
        """One step on ``batch``; returns what :meth:`accumulate` adds up."""
        raise NotImplementedError

    def accumulate(self, stats: dict[str, Any]) -> None:
        """Add a step's stats to the epoch's sums ``self.partial`` (checkpointed: a resumed epoch goes on)."""
        for key, value in stats.items():
            self.partial[key] += value

    def epoch_stats(self) -> Any:
        """The epoch's training stats from its sums (what :meth:`run_epoch` returns)."""
        raise NotImplementedError

    def write_result(self, result: dict[str, Any]) -> None:
        """Rank 0 writes ``result.json`` (and, after ``--epochs 0``, an empty ``history.jsonl``: a consistent
        run directory)."""
        if self.out_dir is None or self.dist.rank != 0:
            return
        if not (self.out_dir / "history.jsonl").is_file():
            self._write_history()
        write_json_atomic(self.out_dir / "result.json", result)

    # ------------------------------------------------------------------------------------ stopping
    def request_stop(self) -> None:
        """Stop after the current step, saving a checkpoint (what Ctrl-C and SIGTERM do)."""
        self._stop_requested = True

    def stop_requested(self) -> bool:
        """Whether any rank was asked to stop (a collective under torchrun: every rank calls it)."""
        return self.dist.any(self._stop_requested)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Hold the output directory (:meth:`_take_directories`) and turn Ctrl-C / SIGTERM into
        :meth:`request_stop` while inside. A ``KeyboardInterrupt`` that still gets through (a second
        Ctrl-C) leaves as :attr:`Interrupted` naming the last checkpoint on disk."""
        locks = self._take_directories()
        try:
            with stop_on_signals(self.request_stop):
                yield
        except KeyboardInterrupt as exc:
            if isinstance(exc, RunInterrupted):
                raise
            saved = self.checkpoint_path
            if saved is None or not saved.is_file():
                raise self.Interrupted(None, "before its first checkpoint, nothing saved" if saved else
                                       "no output directory, nothing saved") from None
            raise self.Interrupted(saved) from None
        finally:
            for lock in locks:
                lock.release()

    def check_finite(self, loss: float) -> None:
        """Raise :attr:`Diverged` if the epoch's training ``loss`` is NaN or infinite (before it is saved)."""
        if math.isfinite(loss):
            return
        checkpoint = self.checkpoint_path
        kept = (f"the last good checkpoint is {checkpoint}" if checkpoint is not None and checkpoint.is_file()
                else "no checkpoint was written (it diverged before the first epoch ended)"
                if checkpoint is not None else "no checkpoint (no output directory)")
        raise self.Diverged(f"training loss became {loss} in epoch {self.epoch + 1}; {kept}. "
                            f"Try a smaller {self.lr_flags}.")

    # ---------------------------------------------------------------------------- the output directory
    def _take_directories(self) -> list[RunLock]:
        """The locks :meth:`running` holds: the output directory's (:meth:`_take_directory`), if any."""
        lock = self._take_directory()
        return [lock] if lock is not None else []

    def _take_directory(self) -> RunLock | None:
        """Before the first step: lock ``out_dir`` (rank 0; this also proves it writable), check again under
        the lock that a new run finds no other run there (``overwrite``: delete its files), remove
        temporaries of killed saves, and on resume rewrite ``history.jsonl`` from the checkpoint."""
        if self.out_dir is None:
            return None
        lock, error = None, None
        if self.dist.rank == 0:
            try:
                lock = RunLock(self.out_dir).acquire()
                if not self._owns_dir and not self._resumed:
                    check_new_run_dir(self.out_dir, self.overwrite)
                    if self.overwrite:
                        clear_run_files(self.out_dir)
                remove_stale_temporaries(self.out_dir)
                if self._resumed:
                    self._write_history()  # the checkpoint is the record: history.jsonl follows it
            except BaseException as exc:
                if lock is not None:
                    lock.release()
                if not isinstance(exc, (RunDirectoryError, OSError)):
                    raise
                error = exc
        if self.dist.any(error is not None):  # every rank stops, with rank 0's reason
            raise error if error is not None else RunDirectoryError(
                f"rank 0 could not take the output directory {self.out_dir}")
        self._owns_dir = True
        return lock

    def _write_history(self) -> None:
        write_text_atomic(self.out_dir / "history.jsonl", "".join(json.dumps(h) + "\n" for h in self.history))

    # ------------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _describe(self) -> str:
        """What a checkpoint that fails :meth:`load_state_dict` does not fit (for the error message)."""
        return f"{self.noun} it describes"

    def save(self) -> Path | None:
        """Write ``checkpoint.pt`` and ``history.jsonl`` atomically into the output directory."""
        if self.out_dir is None:
            return None
        state = self.state_dict()
        path = self.out_dir / "checkpoint.pt"
        if self.dist.rank == 0:  # only rank 0 writes (all ranks hold the same state)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_checkpoint(state, path)
            self._write_history()
        self.dist.barrier()  # the other ranks read a checkpoint only once it is complete
        return path

    def rng_state(self) -> dict[str, Any]:
        """The random states to checkpoint: torch's, the run's CUDA device's, every rank's (torchrun)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.dist.active:  # collectives: every rank calls state_dict, rank 0 writes it
            rng["ranks"] = self.dist.gather_rng_states()
        return rng

    def load_rng_state(self, rng: dict[str, Any]) -> None:
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        if self.dist.active:  # each rank's own stream if the checkpoint has one for it, else a fresh one
            ranks = rng.get("ranks") or []
            if len(ranks) == self.dist.world:
                torch.set_rng_state(ranks[self.dist.rank])
            else:
                self.dist.seed_rank_stream(self.config.seed, self.epoch, self.step)

    @staticmethod
    def _history_upto(state: dict[str, Any]) -> list[dict[str, Any]]:
        """The checkpoint's history records up to its epoch (one consistent history); ValueError unless
        they are epochs 1..epoch."""
        epoch = state["epoch"]
        history = [h for h in state["history"] if isinstance(h, dict) and h.get("epoch", 0) <= epoch]
        if [h.get("epoch") for h in history] != list(range(1, epoch + 1)):
            raise ValueError(f"its history has epochs {[h.get('epoch') for h in state['history']]}, which do not "
                             f"lead up to the checkpoint's epoch {epoch}")
        return history

    @classmethod
    def _resume(cls, path: str | Path, config_changes: dict[str, Any], **init: Any) -> "Run":
        """The run saved in ``path`` (a run directory or its ``checkpoint.pt``), built as ``cls(config,
        directory, **init)``. Every problem is a one-line :class:`CheckpointError` naming the file: missing,
        corrupt or foreign, another kind of run's (a training checkpoint given to a search), another format
        version, incomplete, an invalid config, or a state that does not fit the run it describes."""
        refused = sorted(set(config_changes) - set(RESUME_CHANGES))
        if refused:
            raise ValueError(f"{cls.__name__}.resume: {', '.join(refused)} cannot change when a run resumes (it "
                             f"continues with the config in its checkpoint; only {', '.join(RESUME_CHANGES)} may "
                             f"change); start a new run to change {refused[0]}")
        if not isinstance(path, (str, Path)) or not str(path).strip():
            raise ValueError(f"{cls.__name__}.resume: path must be a run directory or its checkpoint.pt, "
                             f"got {path!r}")
        path = Path(path)
        checkpoint = path / "checkpoint.pt" if path.is_dir() else path
        state = load_checkpoint(checkpoint)
        check_format(state, checkpoint, cls.kind, required=cls.state_keys)
        try:
            if not isinstance(state["config"], dict):
                raise ValueError(f"'config' is a {type(state['config']).__name__}, not a dict")
            config = cls.config_class.from_dict({**state["config"], **config_changes})
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{checkpoint}: its config is not a valid {cls.noun} config ({exc})") from None
        for key, top in (("epoch", config.epochs), ("step", None)):
            value = state.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (top is not None and value > top):
                bound = f"0..{top} (its config's epochs)" if top is not None else "a non-negative integer"
                raise CheckpointError(f"checkpoint {checkpoint}: its {key} is {str(value)[:40]}, not {bound}: "
                                      f"forged or corrupt")
        run = cls(config, checkpoint.parent, _resuming=True, **init)
        try:
            run.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"checkpoint {checkpoint} does not fit the {run._describe()}: {first}") from None
        steps = run._steps_per_epoch()
        if run.step and (run.step >= steps or run.epoch >= config.epochs):
            raise CheckpointError(f"checkpoint {checkpoint}: it stopped at step {run.step} of epoch {run.epoch + 1}, "
                                  f"but an epoch of this run has {steps} steps and it has {config.epochs} epochs: "
                                  f"forged or corrupt")
        return run

    def _steps_per_epoch(self) -> int:
        """Steps in one epoch (a search may cap them: ``max_steps_per_epoch``)."""
        return int(getattr(self, "steps_per_epoch", 0) or len(getattr(self, "train_batches")))
