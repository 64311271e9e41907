"""Method presets: a method is a named set of :class:`~dartslib.config.SearchConfig` settings plus the
hooks that change how op weights are formed or how steps are taken.

* ``darts``: DARTS, first order (Liu et al., 2019, Sec. 2.3 with xi = 0).
* ``darts-2nd``: DARTS, second order (the unrolled step, Liu et al., 2019, Eq. 6-8).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .spaces import get_space

__all__ = ["Method", "METHODS", "preset_overrides", "build_hooks"]


@dataclass(frozen=True)
class Method:
    """A preset: ``overrides(space_name) -> dict`` of config values, and a one-line description."""

    name: str
    description: str
    overrides: Callable[[str], dict[str, Any]] = field(default=lambda space: {})
    spaces: tuple[str, ...] | None = None  # None: every space


METHODS: dict[str, Method] = {
    "darts": Method("darts", "DARTS, first-order bi-level (Liu et al., 2019)",
                    lambda space: {"update": "bilevel-1st"}),
    "darts-2nd": Method("darts-2nd", "DARTS, second-order unrolled bi-level (Liu et al., 2019, Eq. 7-8)",
                        lambda space: {"update": "bilevel-2nd"}),
}


def preset_overrides(method: str, space: str) -> dict[str, Any]:
    """The config values method ``method`` sets on ``space``; unknown names raise ValueError."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from: {', '.join(METHODS)}")
    preset = METHODS[method]
    get_space(space)
    if preset.spaces is not None and space not in preset.spaces:
        raise ValueError(f"method {method!r} does not run on space {space!r}; it supports: "
                         f"{', '.join(preset.spaces)}")
    return preset.overrides(space)


def build_hooks(config: Any) -> list:
    """The search hooks a config asks for (none for plain DARTS)."""
    return []
