"""Search configuration: one flat dataclass, filled in from defaults, a scale, a method preset and the user.

Resolution order (later wins): DARTS defaults (Liu et al., 2019) -> the method's preset for the space
(:mod:`dartslib.methods`) -> the scale (``toy``/``small`` shrink the data, the network and the epochs;
``paper`` keeps the paper's setting) -> explicit overrides.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .derive import DERIVATION_RULES
from .op_weights import OP_WEIGHT_FORMS
from .spaces import get_space

__all__ = ["SearchConfig", "SCALES", "UPDATE_SCHEMES", "ZERO_ONE_LOSSES", "AUX_SKIP_SCHEDULES", "scale_overrides",
           "make_config"]

SCALES = ("toy", "small", "paper")
UPDATE_SCHEMES = ("bilevel-1st", "bilevel-2nd", "single-level", "same-subset")
ZERO_ONE_LOSSES = (None, "l01", "l01-abs")
AUX_SKIP_SCHEDULES = (None, "linear", "cosine", "step", "constant")
_DERIVE_OPTIONS = {"darts": ("max_skip",), "threshold": ("threshold", "max_edges"), "nb201": ()}


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
    op_weights: str = "softmax"     # "softmax", "sigmoid" (FairDARTS) or "sparse-smooth" (SP-DARTS)
    arch_init: str = "randn"        # "randn" (1e-3 * N(0, 1)) or a constant, e.g. "0"
    # --- the methods' switches (dartslib.methods); each one is read by one hook or one op-weight form ---
    zero_one_loss: str | None = None  # None, "l01" (fair-darts.md Eq. 7) or "l01-abs" (Eq. 9, the control)
    w01: float = 10.0               # weight of the zero-one loss (fair-darts.md Eq. 8)
    aux_skip: str | None = None     # DARTS-: None or the beta schedule, see AUX_SKIP_SCHEDULES
    aux_skip_beta0: float = 1.0     # beta at the first epoch (darts-minus.md Table 6)
    aux_skip_kind: str = "identity"  # "identity" (FactorizedReduce at stride 2) or "conv1x1" (the ablation)
    aux_skip_decay_epochs: int | None = None  # hold beta0, decay over the last N epochs only (long searches)
    skip_noise: bool = False        # "DARTS + Gaussian": N(0, std^2) added to skip_connect's output
    skip_noise_std: float = 1.0     # its std at the first epoch, cosine-decayed to 0 (fair-darts.md Sec. 6.3)
    t_sp: float = 1e-3              # "sparse-smooth" op weights: sparse temperature (sp-darts.md Eq. 9)
    t_sm: float | None = None       # smooth temperature; None: 10 * t_sp (sp-darts.md Tables II, IV)
    p_low: float = 0.0              # sp-darts.md Eq. 20: p rises linearly from p_low to p_up ...
    p_up: float = 1.0
    p_warmup_epochs: int = 1        # ... after this many epochs with p = 0 (i_wp)
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
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 0.0 < self.train_portion < 1.0:
            raise ValueError(f"train_portion must be in (0, 1), got {self.train_portion}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps_per_epoch must be positive, got {self.max_steps_per_epoch}")
        self._validate_method_switches()

    def _validate_method_switches(self) -> None:
        """The switches of :mod:`dartslib.methods`: values in range, combinations that make sense."""
        space = get_space(self.space)
        if self.op_weights not in OP_WEIGHT_FORMS:
            raise ValueError(f"unknown op_weights {self.op_weights!r}; choose from: {', '.join(OP_WEIGHT_FORMS)}")
        if self.arch_init != "randn":
            try:
                float(self.arch_init)
            except (TypeError, ValueError):
                raise ValueError(f"arch_init must be 'randn' or a number, got {self.arch_init!r}") from None
        if self.zero_one_loss not in ZERO_ONE_LOSSES:
            raise ValueError(f"unknown zero_one_loss {self.zero_one_loss!r}; choose from: None, "
                             f"{', '.join(z for z in ZERO_ONE_LOSSES if z)}")
        if not self.w01 >= 0:
            raise ValueError(f"w01 must be non-negative, got {self.w01}")
        if self.aux_skip not in AUX_SKIP_SCHEDULES:
            raise ValueError(f"unknown aux_skip schedule {self.aux_skip!r}; choose from: None, "
                             f"{', '.join(a for a in AUX_SKIP_SCHEDULES if a)}")
        if not self.aux_skip_beta0 >= 0:
            raise ValueError(f"aux_skip_beta0 must be non-negative, got {self.aux_skip_beta0}")
        if self.aux_skip_kind not in ("identity", "conv1x1"):
            raise ValueError(f"unknown aux_skip_kind {self.aux_skip_kind!r}; choose from: identity, conv1x1")
        if self.aux_skip_decay_epochs is not None and (not isinstance(self.aux_skip_decay_epochs, int)
                                                       or self.aux_skip_decay_epochs < 1):
            raise ValueError(f"aux_skip_decay_epochs must be a positive integer or None, "
                             f"got {self.aux_skip_decay_epochs!r}")
        if not self.skip_noise_std >= 0:
            raise ValueError(f"skip_noise_std must be non-negative, got {self.skip_noise_std}")
        if self.skip_noise and not any("skip_connect" in space.op_names(ct) for ct in space.cell_types):
            raise ValueError(f"skip_noise adds noise to skip_connect, but space {self.space!r} has no skip_connect")
        if not self.t_sp > 0:
            raise ValueError(f"t_sp must be positive, got {self.t_sp}")
        if self.t_sm is not None and not self.t_sm >= self.t_sp:
            raise ValueError(f"t_sm must be at least t_sp ({self.t_sp}), got {self.t_sm}")
        if not 0.0 <= self.p_low <= self.p_up <= 1.0:
            raise ValueError(f"p_low and p_up must satisfy 0 <= p_low <= p_up <= 1, got {self.p_low}, {self.p_up}")
        if not isinstance(self.p_warmup_epochs, int) or self.p_warmup_epochs < 0:
            raise ValueError(f"p_warmup_epochs must be a non-negative integer, got {self.p_warmup_epochs!r}")
        rule = self.derive or ("nb201" if space.topology == "nb201" else "darts")
        if rule not in DERIVATION_RULES:
            raise ValueError(f"unknown derive rule {rule!r}; choose from: {', '.join(DERIVATION_RULES)}")
        if (rule == "nb201") != (space.topology == "nb201"):
            raise ValueError(f"derive rule {rule!r} does not fit space {self.space!r} ({space.topology} topology)")
        unknown = sorted(set(self.derive_options) - set(_DERIVE_OPTIONS[rule]))
        if unknown:
            allowed = ", ".join(_DERIVE_OPTIONS[rule]) or "none"
            raise ValueError(f"derive_options {', '.join(unknown)} do not apply to the {rule!r} rule "
                             f"(it takes: {allowed})")
        max_skip = self.derive_options.get("max_skip")
        if max_skip is not None and (not isinstance(max_skip, int) or max_skip < 0):
            raise ValueError(f"derive_options max_skip must be a non-negative integer, got {max_skip!r}")

    @property
    def smooth_temperature(self) -> float:
        """SP-DARTS' t_sm: ``t_sm`` if set, else ``10 * t_sp`` (sp-darts.md Tables II and IV)."""
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

    ``None`` values in ``overrides`` are ignored (so unset CLI flags fall through). The preset sees the data
    set the scale or the overrides choose (SP-DARTS tunes t_sp per data set), and may replace the space
    (``darts-noskip`` searches ``SPACE-noskip``).
    """
    from .methods import preset_overrides  # methods import config; keep the cycle out of import time

    get_space(space)
    scaled = scale_overrides(scale, space)
    user = {k: v for k, v in overrides.items() if v is not None}
    dataset = user.get("dataset", scaled.get("dataset", SearchConfig.dataset))  # presets may depend on it
    values: dict[str, Any] = {"method": method, "space": space, "scale": scale}
    values.update(preset_overrides(method, space, dataset))
    values.update(scaled)
    values.update(user)
    return SearchConfig.from_dict(values)
