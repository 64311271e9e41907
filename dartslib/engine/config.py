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

from dartslib.data import DATASETS
from dartslib.hooks import Knob, shown
from dartslib.methods import switches as _switches
from dartslib.methods.switches import PROTOCOLS, UPDATE_SCHEMES
from dartslib.space.spaces import get_space

__all__ = ["SearchConfig", "SCALES", "PROTOCOLS", "UPDATE_SCHEMES", "scale_overrides", "protocol_overrides",
           "make_config", "override_names", "FIELDS", "field_knob", "validate_fields", "COMMON_FIELDS",
           "MAX_SEED", "MAX_C", "MAX_LAYERS", "MAX_IMAGE_SIZE", "MAX_BATCH_SIZE", "MAX_EPOCHS", "check_device"]

SCALES = ("toy", "small", "paper")
LR_SCHEDULES = ("cosine", "cosine-step", "constant")
STEP_ORDERS = ("arch-first", "weights-first")

# ------------------------------------------------------------------------------- the fields' declarations
MAX_SEED = 2**63 - 2   # torch seeds are 64-bit and the validation stream uses seed + 1
MAX_C = 1024           # sane upper bounds of the sizes: far above every paper's setting (C 16..48, 8..20 cells,
MAX_LAYERS = 100       # 5 cells per NB201 stage, 224-pixel images), far below what would exhaust the memory of
MAX_IMAGE_SIZE = 1024  # any machine before a single step; the combination is estimated before allocating
MAX_BATCH_SIZE = 65536  # (dartslib.engine.loop.Search, dartslib.cli count: the network is built on 'meta' first)
MAX_EPOCHS = 10**6
DEVICE_TYPES = ("cpu", "cuda", "mps")  # the device types a search or a training runs on


def check_device(value: Any) -> None:
    """``device``: ``"auto"``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (whether it exists here is checked
    when a run starts: :func:`dartslib.engine.loop.resolve_device`)."""
    import torch

    if not isinstance(value, str):
        raise ValueError(f"device must be text (auto, cpu, cuda, cuda:N, mps), got {shown(value)}")
    if value == "auto":
        return
    try:
        kind = torch.device(value).type
    except (RuntimeError, TypeError, ValueError):
        kind = None
    if kind not in DEVICE_TYPES:
        raise ValueError(f"device {shown(value)} is not a device a run can use; use auto, cpu, cuda, cuda:N or mps")


def _check_portion(value: Any) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"train_portion must be in (0, 1), got {shown(value)}")


def _check_betas(value: Any) -> None:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0.0 <= b < 1.0 for b in value))
    if not ok:
        raise ValueError(f"arch_betas must be two numbers in [0, 1) (Adam's betas), got {shown(value)}")


def _check_text(name: str) -> Any:
    def check(value: Any) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > 4096:
            raise ValueError(f"{name} must be non-empty text (at most 4096 characters), got {shown(value)}")
    return check


def _check_space(value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"space must be the name of a search space, got {shown(value)}")
    get_space(value)  # ValueError: "unknown space ..."


def _sizes(maximum_c: int = MAX_C) -> tuple[Knob, ...]:
    return (Knob("epochs", "epochs", type=int, sign="non-negative", maximum=MAX_EPOCHS),
            Knob("batch_size", "images per batch", type=int, sign="positive", maximum=MAX_BATCH_SIZE),
            Knob("C", "initial channels", type=int, sign="positive", maximum=maximum_c),
            Knob("layers", "cells of a DARTS network", type=int, sign="positive", maximum=MAX_LAYERS),
            Knob("image_size", "image side; None: the data set's", type=int, sign="positive", optional=True,
                 maximum=MAX_IMAGE_SIZE),
            Knob("seed", "random seed", type=int, sign="non-negative", maximum=MAX_SEED))


def _common() -> tuple[Knob, ...]:
    """The fields a search and a training share (and that ``sweep --set`` and the CLI flags set)."""
    rates = tuple(Knob(name, name, type=float, sign="non-negative")
                  for name in ("lr_min", "momentum", "weight_decay", "grad_clip"))
    return (Knob("dataset", "data set", choices=DATASETS), Knob("scale", "scale", choices=SCALES),
            *_sizes(), Knob("lr", "weights' learning rate", type=float, sign="positive"), *rates,
            Knob("nesterov", "Nesterov momentum", type=bool), Knob("augment", "augmentation", type=bool),
            Knob("device", "device", check=check_device),
            Knob("data_dir", "data root", optional=True, check=_check_text("data_dir")))


COMMON_FIELDS: tuple[Knob, ...] = _common()
"""The declarations of the fields a :class:`SearchConfig` and a :class:`~dartslib.engine.train.TrainConfig`
share."""

FIELDS: tuple[Knob, ...] = (
    Knob("method", "the method's name", check=_check_text("method")),
    Knob("space", "search space", check=_check_space),
    *COMMON_FIELDS,
    Knob("lr_schedule", "learning-rate schedule", choices=LR_SCHEDULES),
    Knob("arch_lr", "alphas' learning rate", type=float, sign="non-negative"),
    Knob("arch_betas", "alphas' Adam betas", check=_check_betas),
    Knob("arch_weight_decay", "alphas' weight decay", type=float, sign="non-negative"),
    Knob("train_portion", "share of the training set that trains the weights", type=float, sign="positive",
         check=_check_portion),
    Knob("step_order", "which steps first", choices=STEP_ORDERS),
    Knob("cells_per_stage", "cells per NB201 stage", type=int, sign="positive", maximum=MAX_LAYERS),
    Knob("max_steps_per_epoch", "cap on the steps of an epoch", type=int, sign="positive", optional=True),
)
"""The declarations of the :class:`SearchConfig` fields that no method switch declares (those are in
:data:`dartslib.methods.switches.SWITCHES`): type, range, upper bound. ``SearchConfig``, ``make_config``, the
command line's flags and ``sweep --set`` all validate through them (and the switches' knobs)."""


def field_knob(name: str, knobs: tuple[Knob, ...] = FIELDS) -> Knob | None:
    """The declaration of config field ``name`` (:data:`FIELDS`, else a switch's knob), or None."""
    for knob in (*knobs, *_switches.knobs()):
        if knob.name == name and knob.into is None:
            return knob
    return None


def validate_fields(config: object, knobs: tuple[Knob, ...]) -> None:
    """Check every field of ``config`` that ``knobs`` declares; ValueError naming the first bad one."""
    for knob in knobs:
        knob.validate_value(getattr(config, knob.name))


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
    aux_skip: str | None = None     # DARTS-: None or the beta schedule (dartslib.methods.aux_skip.BETA_SCHEDULES)
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
        """Raise ValueError naming the first bad field: every field's type, range and upper bound
        (:data:`FIELDS`, then the method switches' knobs), then the combinations the switches refuse."""
        validate_fields(self, FIELDS)
        if not isinstance(self.derive_options, dict):
            raise ValueError(f"derive_options must be a dict, got {self.derive_options!r}")
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
        """The config a checkpoint, ``spec.json`` or ``result.json`` stores, validated (ValueError naming the field)."""
        d = dict(check_config_dict(cls, d, "a search config"))
        if isinstance(d.get("arch_betas"), list):  # JSON has no tuples; anything else is refused by validate
            d["arch_betas"] = tuple(d["arch_betas"])
        return cls(**d)


def check_config_dict(cls: type, d: Any, what: str) -> dict[str, Any]:
    """``d`` if it is a dict whose keys are all fields of the dataclass ``cls``; ValueError otherwise (one line:
    ``what`` is a dict..., or the unknown keys). The shared first check of every ``from_dict``."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} is a dict of its fields, got {type(d).__name__}")
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(unknown)}")
    return d


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


_ARGUMENTS = ("method", "space", "scale")  # the fields make_config takes as its arguments, not as overrides


def override_names() -> list[str]:
    """Every name :func:`make_config` takes as an override: the :class:`SearchConfig` fields but ``method``,
    ``space`` and ``scale`` (its arguments), and every knob of a registered switch, those that are no field
    included (``max_skip``, the ``method_options`` keys). ``sweep --set`` takes these keys."""
    names = [f.name for f in dataclasses.fields(SearchConfig) if f.name not in _ARGUMENTS]
    return names + [k.name for k in _switches.knobs() if k.name not in names]


def make_config(method: str = "darts", space: str = "darts", scale: str = "paper", **overrides: Any) -> SearchConfig:
    """Resolve defaults -> protocol -> method preset -> scale -> ``overrides`` into a validated :class:`SearchConfig`.

    The one resolution of a search's config: the command line's flags (``python -m dartslib search``), a sweep's
    ``--set KEY=VALUE`` and Python calls all come here, so the same values give the same config. An override is
    a config field (:data:`FIELDS`) or a knob of a registered switch (:data:`dartslib.methods.switches.SWITCHES`):

    * ``None`` is ignored (an unset flag falls through to the preset); a knob's ``off`` word
      (``zero_one_loss="none"``) sets its field to None, replacing the preset's value;
    * a knob that is no config field goes into ``method_options``;
    * a knob with ``apply`` (``derive``, ``max_skip``) is checked, then applied to the resolved config after
      every plain override, in the registry's order; what it changes in another field gives way to a field set
      explicitly here (``derive="darts", derive_options={"max_skip": 2}`` keeps those options, where
      ``derive="darts"`` alone drops the preset's options for its own rule).

    The preset sees the data set the scale or the overrides choose (SP-DARTS tunes t_sp per data set), and may
    replace the space (``darts-noskip`` searches ``SPACE-noskip``). Raises ValueError naming the first bad field
    (or the unknown keys).
    """
    from dartslib.methods.presets import preset_overrides  # methods import config; keep the cycle out of import time

    get_space(space)
    scaled = scale_overrides(scale, space)
    knobs = {k.name: k for k in _switches.knobs()}
    user: dict[str, Any] = {}
    applied: list[tuple[int, Knob, Any]] = []  # (registry position, knob, value)
    for name, value in overrides.items():
        knob = knobs.get(name)
        if value is None:
            continue
        if knob is not None and knob.off is not None and value == knob.off:
            user[knob.field] = None
        elif knob is not None and knob.apply is not None:
            knob.validate_value(value)
            applied.append((list(knobs).index(name), knob, value))
        else:
            user[name] = value
    dataset = user.get("dataset", scaled.get("dataset", SearchConfig.dataset))  # presets may depend on it
    values: dict[str, Any] = {"method": method, "space": space, "scale": scale}
    values.update(protocol_overrides(user.get("protocol", SearchConfig.protocol)))
    values.update(preset_overrides(method, space, dataset))
    values.update(scaled)
    options = {k: user.pop(k) for k in _option_knobs() if k in user}
    values.update(user)
    if options:
        values["method_options"] = {**values.get("method_options", {}), **options}
    if applied:
        current = {f.name: _default(f) for f in dataclasses.fields(SearchConfig)}
        current.update(values)
        for _, knob, value in sorted(applied, key=lambda item: item[0]):
            changes = knob.apply(current, value)
            current.update({k: v for k, v in changes.items() if k == knob.field or k not in user})
        values = current
    return SearchConfig.from_dict(values)


def _default(f: dataclasses.Field) -> Any:
    """The default value of dataclass field ``f``."""
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default
