"""The search loop: build everything from a :class:`SearchConfig`, then alternate architecture and weight
steps, checkpointing every epoch.

:class:`Search` supplies the parts of the library's epoch and step loops (:meth:`~dartslib.engine.run.Run.run`,
:meth:`~dartslib.engine.run.Run.run_epoch`): its batches, its step (:meth:`Search.train_step`, the library's
search step) and its records; it owns the state around them (model, optimizers, data streams, history) and
saves/restores it so an interrupted run resumes bit-identically on the same device. :func:`search` is the
one-call entry point used by the CLI and the book. Under ``torchrun`` the same loop runs data-parallel: each
rank steps on its shard of the global batch with gradients averaged over the ranks
(:mod:`dartslib.engine.distributed`, three lines of :meth:`Search.train_step` and :meth:`Search.epoch_stats`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from dartslib.device import (CPUFallbackWarning, batches_on, configure_cuda, cuda_unavailable_reason,
                             model_device)
from dartslib.engine.config import DEVICE_TYPES, SearchConfig
from dartslib.data import BatchIterator, load_dataset, split_train_valid
from dartslib.arch.derive import derive
from dartslib.engine.distributed import GradientSync, current as current_group
from dartslib.engine.machine import machine_info
from dartslib.hooks import (EpochContext, SearchHook, StepContext,  # noqa: F401  (re-exported: SearchHook, StepContext)
                            arch_loss_terms, call_hooks)
from dartslib.methods.presets import build_hooks, prepare_supernet
from dartslib.engine.run import Run, RunDiverged, RunInterrupted
from dartslib.engine.rundir import RunDirectoryError
from dartslib.engine.steps import make_optimizers, search_step
from dartslib.space.spaces import get_space
from dartslib.space.supernet import Supernet, build_supernet

__all__ = ["SearchHook", "StepContext", "EpochContext", "Search", "SearchResult", "SearchDiverged", "SearchInterrupted",
           "search", "evaluate", "resolve_device", "run_as_child"]


class SearchDiverged(RunDiverged):
    """A search's training loss became NaN or infinite; the last good checkpoint is kept."""


class SearchInterrupted(RunInterrupted):
    """Ctrl-C, SIGTERM (or :meth:`Search.request_stop`) stopped the search after a complete step, state saved."""

    noun = "search"


def run_as_child(work: Any) -> int:
    """The exit protocol of a sweep's child process: run ``work()`` (which returns the lines to print on
    success) and exit 0 when finished, 130 when interrupted (state saved), 1 with the traceback and a last
    line ``error: TYPE: first line of the message``, which is what the sweep reports (a run directory held by
    another process: that one line only)."""
    import sys
    import traceback

    try:
        lines = work()
    except RunInterrupted as exc:
        print(f"interrupted: {exc}", flush=True)
        return 130
    except KeyboardInterrupt:  # before the search's own handler was installed: nothing to save yet
        print("interrupted before the first step", flush=True)
        return 130
    except RunDirectoryError as exc:  # another process holds the directory: one line, no traceback
        print(f"error: {type(exc).__name__}: {str(exc).strip()}", flush=True)
        return 1
    except Exception as exc:  # the log keeps the traceback; the last line is what the sweep reports
        traceback.print_exc(file=sys.stdout)
        message = str(exc).strip()
        print(f"error: {type(exc).__name__}: {message.splitlines()[0] if message else ''}", flush=True)
        return 1
    for line in lines:
        print(line, flush=True)
    return 0


def resolve_device(device: str, scale: str | None = None) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``cpu``, ``cuda``, ``cuda:N`` or ``mps``,
    checked to exist here (ValueError naming ``--device`` otherwise). At ``scale`` ``small`` or ``paper``,
    ``"auto"`` falling back to the CPU warns (:class:`~dartslib.device.CPUFallbackWarning`) with the reason
    CUDA is not usable; ``--device cpu`` asks for the CPU and does not warn. A CUDA device gets the
    repeatability switches of :func:`~dartslib.device.configure_cuda`."""
    if device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if resolved.type == "cpu" and scale in ("small", "paper"):
            import warnings

            hours = "days per search" if scale == "paper" else "hours"
            warnings.warn(CPUFallbackWarning(
                f"--device auto runs this {scale}-scale run on the CPU ({hours}), because CUDA is not usable: "
                f"{cuda_unavailable_reason()}. Pass --device cpu (device='cpu') to run on the CPU on purpose."),
                stacklevel=2)
        if resolved.type == "cuda":
            configure_cuda()
        return resolved
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"--device {device!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if resolved.type not in DEVICE_TYPES:
        raise ValueError(f"--device {device!r}: a search cannot run on {resolved.type!r} devices; use auto, cpu, "
                         f"cuda or cuda:N")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device!r} asked for, but CUDA is not available here "
                             f"({cuda_unavailable_reason()}); use --device cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        configure_cuda()
    if resolved.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"--device {device!r} asked for, but MPS is not available here; use --device cpu")
    return resolved


MAX_SUPERNET_PARAMETERS = 2 * 10**9
"""The largest supernet a search builds: 2e9 parameters are 8 GB of float32 weights, about 32 GB with their
gradients, momentum and the alphas' Adam state, before a single activation."""


def check_supernet_size(config: SearchConfig) -> None:
    """Refuse a supernet above :data:`MAX_SUPERNET_PARAMETERS` before allocating it (ValueError naming the
    flags). Each size is bounded on its own (:data:`dartslib.engine.config.FIELDS`); their product is counted
    here on the 'meta' device (shapes only), when a rough bound says it could be large."""
    depth = config.layers if get_space(config.space).topology != "nb201" else 3 * config.cells_per_stage
    if config.C * config.C * depth < 10**6:  # about 1e9 parameters at most: no need to count
        return
    with torch.device("meta"):
        model = build_supernet(config.space, C=config.C, layers=config.layers, num_classes=120,
                               cells_per_stage=config.cells_per_stage, op_weights=config.op_weights)
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_SUPERNET_PARAMETERS:
        size = "--layers" if get_space(config.space).topology != "nb201" else "--cells-per-stage"
        raise ValueError(f"--C {config.C} with {size} {depth if size == '--layers' else config.cells_per_stage}: "
                         f"the supernet would have {parameters:.3g} parameters (about {parameters * 16 / 1e9:.0f} GB "
                         f"with gradients and optimizer state), more than {MAX_SUPERNET_PARAMETERS:.0e}; use a "
                         f"smaller --C or fewer cells")


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (in %) of ``model`` in eval mode over ``batches`` (moved to the model's
    device)."""
    was_training = model.training
    model.eval()
    loss_sum = correct = count = 0.0
    for x, y in batches_on(batches, model_device(model)):
        logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    model.train(was_training)
    return loss_sum / max(count, 1), 100.0 * correct / max(count, 1)


@dataclass
class SearchResult:
    """What a search returns: the final architecture, its op weights, the per-epoch history."""

    config: SearchConfig
    genotype: str
    arch_weights: dict[str, list[list[float]]]
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    model: Supernet | None = field(default=None, repr=False)
    out_dir: Path | None = None
    machine: dict[str, Any] | None = None  #: :func:`dartslib.engine.machine.machine_info` of the finishing process

    def to_json(self) -> dict[str, Any]:
        return {"genotype": self.genotype, "arch_weights": self.arch_weights, "config": self.config.to_dict(),
                "metrics": self.metrics, **({"machine": self.machine} if self.machine is not None else {})}


class Search(Run[SearchResult]):
    """A search in progress. ``Search(config, out_dir).run()``; ``Search.resume(path).run()`` to continue.

    ``out_dir`` is owned by one run (:mod:`dartslib.engine.rundir`): a directory that already holds a run is
    refused unless ``overwrite=True`` (its run files are deleted when :meth:`run` starts), and
    :meth:`run` holds ``out_dir/.lock`` throughout, so a second process on the same directory stops.
    The epoch and step loops (:meth:`run`, :meth:`run_epoch`), stopping, saving and resuming are
    :class:`~dartslib.engine.run.Run`'s; a search supplies its batches, its step (:meth:`train_step`) and its
    records.
    """

    kind, noun, config_class, lr_flags = "search", "search", SearchConfig, "--lr or --arch-lr"
    state_keys = ("config", "epoch", "step", "partial", "model", "weight_optimizer", "arch_optimizer",
                  "scheduler", "arch_stream", "rng", "history", "hooks")
    Diverged, Interrupted = SearchDiverged, SearchInterrupted

    def __init__(self, config: SearchConfig, out_dir: str | Path | None = None, progress: bool = True,
                 hooks: list[SearchHook] | None = None, overwrite: bool = False, *, _resuming: bool = False) -> None:
        # the process group: one process unless torch.distributed is initialised (torchrun)
        super().__init__(config, out_dir, progress, overwrite, _resuming, current_group())
        self.device = self.dist.device(resolve_device(config.device, config.scale))
        check_supernet_size(config)  # before the data and the supernet are allocated

        torch.manual_seed(config.seed)
        full = load_dataset(config.dataset, "train", root=config.data_dir, image_size=config.image_size)
        self.num_classes = full.num_classes
        if config.update in ("single-level", "same-subset"):  # Single-DARTS and its Table 4 ablation train
            # both on the whole training set (same-subset: the alphas' batches are other batches of it)
            train_data, held_out = full, load_dataset(config.dataset, "test", root=config.data_dir,
                                                      image_size=config.image_size)
            self.eval_split = "test"
        elif config.protocol == "nb201" and config.dataset in ("cifar100", "imagenet16-120"):
            # NAS-Bench-201's search split: weights on the whole training set, alphas on half the test set
            test = load_dataset(config.dataset, "test", root=config.data_dir, image_size=config.image_size)
            train_data, held_out = full, split_train_valid(test, 0.5, seed=0)[1]
            self.eval_split = "valid"
        else:
            train_data, held_out = split_train_valid(full, config.train_portion)
            self.eval_split = "valid"
        arch_data = train_data if config.update in ("single-level", "same-subset") else held_out
        flip = config.dataset not in ("digits", "digits-hard", "svhn")  # mirrored digits are other symbols
        self.train_batches = BatchIterator(train_data.to(self.device), config.batch_size, shuffle=True,
                                           augment=config.augment, flip=flip, seed=config.seed)
        self.arch_stream = BatchIterator(arch_data.to(self.device), config.batch_size, shuffle=True,
                                         augment=config.augment, flip=flip, seed=config.seed + 1).stream()
        self.held_out = BatchIterator(held_out.to(self.device), 256, shuffle=False)
        self.dist.check(config, (len(train_data), len(arch_data)))

        self.model = build_supernet(config.space, C=config.C, layers=config.layers, num_classes=self.num_classes,
                                    cells_per_stage=config.cells_per_stage, op_weights=config.op_weights)
        prepare_supernet(self.model, config)  # the method's own modules (e.g. DARTS-' auxiliary skips)
        self.model.to(self.device)
        if config.arch_init != "randn":
            with torch.no_grad():
                for alpha in self.model.arch_parameters():
                    alpha.fill_(float(config.arch_init))
        self.dist.broadcast_model(self.model)
        self.grad_sync = GradientSync(self.model, self.dist)  # with several ranks: global-batch gradients
        self.dist.seed_rank_stream(config.seed)  # noise ops: independent noise per rank's shard
        self.hooks: list[SearchHook] = build_hooks(config) + list(hooks or [])
        self.weight_optimizer, self.arch_optimizer = make_optimizers(self.model, config)
        self.partial: dict[str, torch.Tensor] = {}
        self.epoch_lr: float = config.lr  # set by start_epoch: the lr at the epoch's start
        self.arch_terms: list[Callable[[], torch.Tensor | None]] = []  # set by start_epoch: the hooks' terms
        self.steps_per_epoch = len(self.train_batches)
        if config.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, config.max_steps_per_epoch)
        self.per_step_schedule = config.lr_schedule == "cosine-step"  # stepped every iteration (NAS-Bench-201)
        eta_min = config.lr if config.lr_schedule == "constant" else config.lr_min
        horizon = config.epochs * (self.steps_per_epoch if self.per_step_schedule else 1)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.weight_optimizer, max(horizon, 1),
                                                                    eta_min=eta_min)

    # ------------------------------------------------------------ the parts of Run.run_epoch's step loop
    def hooked_models(self) -> list[tuple[nn.Module, list[SearchHook]]]:
        return [(self.model, self.hooks)]

    def start_epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Train mode, fresh sums at step 0, the learning rate of the epoch's start (``xi`` of the
        second-order step, with the per-step schedule too) and the hooks' architecture-loss terms; returns the
        training batches from step ``self.step`` on."""
        self.model.train()
        if self.step == 0:
            self.partial = {k: torch.zeros((), dtype=torch.float64, device=self.device)  # float64: sums exact
                            for k in ("loss", "correct", "count")}                     # in any order
        self.epoch_lr = self.weight_optimizer.param_groups[0]["lr"]
        self.arch_terms = arch_loss_terms(self.hooked_models())
        return self.train_batches.epoch(self.epoch, start=self.step)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor | int]:
        """An architecture step then a weight step (or one joint step) on this rank's part of the batch."""
        cfg = self.config
        x, y = self.dist.shard(*batch)  # this rank's part of the global batch (all of it on one process)
        loss, logits = search_step(self.model, cfg.update, (x, y), lambda: self.dist.shard(*next(self.arch_stream)),
                                   self.weight_optimizer, self.arch_optimizer, arch_terms=self.arch_terms,
                                   grad_clip=cfg.grad_clip, xi=self.epoch_lr, step_order=cfg.step_order)
        if self.per_step_schedule:
            self.scheduler.step()
        self.dist.average_buffers(self.model)  # BN running statistics: the mean over the ranks' shards
        return {"loss": loss * len(y), "correct": (logits.argmax(1) == y).sum(), "count": len(y)}

    def epoch_stats(self) -> dict[str, float]:
        """Mean training loss and accuracy over the ranks' shards, and the epoch's learning rate."""
        totals = self.dist.sum(self.partial)  # over the ranks' shards
        count = max(totals["count"].item(), 1)
        return {"train_loss": totals["loss"].item() / count,
                "train_acc": 100.0 * totals["correct"].item() / count, "lr": self.epoch_lr}

    # ------------------------------------------------------------------- the parts of Run.run's epoch loop
    def progress_bar(self) -> Any:
        """Steps done of all epochs' steps, on rank 0."""
        from dartslib.progress import progress_bar

        cfg = self.config
        return progress_bar(total=cfg.epochs * self.steps_per_epoch,
                            initial=self.epoch * self.steps_per_epoch + self.step, desc=f"{cfg.method} on {cfg.space}",
                            unit="step", disable=not self.progress or self.dist.rank != 0, leave=False)

    def train_epoch(self, bar: Any) -> dict[str, float]:
        """:meth:`~dartslib.engine.run.Run.run_epoch`, its gradients averaged over the ranks
        (:class:`~dartslib.engine.distributed.GradientSync`)."""
        with self.grad_sync:
            return self.run_epoch(bar)

    def schedule_epoch(self) -> None:
        """The epoch's learning-rate step (the per-step schedule, ``cosine-step``, steps in :meth:`train_step`)."""
        if not self.per_step_schedule:
            self.scheduler.step()

    def record_epoch(self, stats: dict[str, float], started: float, bar: Any) -> None:
        """Evaluate on the held-out split, append the epoch's record (:meth:`_epoch_record`), save."""
        self.history.append(self._epoch_record(stats, time.perf_counter() - started))
        bar.set_postfix(epoch=self.epoch, loss=f"{stats['train_loss']:.3f}",
                        acc=f"{self.history[-1][self.eval_split + '_acc']:.1f}")
        self.save()

    def finish(self) -> SearchResult:
        """The search's :class:`SearchResult`, written to ``result.json``."""
        result = self.result()
        self.write_result(result.to_json())
        return result

    # ------------------------------------------------------------------------------------ bookkeeping
    def genotype(self) -> str:
        """The architecture derived from the current op weights (text)."""
        with torch.no_grad():  # a form may derive at another temperature than it trains at (SP-DARTS)
            weights = self.model.derivation_weights()  # the form's, changed by any arch extension (PC-DARTS)
        return str(derive(weights, self.model.space, self.config.derive, **self.config.derive_options))

    def arch_weights(self) -> dict[str, list[list[float]]]:
        with torch.no_grad():
            return {ct: w.cpu().tolist() for ct, w in self.model.op_weights().items()}

    def _epoch_record(self, stats: dict[str, float], seconds: float,
                      evaluation: tuple[float, float] | None = None) -> dict[str, Any]:
        """The history record of the epoch just finished; ``evaluation`` = ``(loss, acc)`` on the held-out
        split when the caller measured it already (:mod:`dartslib.engine.batched` evaluates all seeds in one pass)."""
        call_hooks([(self.model, self.hooks)], "eval_mode")
        loss, acc = evaluation if evaluation is not None else evaluate(self.model, iter(self.held_out.epoch(0)))
        record: dict[str, Any] = {"epoch": self.epoch, **stats, f"{self.eval_split}_loss": loss,
                                  f"{self.eval_split}_acc": acc, "seconds": seconds,
                                  "op_weights": self.arch_weights(),
                                  "alphas": {ct: a.detach().cpu().tolist()
                                             for ct, a in self.model.arch_params.items()},
                                  "genotype": self.genotype()}
        for hook in self.hooks:
            record.update(hook.describe())
        context = self.epoch_context()
        for hook in self.hooks:
            hook.on_epoch_end(context, record)
        return record

    def epoch_context(self) -> EpochContext:
        """What the hooks' :meth:`~dartslib.hooks.SearchHook.on_epoch_end` reads: the model, the config, the batch
        streams (the alphas' as their iterator: pure calls, the search's own stream is not touched), the output
        directory, the epochs completed, and :meth:`request_stop`."""
        return EpochContext(model=self.model, config=self.config, epoch=self.epoch, epochs=self.config.epochs,
                            steps_per_epoch=self.steps_per_epoch, train_batches=self.train_batches,
                            arch_batches=self.arch_stream.iterator, held_out=self.held_out, out_dir=self.out_dir,
                            request_stop=self.request_stop)

    def result(self) -> SearchResult:
        last = self.history[-1] if self.history else {}
        metrics = {k: last[k] for k in ("train_loss", "train_acc", f"{self.eval_split}_loss",
                                         f"{self.eval_split}_acc") if k in last}
        metrics.update(epochs=self.epoch, eval_split=self.eval_split,
                       seconds=sum(h["seconds"] for h in self.history))
        return SearchResult(self.config, self.genotype(), self.arch_weights(), list(self.history), metrics,
                            self.model, self.out_dir, machine_info(self.device))

    def state_dict(self) -> dict[str, Any]:
        rng = self.rng_state()
        return {"format": "dartslib-search-1", "config": self.config.to_dict(), "epoch": self.epoch,
                "step": self.step, "partial": self.dist.sum(self.partial), "model": self.model.state_dict(),
                "weight_optimizer": self.weight_optimizer.state_dict(),
                "arch_optimizer": self.arch_optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "arch_stream": self.arch_stream.state_dict(), "rng": rng, "history": self.history,
                "hooks": [hook.state_dict() for hook in self.hooks]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the history keeps only the records up to the checkpoint's epoch
        (one consistent history). Raises ValueError when the state does not fit this search."""
        state = {**state, "history": self._history_upto(state)}
        self.model.load_state_dict(state["model"])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.arch_stream.load_state_dict(state["arch_stream"])
        for hook, hook_state in zip(self.hooks, state["hooks"]):
            hook.load_state_dict(hook_state)
        self.epoch, self.step, self.history = state["epoch"], state["step"], list(state["history"])
        self.partial = {k: v.to(self.device) if self.dist.rank == 0 else torch.zeros_like(v, device=self.device)
                        for k, v in state["partial"].items()}  # global sums: rank 0 carries them on
        self.load_rng_state(state["rng"])

    def _describe(self) -> str:
        return f"search it describes (space {self.config.space!r}, C={self.config.C})"

    @classmethod
    def resume(cls, path: str | Path, progress: bool = True, hooks: list[SearchHook] | None = None,
               **config_changes: Any) -> "Search":
        """Continue the search saved in ``path`` (a run directory or its ``checkpoint.pt``); a checkpoint of
        another kind or format, or one that does not fit, is a one-line CheckpointError naming the file.

        ``config_changes`` may only change things that do not alter the maths (e.g. ``device``)."""
        return cls._resume(path, config_changes, progress=progress, hooks=hooks)


def search(config: SearchConfig, out_dir: str | Path | None = None, progress: bool = True,
           hooks: list[SearchHook] | None = None, overwrite: bool = False) -> SearchResult:
    """Run a whole search; with ``out_dir``, write checkpoints, ``history.jsonl`` and ``result.json`` there.
    ``hooks`` are added after the method's own (e.g. diagnostics recorders). A directory that already
    holds a run is refused unless ``overwrite=True`` (start over: its run files are deleted)."""
    return Search(config, out_dir, progress, hooks, overwrite).run()
