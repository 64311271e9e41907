"""Search configuration: one flat dataclass, filled in from defaults, a scale, a method preset and the user.

Resolution order (later wins): DARTS defaults (Liu et al., 2019) -> the method's preset for the space
(:mod:`dartslib.methods`) -> the scale (``toy``/``small`` shrink the data, the network and the epochs;
``paper`` keeps the paper's setting) -> explicit overrides.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .spaces import get_space

__all__ = ["SearchConfig", "SCALES", "UPDATE_SCHEMES", "scale_overrides", "make_config"]

SCALES = ("toy", "small", "paper")
UPDATE_SCHEMES = ("bilevel-1st", "bilevel-2nd", "single-level", "same-subset")


@dataclass
class SearchConfig:
    """Every knob of a search. Defaults are DARTS' CIFAR-10 search setting (Liu et al., 2019, Sec. 3.1.1)."""

    method: str = "darts"
    space: str = "darts"
    dataset: str = "cifar10"
    scale: str = "paper"
    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025               # weight SGD, cosine-annealed to lr_min
    lr_min: float = 0.001
    lr_schedule: str = "cosine"     # or "constant"
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 3e-4           # alphas: Adam
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    train_portion: float = 0.5      # first half of the training set trains weights, second half alphas
    update: str = "bilevel-1st"     # see UPDATE_SCHEMES
    op_weights: str = "softmax"
    arch_init: str = "randn"        # "randn" (1e-3 * N(0, 1)) or a constant, e.g. "0"
    derive: str | None = None       # None: "nb201" on NB201, else "darts"
    derive_options: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)
    C: int = 16
    layers: int = 8                 # DARTS-topology supernets
    cells_per_stage: int = 5        # NB201 supernet
    image_size: int | None = None   # None: the dataset's own size
    augment: bool = True            # random crop + flip on the search data (DARTS does)
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None
    max_steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        get_space(self.space)
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose from: {', '.join(SCALES)}")
        if self.update not in UPDATE_SCHEMES:
            raise ValueError(f"unknown update scheme {self.update!r}; choose from: {', '.join(UPDATE_SCHEMES)}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown lr schedule {self.lr_schedule!r}; choose from: cosine, constant")
        for name in ("epochs", "batch_size", "C", "layers", "cells_per_stage"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'epochs' else 'positive'} "
                                 f"integer, got {value!r}")
        if not 0.0 < self.train_portion < 1.0:
            raise ValueError(f"train_portion must be in (0, 1), got {self.train_portion}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps_per_epoch must be positive, got {self.max_steps_per_epoch}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["arch_betas"] = list(self.arch_betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        d = dict(d)
        if "arch_betas" in d:
            d["arch_betas"] = tuple(d["arch_betas"])
        return cls(**d)


def scale_overrides(scale: str, space: str) -> dict[str, Any]:
    """What a scale changes. ``toy``: sklearn digits at 16x16, a narrow shallow supernet, seconds on a
    CPU. ``small``: digits at 32x32, a mid-sized supernet, minutes on a CPU. ``paper``: nothing (the
    paper's data and network)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from: {', '.join(SCALES)}")
    nb201 = get_space(space).topology == "nb201"
    if scale == "toy":
        size = {"cells_per_stage": 2} if nb201 else {"layers": 5}
        return {"dataset": "digits", "image_size": 16, "C": 8, "epochs": 10, "batch_size": 64,
                "augment": False, **size}
    if scale == "small":
        size = {"cells_per_stage": 3} if nb201 else {"layers": 5}
        return {"dataset": "digits", "image_size": 32, "C": 16, "epochs": 30, "batch_size": 64,
                "augment": False, **size}
    return {}


def make_config(method: str = "darts", space: str = "darts", scale: str = "paper", **overrides: Any) -> SearchConfig:
    """Resolve defaults -> method preset -> scale -> ``overrides`` into a validated :class:`SearchConfig`.

    ``None`` values in ``overrides`` are ignored (so unset CLI flags fall through).
    """
    from .methods import preset_overrides  # methods import config; keep the cycle out of import time

    get_space(space)
    values: dict[str, Any] = {"method": method, "space": space, "scale": scale}
    values.update(preset_overrides(method, space))
    values.update(scale_overrides(scale, space))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SearchConfig.from_dict(values)
