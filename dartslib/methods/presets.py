"""Method presets: a method is a named set of :class:`~dartslib.engine.config.SearchConfig` settings (its paper's
hyperparameters per space) plus the hooks those settings switch on. Nothing here forks the search loop:
every mechanism is one switch of the config, read by one small module, and the switches combine
(``make_config("fairdarts", "darts-nonone", aux_skip="linear")`` is FairDARTS with DARTS-' auxiliary skip).
Each switch is a :class:`dartslib.hooks.Switch` defined next to its mechanism and registered in
:data:`dartslib.methods.switches.SWITCHES`, from which the config's validation and the CLI's flags are generated.

============================  ======================================================  ==========================
switch (config field)         mechanism                                               module
============================  ======================================================  ==========================
``op_weights``                softmax / sigmoid / sparse-smooth op weights            :mod:`dartslib.space.op_weights`
``update``                    bilevel-1st / bilevel-2nd / single-level / same-subset  :mod:`dartslib.engine.steps`
``zero_one_loss``, w01        FairDARTS' L01 or L'01 on the architecture loss         :mod:`dartslib.methods.zero_one`
``aux_skip`` ...              DARTS-' auxiliary skip with a decaying beta             :mod:`dartslib.methods.aux_skip`
``skip_noise`` ...            Gaussian noise on skip_connect's output                 :mod:`dartslib.methods.skip_noise`
``t_sp``, ``p_*`` ...         SP-DARTS' per-batch temperature draws                   :mod:`dartslib.methods.temperature`
``partial_channels`` ...      PC-DARTS' partial channels and edge normalisation       :mod:`dartslib.methods.pc_darts`
``derive``, derive_options    threshold rule, M-skip prior                            :mod:`dartslib.arch.derive`
============================  ======================================================  ==========================

The presets (``python -m dartslib search --method NAME``):

* ``darts`` / ``darts-2nd``: DARTS, first / second order (Liu et al., 2019, Sec. 2.3, Eq. 6-8).
  Their settings are the protocol's (:mod:`dartslib.engine.config`): by default DARTS' CIFAR-10 search setting on
  every space, NAS-Bench-201 included; ``protocol="nb201"`` (``--protocol nb201``) gives NAS-Bench-201's own
  DARTS setting (AutoDL's ``DARTS.config``), from which the NB201 numbers the papers quote for DARTS come.
* ``fairdarts``: FairDARTS (Chu et al., 2020, Eq. 6-10): sigmoid op weights, alphas
  initialised to 0 (sigma = 0.5), L01 with w01 = 10 added to every architecture step from the first epoch,
  first-order bi-level, threshold derivation (sigma >= 0.85, at most 2 edges per node, Sec. 5.1 and
  footnote 8). Search hyperparameters from the authors' code (``xiaomi-automl/FairDARTS``,
  ``fairdarts/train_search.py``): batch 128, weight lr 0.005
  cosine to 0.001, alphas Adam lr 3e-3, betas (0.9, 0.999), weight decay 1e-3, 50 epochs.
  Choices: (1) the paper says "similar hyperparameters as [DARTS]", the code's values above differ from
  DARTS' (lr 0.025, arch lr 3e-4, betas (0.5, 0.999), batch 64); we take the code's. (2) DARTS-topology
  spaces with ``none`` are refused: the code searches the 7 ops without none, and a sigmoid weight on an
  all-zero op gets no gradient, so it would sit at 0.5 and the threshold rule ignores none anyway. (3) On
  NB201 (not in the paper) we keep ``none`` and derive with NB201's argmax per edge over the sigmoid
  weights: ``none``'s alpha stays exactly 0 (zero gradient from the loss and from L01 at sigma = 0.5), so
  it acts as a threshold of 0.5 -- an edge becomes ``none`` when no op's gate ends above 0.5.
* ``darts-minus``: DARTS- (Chu et al., 2021, Eq. 4, Alg. 1): auxiliary skip, linear beta
  from beta0 = 1; otherwise DARTS' defaults ("we keep the same settings as in DARTS", Sec. 4.1). On NB201
  the auxiliary identities compound across nodes and cells (see :mod:`dartslib.methods.aux_skip`).
* ``sp-darts``: SP-DARTS (Zhang & Ding, 2023, Eq. 9-20, Alg. 1). DARTS-topology spaces, Table IV:
  t_sp = 1e-3, t_sm = 10 t_sp, p from 0 to 1 after 1 warm-up epoch, batch 80, weight lr 0.05 constant,
  alphas Adam lr 3e-4 without weight decay. NB201, Table II: t_sp = 1.1e-3 and p_up = 1 (CIFAR-10 and the
  other 10-class sets) or 1.3e-3 and 0.9 (CIFAR-100), batch 256, weight lr 0.05 constant, no alpha weight
  decay. The authors' code (``chaoji90/SP-DARTS``) agrees: its DARTS-space entry point
  ``SP-DARTS/train_search_mf.py`` has batch 80, weight lr 0.05 with floor 0.05 (constant) and alpha weight
  decay 0 (``SP-DARTS/train_search.py``, with lr 0.025 and derivation at temperature 1, is a plain-DARTS
  variant of it, not the method). The genotype is derived at t_sp as in ``train_search_mf.py`` (weights
  rounded to 4 decimals, ties between edges to the later input; on S1-S4, as its
  ``SmoothDARTS/sota/cnnmul`` scripts, 3 decimals and ties to the earlier input), see
  :class:`dartslib.space.op_weights.SparseSmoothWeights`. The p schedule, warm-up temperature, evaluation
  temperature and the code's NB201 deviations (t_sm = 11 t_sp, CIFAR-100's t_sp drop) are discussed in
  :mod:`dartslib.methods.temperature`. Choices: (1) Table IV's space is DARTS' without none (``darts-nonone``); we
  do not refuse ``darts`` (a softmax over none is well defined). (2) S1-S4 results (Table V) picked t_sp
  from {4e-4, ..., 7e-4} by validation (the S1-S4 script uses 3e-4); we keep Table IV's 1e-3. (3) Unlisted
  NB201 settings ("consistent with the default configurations of NAS-BENCH-201", Sec. IV) are dartslib's
  DARTS defaults unless ``protocol="nb201"`` is set (see :mod:`dartslib.engine.config`).
* ``single-darts``: Single-DARTS (Hou et al., 2021, Eq. 16): weights and alphas step together on the loss of
  the same training batch, the whole training split, no validation split, with sigmoid op weights (the
  paper's method: "we use sigmoid to replace softmax", Sec. 4.3; its NB201 headline numbers are Table 5's
  Sigmoid row, 94.36 / 73.51 %). Sec. 5.1.1 (NB201): 50 epochs, batch 64, SGD lr 0.005 momentum 0.9
  weight decay 3e-4 cosine, alphas Adam lr 3e-4 betas (0.5, 0.999); used on every space. Sec. 5.1.2 (the
  DARTS-space search): alphas initialised to -ln 7 (sigma = 1/8, "setting alpha = 0 could be worse than
  using softmax") and the alphas' weight decay 0 "to avoid extra gradients on zero operations"; we use both
  on every space (Table 5's "*" marks the alpha = 0 run, so its unstarred Sigmoid row is, presumably, the
  -ln 7 one; Table 6's "*" marks -ln 7 instead). The ablations of Table 5's
  activation rows: ``single-darts-softmax`` (the Softmax row: softmax op weights from DARTS' 1e-3 randn
  init, everything else as ``single-darts``) and ``single-darts-sigmoid-init0`` (the Sigmoid* row, "init
  alpha as 0", sigma = 0.5). ``single-darts-sigmoid`` is a deprecated alias of ``single-darts`` (it used
  to be sigmoid from -ln 7 with the alphas' weight decay 1e-3). On NB201 ``none``'s alpha gets no
  gradient from the loss, and with weight decay 0 nothing else moves it: its gate stays at 1/8 and acts
  as a threshold for the argmax (an edge derives ``none`` when every other gate ends below 1/8). With a
  non-zero alpha weight decay (L2 inside Adam) it would walk from -ln 7 to 0 at Adam's step size (about
  6500 steps at lr 3e-4), raising that threshold to 0.5. The Table 4 ablation: ``--update same-subset``
  (alphas on other batches of the same, whole training set) and ``--update bilevel-1st`` (different
  subsets, i.e. DARTS). Choice: the cosine's floor is not given; we keep 0.001.
* Baselines the papers compare with: ``darts-gaussian`` (noise on stride-1 skip_connect outputs, std 1
  cosine-decayed to 0 over the search's epochs; Chu et al., 2020, Sec. 6.3; paper and code compared in
  :mod:`dartslib.methods.skip_noise`), ``darts-m2`` (P-DARTS / DARTS+ prior: at most 2 skip connections in the
  normal cell, applied at derivation as P-DARTS' code does, see :func:`dartslib.arch.derive.derive_darts`; DARTS
  topology only), ``darts-noskip`` (the space without skip_connect,
  Chu et al., 2020, Sec. 6.1: ``--space darts`` and ``darts-nonone`` search ``darts-nonone-noskip``, the
  paper's 6-op S1 \\ {skip} without none and skip; ``nb201`` searches ``nb201-noskip``; ``--space
  darts-noskip``, DARTS' 8 ops less skip, stays available by name),
  ``darts-large-arch-lr`` (alphas' Adam lr 0.1, "DARTS-0.1" of Zhang & Ding, 2023, Table VI).
* ``gdas``: GDAS (Dong & Yang, 2019): hard Gumbel-softmax op weights, tau 10 -> 0.1 (:mod:`dartslib.space.gumbel`),
  with the schedule of the authors' code (``D-X-Y/AutoDL-Projects``, ``exps/NAS-Bench-201-algos/GDAS.py``):
  the weights stepped first, SGD lr 0.025 with a per-iteration cosine to 0.001, Nesterov momentum 0.9, weight
  decay 5e-4, gradient clip 5, alphas Adam lr 3e-4 betas (0.5, 0.999) weight decay 1e-3. NB201:
  ``configs/nas-benchmark/algos/GDAS.config`` (240 epochs -- an older version of the file has 200 -- batch 64)
  and NAS-Bench-201's data split (``protocol="nb201"``). DARTS-topology spaces:
  ``configs/search-opts/GDAS-NASNet-CIFAR.config`` (250 epochs, batch 256) and the code's cell derivation, the
  two strongest (op, input) pairs per node (:func:`dartslib.arch.derive.derive_gdas`). Departures: the code
  computes only the sampled op of each edge, so its alpha gradients differ from ours (see
  :mod:`dartslib.space.gumbel`); its DARTS-space network is its own NASNet-style one (N cells per stage, a
  final BN-ReLU), ours the DARTS supernet; it clips the gradient norm over all parameters, the alphas' included,
  we over the weights'; on DARTS-topology spaces with CIFAR-100 it trains the alphas on half the test set, we
  on half the training set. ``--op-weights gumbel`` alone keeps the rest of DARTS' settings (the protocol's).
* ``pc-darts``: PC-DARTS (Xu et al., 2020): partial channels with K = 4 and edge normalisation, the schedule of
  the authors' code (:mod:`dartslib.methods.pc_darts`, which lists the departures).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from dartslib.hooks import SearchHook, SearchSettings
from dartslib.methods import pc_darts
from dartslib.space.spaces import SPACES, get_space
from dartslib.space.supernet import Supernet

__all__ = ["Method", "METHODS", "preset_overrides", "build_hooks", "prepare_supernet"]

Overrides = Callable[..., dict[str, Any]]  # (space, dataset="cifar10") -> config values


@dataclass(frozen=True)
class Method:
    """A preset: ``overrides(space, dataset="cifar10") -> dict`` of config values, a one-line description,
    and the spaces it runs on (None: every space; ``overrides`` may also refuse one with a ValueError)."""

    name: str
    description: str
    overrides: Overrides = field(default=lambda space, dataset="cifar10": {})
    spaces: tuple[str, ...] | None = None


def _is_nb201(space: str) -> bool:
    return get_space(space).topology == "nb201"


def _fairdarts(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    s = get_space(space)
    if s.topology == "darts" and any("none" in s.op_names(ct) for ct in s.cell_types):
        raise ValueError(f"fairdarts searches without the none op (a sigmoid weight on an all-zero op never "
                         f"moves); space {space!r} has none: use --space darts-nonone")
    values: dict[str, Any] = {
        "update": "bilevel-1st", "op_weights": "sigmoid", "arch_init": "0", "zero_one_loss": "l01", "w01": 10.0,
        "epochs": 50, "batch_size": 128, "lr": 0.005, "lr_min": 0.001, "lr_schedule": "cosine",
        "arch_lr": 3e-3, "arch_betas": (0.9, 0.999), "arch_weight_decay": 1e-3}
    if s.topology == "darts":
        values.update(derive="threshold", derive_options={"threshold": 0.85, "max_edges": 2})
    return values


def _sp_darts(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    values: dict[str, Any] = {"update": "bilevel-1st", "op_weights": "sparse-smooth", "t_sm": None, "p_low": 0.0,
                              "p_warmup_epochs": 1, "lr": 0.05, "lr_schedule": "constant",
                              "arch_lr": 3e-4, "arch_weight_decay": 0.0}
    if _is_nb201(space):  # Table II
        cifar100 = dataset == "cifar100"
        values.update(t_sp=1.3e-3 if cifar100 else 1.1e-3, p_up=0.9 if cifar100 else 1.0, batch_size=256)
    else:  # Table IV; derived at t_sp as the authors' genotype(): rounded, ties to the later input (S1-S4:
        values.update(t_sp=1e-3, p_up=1.0, batch_size=80)  # 3 decimals, ties to the earlier input)
        robust = space in ("s1", "s2", "s3", "s4")
        values["derive_options"] = {"decimals": 3} if robust else {"decimals": 4, "edge_ties": "later"}
    return values


def _single_darts(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    return {"update": "single-level", "epochs": 50, "batch_size": 64, "lr": 0.005, "lr_min": 0.001,
            "lr_schedule": "cosine", "momentum": 0.9, "weight_decay": 3e-4, "arch_lr": 3e-4,
            "arch_betas": (0.5, 0.999), "arch_weight_decay": 0.0,       # Sec. 5.1.1, 5.1.2
            "op_weights": "sigmoid", "arch_init": repr(-math.log(7.0))}  # Sec. 4.3, 5.1.2: sigma = 1/8


def _single_darts_softmax(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    return {**_single_darts(space, dataset), "op_weights": "softmax", "arch_init": "randn"}  # Table 5, Softmax


def _single_darts_sigmoid_init0(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    return {**_single_darts(space, dataset), "arch_init": "0"}  # Table 5, Sigmoid*: "init alpha as 0"


def _single_darts_sigmoid_deprecated(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    warnings.warn("method 'single-darts-sigmoid' is deprecated: 'single-darts' now uses sigmoid op weights "
                  "from alpha = -ln 7 (Hou et al., 2021, Sec. 5.1.2); use 'single-darts' (or "
                  "'single-darts-softmax' for the softmax ablation)", FutureWarning, stacklevel=4)
    return _single_darts(space, dataset)


def _require_skip(method: str, what: str, space: str) -> None:
    s = get_space(space)
    if not any("skip_connect" in s.op_names(ct) for ct in s.cell_types):
        raise ValueError(f"{method} {what} skip_connect, which space {space!r} does not have")


def _darts_gaussian(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    _require_skip("darts-gaussian", "adds noise to", space)
    return {"update": "bilevel-1st", "skip_noise": True, "skip_noise_std": 1.0}


def _darts_m2(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    _require_skip("darts-m2", "limits the number of", space)
    return {"update": "bilevel-1st", "derive_options": {"max_skip": 2}}


def _gdas(space: str, dataset: str = "cifar10") -> dict[str, Any]:
    values: dict[str, Any] = {
        "update": "bilevel-1st", "op_weights": "gumbel", "step_order": "weights-first", "lr": 0.025,
        "lr_min": 0.001, "lr_schedule": "cosine-step", "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
        "grad_clip": 5.0, "arch_lr": 3e-4, "arch_betas": (0.5, 0.999), "arch_weight_decay": 1e-3}
    if _is_nb201(space):  # configs/nas-benchmark/algos/GDAS.config, with NAS-Bench-201's data split
        values.update(protocol="nb201", epochs=240, batch_size=64)
    else:  # configs/search-opts/GDAS-NASNet-CIFAR.config; the cell derived as the code's genotype()
        values.update(epochs=250, batch_size=256, derive="gdas", derive_options={})
    return values


def _noskip_space(space: str) -> str:
    """The space darts-noskip searches: ``SPACE-noskip``, except that ``darts`` maps to FairDARTS' 6-op
    S1 \\ {skip} (Chu et al., 2020, Sec. 6.1: its S1 is DARTS' space without none, so neither none nor skip)."""
    if space == "darts":
        return "darts-nonone-noskip"
    name = space if space.endswith("-noskip") else f"{space}-noskip"
    if name not in SPACES:
        supported = ", ".join(s[: -len("-noskip")] for s in SPACES if s.endswith("-noskip"))
        raise ValueError(f"darts-noskip has no skip-free version of space {space!r}; it supports: {supported}")
    return name


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("darts", "DARTS, first-order bi-level (Liu et al., 2019)",
           lambda space, dataset="cifar10": {"update": "bilevel-1st"}),
    Method("darts-2nd", "DARTS, second-order unrolled bi-level (Liu et al., 2019, Eq. 7-8)",
           lambda space, dataset="cifar10": {"update": "bilevel-2nd"}),
    Method("fairdarts", "FairDARTS: sigmoid op weights + zero-one loss, threshold derivation (Chu et al., 2020)",
           _fairdarts),
    Method("darts-minus", "DARTS-: auxiliary skip with linearly decaying beta (Chu et al., 2021, Eq. 4)",
           lambda space, dataset="cifar10": {"update": "bilevel-1st", "aux_skip": "linear", "aux_skip_beta0": 1.0}),
    Method("sp-darts", "SP-DARTS: per-batch sparse/smooth softmax temperature (Zhang & Ding, 2023, Eq. 9-20)",
           _sp_darts),
    Method("single-darts", "Single-DARTS: sigmoid op weights from -ln 7, weights and alphas on the same batch "
           "(Hou et al., 2021, Eq. 16, Sec. 5.1.2)", _single_darts),
    Method("single-darts-softmax", "Single-DARTS with softmax op weights (Hou et al., 2021, Table 5's Softmax row)",
           _single_darts_softmax),
    Method("single-darts-sigmoid-init0", "Single-DARTS with sigmoid op weights from alpha = 0 (Hou et al., 2021, "
           "Table 5's Sigmoid*)", _single_darts_sigmoid_init0),
    Method("single-darts-sigmoid", "deprecated alias of single-darts (now sigmoid from -ln 7 by default)",
           _single_darts_sigmoid_deprecated),
    Method("darts-gaussian", "DARTS + Gaussian noise on skip_connect, cosine-decayed (Chu et al., 2020, Sec. 6.3)",
           _darts_gaussian),
    Method("darts-m2", "DARTS with the M=2 skip prior at derivation (P-DARTS, DARTS+)",
           _darts_m2, spaces=tuple(name for name, s in SPACES.items() if s.topology == "darts")),
    Method("darts-noskip", "DARTS on the space without skip_connect (Chu et al., 2020, Sec. 6.1)",
           lambda space, dataset="cifar10": {"update": "bilevel-1st", "space": _noskip_space(space)}),
    Method("gdas", "GDAS: one Gumbel-sampled op per edge, its code's schedule and DARTS-space derivation "
           "(Dong & Yang, 2019)", _gdas),
    Method("pc-darts", "PC-DARTS: partial channels (K=4) and edge normalisation (Xu et al., 2020)", pc_darts.preset),
    Method("darts-large-arch-lr", "DARTS with alphas' lr 0.1 (\"DARTS-0.1\", Zhang & Ding, 2023, Table VI)",
           lambda space, dataset="cifar10": {"update": "bilevel-1st", "arch_lr": 0.1}),
)}


def preset_overrides(method: str, space: str, dataset: str = "cifar10") -> dict[str, Any]:
    """The config values method ``method`` sets on ``space`` (and ``dataset``, for presets whose paper tunes
    per data set); unknown names and combinations that make no sense raise ValueError."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from: {', '.join(METHODS)}")
    preset = METHODS[method]
    get_space(space)
    if preset.spaces is not None and space not in preset.spaces:
        raise ValueError(f"method {method!r} does not run on space {space!r}; it supports: "
                         f"{', '.join(preset.spaces)}")
    return preset.overrides(space, dataset)


def build_hooks(config: SearchSettings) -> list[SearchHook]:
    """The search hooks a config switches on, in the order they act (none for plain DARTS): those of every
    switch of :data:`dartslib.methods.switches.SWITCHES`, in the registry's order."""
    from dartslib.methods import switches

    hooks: list = []
    for switch in switches.SWITCHES.values():  # a loop, not a comprehension: the switches' warnings name our caller
        hooks.extend(switch.build_hooks(config))
    return hooks


def prepare_supernet(model: Supernet, config: SearchSettings) -> None:
    """What a config changes in the supernet itself, before the optimizers are built (e.g. the SP-DARTS form
    with the config's temperatures, DARTS-' auxiliary branches, whose weights train with the network's): every
    switch of :data:`dartslib.methods.switches.SWITCHES` in the registry's order."""
    from dartslib.methods import switches

    for switch in switches.SWITCHES.values():
        switch.prepare_supernet(model, config)
