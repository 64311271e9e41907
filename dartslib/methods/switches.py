"""The registry of method switches: :data:`SWITCHES`, one line per switch.

A switch (:class:`dartslib.hooks.Switch`) is defined once, next to its mechanism: its config values
(:class:`dartslib.hooks.Knob`: field, allowed values, help), the checks of their combinations, what it changes
in the supernet and its search hooks. Everything else iterates this registry:
:class:`~dartslib.engine.config.SearchConfig` validates every knob, :func:`dartslib.methods.presets.prepare_supernet`
and :func:`dartslib.methods.presets.build_hooks` apply every switch in the registry's order, and
``python -m dartslib search`` has one generated flag per knob (``--aux-skip-kind`` for ``aux_skip_kind``), with
its choices and help. A new switch is one module defining a ``Switch`` and one line below; a knob that is not a
:class:`SearchConfig` field lives in ``config.method_options``.

The switches whose mechanism sits above this layer (``update``: :mod:`dartslib.engine.steps` and
:mod:`dartslib.engine.loop`; ``protocol``: :func:`dartslib.engine.config.protocol_overrides`) or in
:mod:`dartslib.arch.derive` (``derive``) are defined here, with their allowed values.
"""
from __future__ import annotations

import math
from typing import Any

from dartslib.arch.derive import DERIVATION_RULES, EDGE_TIES
from dartslib.hooks import Knob, SearchSettings, Switch
from dartslib.methods.aux_skip import AUX_SKIP_SWITCH
from dartslib.methods.pc_darts import PC_DARTS_SWITCH
from dartslib.methods.skip_noise import SKIP_NOISE_SWITCH
from dartslib.methods.temperature import TEMPERATURE_SWITCH
from dartslib.methods.zero_one import ZERO_ONE_SWITCH
from dartslib.space.op_weights import OP_WEIGHTS_SWITCH
from dartslib.space.spaces import get_space

__all__ = ["SWITCHES", "UPDATE_SCHEMES", "PROTOCOLS", "DERIVE_OPTIONS", "knobs", "UPDATE_SWITCH",
           "ARCH_INIT_SWITCH", "PROTOCOL_SWITCH", "DERIVE_SWITCH"]

UPDATE_SCHEMES = ("bilevel-1st", "bilevel-2nd", "single-level", "same-subset")
PROTOCOLS = ("darts", "nb201")
DERIVE_OPTIONS = {"darts": ("max_skip", "decimals", "edge_ties"), "threshold": ("threshold", "max_edges"),
                  "nb201": (), "gdas": ()}
"""The ``derive_options`` each derivation rule takes (:func:`dartslib.arch.derive.derive`)."""

UPDATE_SWITCH = Switch(
    "update", summary="how weights and alphas step (dartslib.engine.steps)",
    knobs=(Knob("update", "how weights and alphas step: DARTS' bi-level (1st/2nd order), Single-DARTS' "
                "single-level, or alphas on other batches of the same data (Single-DARTS Table 4)",
                choices=UPDATE_SCHEMES),))


def _check_arch_init(value: Any) -> None:
    if value == "randn":
        return
    try:
        finite = math.isfinite(float(value)) and abs(float(value)) <= 3.4e38
    except (TypeError, ValueError, OverflowError):
        finite = False
    if not finite:
        raise ValueError(f"arch_init must be 'randn' or a finite number, got {value!r}")


ARCH_INIT_SWITCH = Switch(
    "arch_init", summary="the alphas' initial value (dartslib.space.supernet)",
    knobs=(Knob("arch_init", "alphas' initial value: 'randn' (1e-3 N(0,1)) or a number, e.g. 0 or -1.9459 (-ln 7)",
                metavar="VALUE", check=_check_arch_init),))


def _check_protocol(config: SearchSettings) -> None:
    if config.protocol == "nb201" and get_space(config.space).topology != "nb201":
        raise ValueError(f"protocol 'nb201' is NAS-Bench-201's search setting; space {config.space!r} is not "
                         f"an NAS-Bench-201 space")


PROTOCOL_SWITCH = Switch(
    "protocol", summary="the search setting under the method (dartslib.engine.config)",
    knobs=(Knob("protocol", "search setting under the method: darts (default, DARTS' CIFAR search) or nb201 "
                "(NAS-Bench-201's DARTS.config: wd 5e-4, Nesterov, per-iteration cosine, weights stepped first, "
                "CIFAR-100: alphas on half the test set)", choices=PROTOCOLS),),
    check=_check_protocol)


def _check_derive(config: SearchSettings) -> None:
    space = get_space(config.space)
    rule = config.derive or ("nb201" if space.topology == "nb201" else "darts")
    if (rule == "nb201") != (space.topology == "nb201"):
        raise ValueError(f"derive rule {rule!r} does not fit space {config.space!r} ({space.topology} topology)")
    options = config.derive_options
    unknown = sorted(set(options) - set(DERIVE_OPTIONS[rule]))
    if unknown:
        allowed = ", ".join(DERIVE_OPTIONS[rule]) or "none"
        raise ValueError(f"derive_options {', '.join(unknown)} do not apply to the {rule!r} rule "
                         f"(it takes: {allowed})")
    for name in ("max_skip", "decimals"):
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"derive_options {name} must be a non-negative integer, got {value!r}")
    if options.get("edge_ties", EDGE_TIES[0]) not in EDGE_TIES:
        raise ValueError(f"derive_options edge_ties must be one of: {', '.join(EDGE_TIES)}, "
                         f"got {options['edge_ties']!r}")


def _apply_derive(current: dict[str, Any], rule: str) -> dict[str, Any]:
    if rule == current["derive"]:
        return {}
    return {"derive": rule, "derive_options": {}}  # the preset's options were for its rule


def _apply_max_skip(current: dict[str, Any], max_skip: int) -> dict[str, Any]:
    return {"derive_options": {**current["derive_options"], "max_skip": max_skip}}


DERIVE_SWITCH = Switch(
    "derive", summary="the derivation rule and its options: threshold rule, M-skip prior (dartslib.arch.derive)",
    knobs=(Knob("derive", "derivation rule", choices=DERIVATION_RULES, optional=True, apply=_apply_derive),
           Knob("max_skip", "at most M skip connections in the normal cell at derivation (P-DARTS/DARTS+ use 2)",
                type=int, sign="non-negative", metavar="M", into="derive_options", apply=_apply_max_skip)),
    check=_check_derive)

SWITCHES: dict[str, Switch] = {s.name: s for s in (  # prepare_supernet and build_hooks apply them in this order
    UPDATE_SWITCH,
    OP_WEIGHTS_SWITCH,          # dartslib.space.op_weights
    ARCH_INIT_SWITCH,
    TEMPERATURE_SWITCH,         # dartslib.methods.temperature
    AUX_SKIP_SWITCH,            # dartslib.methods.aux_skip
    SKIP_NOISE_SWITCH,          # dartslib.methods.skip_noise
    ZERO_ONE_SWITCH,            # dartslib.methods.zero_one
    PC_DARTS_SWITCH,            # dartslib.methods.pc_darts
    PROTOCOL_SWITCH,
    DERIVE_SWITCH,
)}


def knobs() -> list[Knob]:
    """Every knob of every registered switch (of :data:`SWITCHES` as it is now), in the registry's order."""
    return [knob for switch in SWITCHES.values() for knob in switch.knobs]
