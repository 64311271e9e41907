"""Training a derived architecture from scratch (the evaluation phase of DARTS, Liu et al. 2019, Sec. 3.2).

DARTS' CIFAR-10 protocol is the paper default: 600 epochs, batch 96, SGD lr 0.025 cosine to 0, momentum
0.9, weight decay 3e-4, cutout 16, drop-path 0.2 rising linearly over training, auxiliary head weighted
0.4, gradient clipping 5, C = 36 and 20 cells. NAS-Bench-201 architecture strings train the NB201
inference network without auxiliary head or drop-path; at paper scale with NB201's protocol (200 epochs,
batch 256, lr 0.1 cosine, Nesterov, weight decay 5e-4; Dong & Yang, 2020, Sec. 2.3).
Checkpoints are written every epoch (and by Ctrl-C or SIGTERM mid-epoch) and a run resumes bit-identically,
as a search does (both are a :class:`~dartslib.engine.run.Run`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from dartslib.engine.config import (
    COMMON_FIELDS, MAX_BATCH_SIZE, MAX_IMAGE_SIZE, SCALES, check_config_dict, validate_fields
)
from dartslib.hooks import Knob, shown
from dartslib.arch.architecture import Architecture, parse_architecture
from dartslib.arch.counting import count_parameters
from dartslib.data import BatchIterator, load_dataset
from dartslib.arch.nb201 import build_nb201_network
from dartslib.arch.networks import build_network
from dartslib.engine.loop import evaluate, resolve_device
from dartslib.engine.machine import machine_info
from dartslib.engine.run import Run, RunDiverged, RunInterrupted

__all__ = ["TrainConfig", "make_train_config", "Training", "TrainingDiverged", "TrainingInterrupted", "train"]


class TrainingDiverged(RunDiverged):
    """A training's loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(RunInterrupted):
    """Ctrl-C, SIGTERM (or :meth:`Training.request_stop`) stopped the training after a complete step, state saved."""

    noun = "training"



def _check_genotype(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"genotype must be genotype text, a published name or an NB201 string, got {shown(value)}")
    try:
        parse_architecture(value, allow_empty=True)
    except ValueError as exc:
        raise ValueError(f"genotype: {exc}") from None


def _check_drop_path(value: Any) -> None:
    if not value < 1.0:
        raise ValueError(f"drop_path must be in [0, 1), got {shown(value)}")


def _check_batch(value: Any) -> None:
    if value < 2:
        raise ValueError(f"batch_size must be at least 2 (BatchNorm needs more than one image per batch), "
                         f"got {shown(value)}")


TRAIN_FIELDS: tuple[Knob, ...] = (
    Knob("genotype", "the genotype", check=_check_genotype),
    *(knob for knob in COMMON_FIELDS if knob.name != "batch_size"),
    Knob("batch_size", "images per batch", type=int, sign="positive", maximum=MAX_BATCH_SIZE, check=_check_batch),
    Knob("cutout", "cutout side (0: off)", type=int, sign="non-negative", maximum=MAX_IMAGE_SIZE),
    Knob("drop_path", "drop-path probability", type=float, sign="non-negative", check=_check_drop_path),
    Knob("drop_path_mode", "where drop-path acts", choices=("auto", "edge", "node")),
    Knob("auxiliary_weight", "auxiliary head's weight", type=float, sign="non-negative"),
    Knob("flip", "random flips", type=bool),
)
"""The declarations of :class:`TrainConfig`'s fields (:data:`dartslib.engine.config.COMMON_FIELDS` and its
own): type, range, upper bound."""


@dataclass
class TrainConfig:
    """Every knob of a train-from-scratch run; defaults are DARTS' CIFAR-10 evaluation setting."""

    genotype: str
    dataset: str = "cifar10"
    scale: str = "paper"
    epochs: int = 600
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    cutout: int = 16
    drop_path: float = 0.2
    drop_path_mode: str = "auto"   # "edge" (DARTS), "node" (FairDARTS), "auto": by format (networks.py)
    auxiliary_weight: float = 0.4
    C: int = 36
    layers: int = 20
    image_size: int | None = None
    augment: bool = True
    flip: bool = True
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None

    @property
    def architecture(self) -> Architecture:
        """``genotype`` parsed (:func:`dartslib.arch.parse_architecture`): a DARTS genotype or an NB201 cell."""
        return parse_architecture(self.genotype, allow_empty=True)

    @property
    def is_nb201(self) -> bool:
        return self.architecture.topology == "nb201"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (:data:`TRAIN_FIELDS`: type, range, upper bound)."""
        validate_fields(self, TRAIN_FIELDS)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """The config a checkpoint or ``result.json`` stores (``dataclasses.asdict``), validated."""
        check_config_dict(cls, d, "a training config")
        if "genotype" not in d:
            raise ValueError("the config has no genotype")
        return cls(**d)


def make_train_config(genotype: str, scale: str = "paper", **overrides: Any) -> TrainConfig:
    """Paper defaults, then the scale, then ``overrides`` (``None`` values ignored)."""
    if not isinstance(genotype, str):
        raise TypeError(f"make_train_config: genotype must be genotype text, a published name or an NB201 string, "
                        f"got {type(genotype).__name__}")
    arch = parse_architecture(genotype, allow_empty=True)
    nb201 = arch.topology == "nb201"
    values: dict[str, Any] = {"genotype": str(arch), "scale": scale}
    if nb201:
        values.update(epochs=200, batch_size=256, lr=0.1, nesterov=True, weight_decay=5e-4, cutout=0,
                      drop_path=0.0, auxiliary_weight=0.0, C=16, layers=5)
    if scale == "toy":
        values.update(dataset="digits", image_size=16, C=8, layers=5 if not nb201 else 2, epochs=10,
                      batch_size=64, cutout=0, augment=False, lr=0.05)
    elif scale == "small":
        values.update(dataset="digits", image_size=32, C=16, layers=8 if not nb201 else 3, epochs=30,
                      batch_size=64, cutout=8, augment=False, lr=0.05)
    elif scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from: {', '.join(SCALES)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(unknown)}")
    return TrainConfig(**values)


class Training(Run[dict[str, Any]]):
    """A train-from-scratch run: ``Training(config, out_dir).run()``, or ``Training.resume(path).run()``; ``run``
    returns the final metrics. ``out_dir`` is owned as a search's is (:mod:`dartslib.engine.rundir`;
    ``overwrite=True`` starts over); the epoch and step loops (:meth:`run`, :meth:`run_epoch`), stopping, saving
    and resuming are :class:`~dartslib.engine.run.Run`'s; a training supplies its batches and its step
    (:meth:`train_step`)."""

    kind, noun, config_class = "train", "training", TrainConfig
    # "step" and "partial" are optional: checkpoints written before mid-epoch stops existed have neither
    state_keys = ("config", "epoch", "model", "optimizer", "scheduler", "rng", "history")
    Diverged, Interrupted = TrainingDiverged, TrainingInterrupted

    def __init__(self, config: TrainConfig, out_dir: str | Path | None = None, progress: bool = True,
                 overwrite: bool = False, *, _resuming: bool = False) -> None:
        super().__init__(config, out_dir, progress, overwrite, _resuming)
        self.device = resolve_device(config.device, config.scale)
        torch.manual_seed(config.seed)
        train_data = load_dataset(config.dataset, "train", root=config.data_dir, image_size=config.image_size)
        test_data = load_dataset(config.dataset, "test", root=config.data_dir, image_size=config.image_size)
        flip = config.flip and config.dataset not in ("digits", "digits-hard", "svhn")
        self.train_batches = BatchIterator(train_data.to(self.device), config.batch_size, shuffle=True,
                                           augment=config.augment, flip=flip, cutout=config.cutout, seed=config.seed)
        self.test_batches = BatchIterator(test_data.to(self.device), 256, shuffle=False)
        arch = config.architecture
        if arch.topology == "nb201":
            self.model: nn.Module = build_nb201_network(arch, C=config.C, cells_per_stage=config.layers,
                                                        num_classes=train_data.num_classes)
        else:
            self.model = build_network(arch, C=config.C, layers=config.layers,
                                       num_classes=train_data.num_classes, auxiliary=config.auxiliary_weight > 0,
                                       drop_path_mode=config.drop_path_mode)
        self.model.to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay, nesterov=config.nesterov)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, max(config.epochs, 1),
                                                                    eta_min=config.lr_min)
        self.partial: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------ the parts of Run.run_epoch's step loop
    def start_epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's drop-path probability, train mode, fresh sums at step 0; returns the training batches
        from step ``self.step`` on."""
        cfg, model = self.config, self.model
        if hasattr(model, "drop_path_prob"):
            model.drop_path_prob = cfg.drop_path * self.epoch / max(cfg.epochs, 1)
        model.train()
        if self.step == 0:
            self.partial = {k: torch.zeros((), device=self.device) for k in ("loss", "correct", "count")}
        return self.train_batches.epoch(self.epoch, start=self.step)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor | int]:
        """One SGD step on the cross-entropy (plus the auxiliary head's, weighted), gradients clipped."""
        cfg, model, (x, y) = self.config, self.model, batch
        self.optimizer.zero_grad(set_to_none=True)
        if hasattr(model, "forward_with_aux"):
            logits, aux_logits = model.forward_with_aux(x)
        else:
            logits, aux_logits = model(x), None
        loss = nn.functional.cross_entropy(logits, y)
        total = loss if aux_logits is None else loss + cfg.auxiliary_weight * nn.functional.cross_entropy(aux_logits, y)
        total.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return {"loss": loss.detach() * len(y), "correct": (logits.argmax(1) == y).sum(), "count": len(y)}

    def epoch_stats(self) -> dict[str, float]:
        """Mean training loss and accuracy, and the learning rate."""
        count = max(int(self.partial["count"].item()), 1)
        return {"train_loss": self.partial["loss"].item() / count,
                "train_acc": 100.0 * self.partial["correct"].item() / count,
                "lr": self.optimizer.param_groups[0]["lr"]}

    # ------------------------------------------------------------------- the parts of Run.run's epoch loop
    def progress_bar(self) -> Any:
        """Epochs done of the epochs left."""
        from dartslib.progress import progress_bar

        return progress_bar(total=self.config.epochs - self.epoch, desc="train", unit="epoch",
                            disable=not self.progress, leave=False)

    def train_epoch(self, bar: Any) -> dict[str, float]:
        """:meth:`~dartslib.engine.run.Run.run_epoch` (the bar counts epochs: :meth:`record_epoch` moves it)."""
        return self.run_epoch()

    def record_epoch(self, stats: dict[str, float], started: float, bar: Any) -> None:
        """Evaluate on the test set, append the epoch's record, save."""
        test_loss, test_acc = evaluate(self.model, iter(self.test_batches.epoch(0)))
        self.history.append({"epoch": self.epoch, **stats, "test_loss": test_loss, "test_acc": test_acc,
                             "seconds": time.perf_counter() - started})
        self.save()
        bar.update(1)

    def finish(self) -> dict[str, Any]:
        """The final metrics (the last epoch's record and the parameter count); ``result.json`` adds the config
        and the machine."""
        cfg = self.config
        result = {"genotype": cfg.genotype, "parameters": count_parameters(self.model), "epochs": self.epoch,
                  **{k: v for k, v in (self.history[-1] if self.history else {}).items() if k != "epoch"}}
        self.write_result({**result, "config": dataclasses.asdict(cfg), "machine": machine_info(self.device)})
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"format": "dartslib-train-1", "config": dataclasses.asdict(self.config), "epoch": self.epoch,
                "step": self.step, "partial": self.partial, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "rng": self.rng_state(), "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (one written before mid-epoch stops existed has no ``step`` and
        ``partial``: it is at an epoch's end). Raises ValueError when the state does not fit this network."""
        history = self._history_upto(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step, self.history = state["epoch"], state.get("step", 0), history
        self.partial = {k: v.to(self.device) for k, v in state.get("partial", {}).items()}
        if self.step and set(self.partial) != {"loss", "correct", "count"}:
            raise ValueError(f"it stopped at step {self.step} without its partial sums")
        self.load_rng_state(state["rng"])

    def _describe(self) -> str:
        return "network it describes"

    @classmethod
    def resume(cls, path: str | Path, progress: bool = True, **config_changes: Any) -> "Training":
        """Continue the training saved in ``path`` (a run directory or its ``checkpoint.pt``); a checkpoint of
        another kind or format, or one that does not fit, is a one-line CheckpointError naming the file."""
        return cls._resume(path, config_changes, progress=progress)


def train(config: TrainConfig, out_dir: str | Path | None = None, progress: bool = True,
          overwrite: bool = False) -> dict[str, Any]:
    """Train ``config.genotype`` from scratch; returns the final metrics. An ``out_dir`` holding a run is
    refused unless ``overwrite=True``."""
    return Training(config, out_dir, progress, overwrite).run()
