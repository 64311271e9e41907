"""Search configuration: one flat dataclass, filled in from defaults, a scale, a method preset and the user.

Resolution order (later wins): DARTS defaults (Liu et al., 2019) -> the protocol's settings (below) ->
the method's preset for the space (:mod:`dartslib.methods.presets`) -> the scale (``toy``/``small`` shrink the data,
the network and the epochs; ``paper`` keeps the paper's setting) -> explicit overrides.

Protocols: the search setting a method's own values are laid over.

* ``"darts"`` (the default, on every space, NAS-Bench-201 included): DARTS' CIFAR-10 search setting
  (Liu et al., 2019, Sec. 3.1.1 and ``quark0/darts`` ``cnn/train_search.py``): SGD lr 0.025 with a per-epoch
  cosine to 0.001, momentum 0.9, weight decay 3e-4, batch 64, the alphas stepped before the weights, the
  training set split in halves (weights / alphas).
* ``"nb201"``: NAS-Bench-201's DARTS setting (Dong & Yang, 2020; ``D-X-Y/AutoDL-Projects``,
  ``configs/nas-benchmark/algos/DARTS.config`` and ``exps/algos/DARTS-V1.py``), from which the NB201
  numbers the papers quote for DARTS come: weight decay 5e-4, Nesterov momentum 0.9, the cosine (0.025 to
  0.001) updated every iteration, the weights stepped before the alphas, batch 64, 50 epochs, alphas Adam
  3e-4 betas (0.5, 0.999) weight decay 1e-3; on CIFAR-100 and ImageNet16-120 the weights train on the
  whole training set and the alphas on half of the test set (the benchmark's ``xvalid``; we draw a fixed
  seeded half, not its index file), on CIFAR-10 and digits on the two halves of the training set. NAS-Bench-201
  topology only. SP-DARTS' "unlisted settings are consistent with the default configurations of
  NAS-BENCH-201" (Zhang & Ding, 2023, Sec. IV) are this protocol: ``make_config("sp-darts", "nb201",
  protocol="nb201")``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from dartslib.methods import switches as _switches
from dartslib.methods.aux_skip import BETA_SCHEDULES
from dartslib.methods.switches import PROTOCOLS, UPDATE_SCHEMES
from dartslib.methods.zero_one import ZERO_ONE_KINDS
from dartslib.space.spaces import get_space

__all__ = ["SearchConfig", "SCALES", "PROTOCOLS", "UPDATE_SCHEMES", "ZERO_ONE_LOSSES", "AUX_SKIP_SCHEDULES",
           "scale_overrides", "protocol_overrides", "make_config"]

SCALES = ("toy", "small", "paper")
ZERO_ONE_LOSSES = (None, *ZERO_ONE_KINDS)  # the values of zero_one_loss, None: off (dartslib.methods.zero_one)
AUX_SKIP_SCHEDULES = (None, *BETA_SCHEDULES)  # the values of aux_skip, None: off (dartslib.methods.aux_skip)
LR_SCHEDULES = ("cosine", "cosine-step", "constant")
STEP_ORDERS = ("arch-first", "weights-first")


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
    lr_schedule: str = "cosine"     # per epoch; "cosine-step": per iteration (NAS-Bench-201); "constant"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 3e-4           # alphas: Adam
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    train_portion: float = 0.5      # first half of the training set trains weights, second half alphas
    protocol: str = "darts"         # "darts" or "nb201": the search setting (module docstring); it also
                                    # picks the data split (nb201 on CIFAR-100: alphas on half the test set)
    step_order: str = "arch-first"  # DARTS; "weights-first": NAS-Bench-201's DARTS-V1.py (bi-level updates)
    update: str = "bilevel-1st"     # see UPDATE_SCHEMES
    op_weights: str = "softmax"     # a name of OP_WEIGHT_FORMS: "softmax", "sigmoid" (FairDARTS), "sparse-smooth" ...
    arch_init: str = "randn"        # "randn" (1e-3 * N(0, 1)) or a constant, e.g. "0"
    # --- the methods' switches: their values are validated by the switches of dartslib.methods.switches.SWITCHES ---
    zero_one_loss: str | None = None  # None, "l01" (Chu et al., 2020, Eq. 7) or "l01-abs" (Eq. 9, the control)
    w01: float = 10.0               # weight of the zero-one loss (Chu et al., 2020, Eq. 8)
    aux_skip: str | None = None     # DARTS-: None or the beta schedule, see AUX_SKIP_SCHEDULES
    aux_skip_beta0: float = 1.0     # beta at the first epoch (Chu et al., 2021, Table 6)
    aux_skip_kind: str = "identity"  # "identity" (FactorizedReduce at stride 2) or "conv1x1" (the ablation)
    aux_skip_decay_epochs: int | None = None  # hold beta0, decay over the last N epochs only (long searches)
    skip_noise: bool = False        # "DARTS + Gaussian": N(0, std^2) added to skip_connect's output
    skip_noise_std: float = 1.0     # its std at the first epoch, cosine-decayed to 0 (Chu et al., 2020, Sec. 6.3)
    skip_noise_decay_epochs: int | None = None  # the cosine's T_max; None: the search's epochs (the paper's 50)
    t_sp: float = 1e-3              # "sparse-smooth" op weights: sparse temperature (Zhang & Ding, 2023, Eq. 9)
    t_sm: float | None = None       # smooth temperature; None: 10 * t_sp (Zhang & Ding, 2023, Tables II, IV)
    p_low: float = 0.0              # Zhang & Ding, 2023, Eq. 20: p rises linearly from p_low to p_up ...
    p_up: float = 1.0
    p_warmup_epochs: int = 1        # ... after this many epochs with p = 0 (i_wp)
    t_warmup: float | None = None   # temperature of the warm-up epochs; None: t_sm (Eq. 20), the code: 10
    derive: str | None = None       # None: "nb201" on NB201, else "darts"
    derive_options: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)  # knobs of registered switches that are no field
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
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr schedule {self.lr_schedule!r}; choose from: {', '.join(LR_SCHEDULES)}")
        if self.step_order not in STEP_ORDERS:
            raise ValueError(f"unknown step_order {self.step_order!r}; choose from: {', '.join(STEP_ORDERS)}")
        for name in ("epochs", "batch_size", "C", "layers", "cells_per_stage"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'epochs' else 'positive'} "
                                 f"integer, got {value!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= 2**63 - 2:  # torch seeds: 64 bits; seed + 1 used
            raise ValueError(f"seed must be an integer in [0, 2**63 - 2], got {self.seed!r}")
        for name in ("lr", "lr_min", "arch_lr", "momentum", "weight_decay", "arch_weight_decay", "grad_clip"):
            value = getattr(self, name)  # nan/inf would only surface as a traceback or a diverged search
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3.4e38:
                raise ValueError(f"{name} must be a finite non-negative number (float32: at most 3.4e38), "
                                 f"got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not 0.0 < self.train_portion < 1.0:
            raise ValueError(f"train_portion must be in (0, 1), got {self.train_portion}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps_per_epoch must be positive, got {self.max_steps_per_epoch}")
        self._validate_method_switches()

    def _validate_method_switches(self) -> None:
        """Every switch of :data:`dartslib.methods.switches.SWITCHES`: its values in range (from its knobs),
        then the combinations its check refuses; ``method_options`` may hold only the knobs that are no field."""
        for switch in _switches.SWITCHES.values():
            switch.validate(self)
        options = _option_knobs()
        if not isinstance(self.method_options, dict):
            raise ValueError(f"method_options must be a dict, got {self.method_options!r}")
        unknown = sorted(set(self.method_options) - set(options))
        if unknown:
            raise ValueError(f"method_options {', '.join(map(repr, unknown))}: not a knob of a registered switch "
                             f"(the switches' options: {', '.join(options) or 'none'})")

    @property
    def smooth_temperature(self) -> float:
        """SP-DARTS' t_sm: ``t_sm`` if set, else ``10 * t_sp`` (Zhang & Ding, 2023, Tables II and IV)."""
        return self.t_sm if self.t_sm is not None else 10.0 * self.t_sp

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


def _option_knobs() -> list[str]:
    """The knobs of the registered switches that are no :class:`SearchConfig` field: ``method_options`` keys."""
    fields = {f.name for f in dataclasses.fields(SearchConfig)}
    return [k.name for k in _switches.knobs() if k.into is None and k.name not in fields]


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


def protocol_overrides(protocol: str) -> dict[str, Any]:
    """What a protocol sets (see the module docstring); ``"darts"`` is the dataclass defaults."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from: {', '.join(PROTOCOLS)}")
    if protocol == "darts":
        return {}
    return {"protocol": "nb201", "lr": 0.025, "lr_min": 0.001, "lr_schedule": "cosine-step", "momentum": 0.9,
            "nesterov": True, "weight_decay": 5e-4, "batch_size": 64, "epochs": 50, "grad_clip": 5.0,
            "step_order": "weights-first", "arch_lr": 3e-4, "arch_betas": (0.5, 0.999), "arch_weight_decay": 1e-3}


def make_config(method: str = "darts", space: str = "darts", scale: str = "paper", **overrides: Any) -> SearchConfig:
    """Resolve defaults -> method preset -> scale -> ``overrides`` into a validated :class:`SearchConfig`.

    ``None`` values in ``overrides`` are ignored (so unset CLI flags fall through). The preset sees the data
    set the scale or the overrides choose (SP-DARTS tunes t_sp per data set), and may replace the space
    (``darts-noskip`` searches ``SPACE-noskip``). A knob of a registered switch that is no config field
    (:data:`dartslib.methods.switches.SWITCHES`) goes into ``method_options``.
    """
    from dartslib.methods.presets import preset_overrides  # methods import config; keep the cycle out of import time

    get_space(space)
    scaled = scale_overrides(scale, space)
    user = {k: v for k, v in overrides.items() if v is not None}
    dataset = user.get("dataset", scaled.get("dataset", SearchConfig.dataset))  # presets may depend on it
    values: dict[str, Any] = {"method": method, "space": space, "scale": scale}
    values.update(protocol_overrides(user.get("protocol", SearchConfig.protocol)))
    values.update(preset_overrides(method, space, dataset))
    values.update(scaled)
    options = {k: user.pop(k) for k in _option_knobs() if k in user}
    values.update(user)
    if options:
        values["method_options"] = {**values.get("method_options", {}), **options}
    return SearchConfig.from_dict(values)
