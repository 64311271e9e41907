"""What a method plugs into the search loop: :class:`SearchHook` and the contexts it reads (:class:`StepContext`
before a step, :class:`EpochContext` after an epoch); the config a switch reads (:class:`SearchSettings`); and how
a method switch is declared: a :class:`Switch` of :class:`Knob` values (:data:`dartslib.methods.switches.SWITCHES`).

A leaf module: it imports nothing of dartslib but, for annotations, :class:`dartslib.data.BatchIterator`. So the
method modules (:mod:`dartslib.methods.zero_one`, :mod:`dartslib.methods.aux_skip`, :mod:`dartslib.methods.skip_noise`,
:mod:`dartslib.methods.temperature`), the op-weight forms and the recorders import it without importing the search
loop :mod:`dartslib.engine.loop` or the config :mod:`dartslib.engine.config`, which import them. A hook is handed
what it may read (the model, the config, the batch streams, the output directory, the epoch), never the
:class:`~dartslib.engine.loop.Search` itself, and the config is typed by the protocol :class:`SearchSettings`, which
:class:`~dartslib.engine.config.SearchConfig` satisfies (``tests/test_hooks_context.py``).
"""
from __future__ import annotations

import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

if TYPE_CHECKING:
    from dartslib.data import BatchIterator

__all__ = ["SearchHook", "StepContext", "EpochContext", "SearchSettings", "Knob", "Switch", "shown",
           "HookedModels", "call_hooks", "arch_loss_terms"]


@runtime_checkable
class SearchSettings(Protocol):
    """The fields of a search's config that the layers below the engine read: the method switches
    (:mod:`dartslib.methods`), the op-weight forms (:mod:`dartslib.space.op_weights`) and the hooks.

    :class:`~dartslib.engine.config.SearchConfig` (in :mod:`dartslib.engine`, above those layers) satisfies it,
    with the same annotations; a module below the engine names the config by this protocol, so no import points
    upwards. A switch's knob that is no field lives in ``method_options``.
    """

    method: str
    space: str
    C: int
    epochs: int
    seed: int
    update: str
    op_weights: str
    arch_init: str
    protocol: str
    zero_one_loss: str | None
    w01: float
    aux_skip: str | None
    aux_skip_beta0: float
    aux_skip_kind: str
    aux_skip_decay_epochs: int | None
    skip_noise: bool
    skip_noise_std: float
    skip_noise_decay_epochs: int | None
    t_sp: float
    t_sm: float | None
    p_low: float
    p_up: float
    p_warmup_epochs: int
    t_warmup: float | None
    derive: str | None
    derive_options: dict[str, Any]
    method_options: dict[str, Any]

    @property
    def smooth_temperature(self) -> float:
        """SP-DARTS' smooth temperature (``t_sm``, else ``10 * t_sp``)."""


@dataclass
class StepContext:
    """What a hook may read about the step about to run."""

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int


@dataclass(frozen=True)
class EpochContext:
    """What a hook may read (and ask) at the end of an epoch (:meth:`SearchHook.on_epoch_end`).

    Attributes:
        model: the supernet (put into its evaluation state by every hook's ``eval_mode`` already).
        config: the search's config.
        epoch: epochs completed, the history record's ``"epoch"`` (1 after the first).
        epochs: the epochs of the search.
        steps_per_epoch: the steps of an epoch.
        train_batches: the weights' batches; ``train_batches.epoch(k)`` is pass ``k`` (a pure call).
        arch_batches: the alphas' batches, likewise (the validation half, or the training set for single-level
            updates); the search's own stream of them is not touched.
        held_out: the batches the epoch's accuracy is measured on (``held_out.epoch(0)``).
        out_dir: the run's directory (None: a search that writes nothing).
        request_stop: ask the search to stop after this epoch, saved (as Ctrl-C does).
    """

    model: nn.Module
    config: SearchSettings
    epoch: int
    epochs: int
    steps_per_epoch: int
    train_batches: BatchIterator
    arch_batches: BatchIterator
    held_out: BatchIterator
    out_dir: Path | None
    request_stop: Callable[[], None]


class SearchHook:
    """A method's few lines: override what it changes. All methods are no-ops here."""

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        """Called before the first step of every epoch (schedules: beta, noise std, p)."""

    def before_step(self, model: nn.Module, ctx: StepContext) -> None:
        """Called before every step (e.g. draw this step's softmax temperature)."""

    def arch_loss(self, model: nn.Module) -> torch.Tensor | None:
        """An extra term for the architecture loss (e.g. the zero-one loss), or None."""
        return None

    def eval_mode(self, model: nn.Module) -> None:
        """Put the supernet into the state its accuracy is reported in (e.g. the smooth temperature)."""

    def on_epoch_end(self, ctx: EpochContext, record: dict[str, Any]) -> None:
        """Called after each epoch's evaluation with the history record about to be saved; recorders
        (:mod:`dartslib.diagnostics.recording`) add their measurements to ``record`` or write files into
        ``ctx.out_dir``."""

    def describe(self) -> dict[str, Any]:
        """Values to record in the history each epoch (e.g. the current beta)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


HookedModels = Iterable[tuple[nn.Module, Sequence[SearchHook]]]
"""``(model, hooks)`` pairs: the hooks of a search and the supernet they act on (one pair for a search; one
per seed for the seed-batched search and the toy, whose hooks act on each seed's own supernet)."""


def call_hooks(models: HookedModels, method: str, *args: Any) -> None:
    """``hook.<method>(model, *args)`` for every hook of every ``(model, hooks)`` pair, in order: how every
    search calls ``on_epoch_start`` (``epoch, epochs``), ``before_step`` (a :class:`StepContext`) and
    ``eval_mode`` (no arguments)."""
    for model, hooks in models:
        for hook in hooks:
            getattr(hook, method)(model, *args)


def arch_loss_terms(models: HookedModels) -> list[Callable[[], torch.Tensor | None]]:
    """The architecture-loss terms of the hooks that have one (those that override
    :meth:`SearchHook.arch_loss`), each a callable ``() -> tensor`` on its own model, in order (the
    ``arch_loss_terms`` of :mod:`dartslib.engine.steps`)."""
    return [lambda hook=hook, model=model: hook.arch_loss(model) for model, hooks in models for hook in hooks
            if type(hook).arch_loss is not SearchHook.arch_loss]


# ------------------------------------------------------------------------------------------------ switches
_FLOAT32_MAX = 3.4e38
_SIGNS = ("positive", "non-negative")


class _ShortRepr(reprlib.Repr):
    """``reprlib`` with the limits of a one-line error; integers too long to print are described."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 192:  # repr of more than 4300 digits raises; anything this long is no size
            return f"<an integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_REPR = _ShortRepr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60
_REPR.maxlevel = 3


def shown(value: Any) -> str:
    """``repr`` of a user value, shortened for a one-line error (long text, deep nesting, huge integers)."""
    return _REPR.repr(value)


@dataclass(frozen=True, eq=False)  # choices may be a registry (a dict): compared and hashed by identity
class Knob:
    """One value of a method switch: the config field, what it may hold, and its command-line flag.

    :class:`~dartslib.engine.config.SearchConfig` validates the field from it (:meth:`validate`) and
    ``python -m dartslib search`` generates the flag from it (:meth:`parse` reads the flag's text), so the
    allowed values are written once. The flag is ``--`` + ``name`` with underscores as dashes unless ``flag``
    says otherwise; it defaults to None, "the preset's value".

    Attributes:
        name: the config field (a :class:`SearchConfig` field, else a key of ``config.method_options``: a new
            switch needs no new field) and the flag's ``argparse`` dest.
        help: the flag's help text.
        type: ``str``, ``float``, ``int`` or ``bool`` (a bool is a flag without value that sets True).
        choices: the allowed values, or a registry (a mapping: its keys, read when used, so a new entry is
            allowed at once).
        optional: None is allowed too (the switch is off, or a default computed elsewhere).
        sign: numbers: ``"positive"`` or ``"non-negative"`` (floats must also be finite and fit float32).
        maximum: numbers: the largest value allowed (a sane upper bound for sizes), or None.
        off: a word for None (``--zero-one none``, ``zero_one_loss="none"``):
            :func:`~dartslib.engine.config.make_config` sets the field to None, replacing the preset's value (a
            plain None leaves the preset's value).
        flag: the flag, when it is not the field's name (``--beta0`` for ``aux_skip_beta0``).
        metavar: the flag's metavar.
        check: further check of a value, raising ValueError naming the field.
        default: the value of a ``method_options`` knob that was not given.
        into: the flag sets part of this other field (``--max-skip`` sets ``derive_options``) through ``apply``;
            the knob is then no field of its own and the switch's check validates ``into``.
        apply: ``apply(current, value) -> changes``: :func:`~dartslib.engine.config.make_config` applies the
            value to the resolved config (``current``: field -> value), after the preset and the plain overrides,
            instead of setting the field; what it changes in other fields gives way to a field the caller set
            explicitly (``derive="darts", derive_options={...}`` keeps those options).
    """

    name: str
    help: str
    type: type = str
    choices: Sequence[Any] | Mapping[str, Any] | None = None
    optional: bool = False
    sign: str | None = None
    off: str | None = None
    flag: str | None = None
    metavar: str | None = None
    check: Callable[[Any], None] | None = None
    default: Any = None
    into: str | None = None
    apply: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.sign is not None and self.sign not in _SIGNS:
            raise ValueError(f"Knob {self.name}: sign must be one of {', '.join(_SIGNS)}, got {self.sign!r}")
        if self.type not in (str, float, int, bool):
            raise ValueError(f"Knob {self.name}: type must be str, float, int or bool, got {self.type!r}")

    @property
    def flag_name(self) -> str:
        """The command-line flag, e.g. ``--aux-skip-kind``."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def field(self) -> str:
        """The config field the flag sets (``into`` for a knob that sets part of another field)."""
        return self.into or self.name

    def allowed(self) -> tuple[Any, ...] | None:
        """The allowed values (without None), or None when any value of the type passes."""
        if self.choices is None:
            return None
        return tuple(self.choices.keys() if isinstance(self.choices, Mapping) else self.choices)

    def cli_choices(self) -> list[Any] | None:
        """The flag's ``argparse`` choices: the allowed values and the ``off`` word."""
        allowed = self.allowed()
        return None if allowed is None else [*allowed, *([self.off] if self.off else [])]

    def refusal(self, value: Any, cli: bool = False) -> str:
        """The one-line message refusing ``value`` (``cli``: None spelled as the flag's ``off`` word)."""
        allowed = self.allowed()
        if allowed is not None:
            shown = [str(a) for a in allowed]
            if self.optional and (self.off or not cli):
                shown.insert(0, self.off if cli and self.off else "None")
            return f"unknown {self.name} {_REPR.repr(value)}; choose from: {', '.join(shown)}"
        what = {bool: "True or False", str: "text", int: "integer", float: "number"}[self.type]
        if self.type in (int, float) and self.sign:
            what = f"{self.sign} {what}"
        if self.type is float:
            what = f"finite {what} (float32: at most 3.4e38)"
        if self.maximum is not None:
            what = f"{what} at most {self.maximum:g}" if self.type is float else f"{what} at most {self.maximum}"
        article = "" if self.type in (bool, str) else ("an " if what[0] in "aeiou" else "a ")
        none = (f" or {self.off!r}" if self.off else "") if cli else " or None"
        return f"{self.name} must be {article}{what}{none if self.optional else ''}, got {_REPR.repr(value)}"

    def validate_value(self, value: Any) -> None:
        """Raise ValueError (:meth:`refusal`, or ``check``'s message) unless ``value`` is allowed."""
        if value is None:
            if not self.optional:
                raise ValueError(self.refusal(value))
            return
        allowed = self.allowed()
        if allowed is not None:
            if value not in allowed:
                raise ValueError(self.refusal(value))
        elif self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(self.refusal(value))
        elif self.type in (int, float):
            number = isinstance(value, int) if self.type is int else isinstance(value, (int, float))
            if isinstance(value, bool) or not number or not abs(value) <= _FLOAT32_MAX:
                raise ValueError(self.refusal(value))
            if (self.sign == "positive" and not value > 0) or (self.sign == "non-negative" and not value >= 0):
                raise ValueError(self.refusal(value))
            if self.maximum is not None and value > self.maximum:
                raise ValueError(self.refusal(value))
        elif not isinstance(value, str) and self.check is None:  # a check may take other types (arch_init=0)
            raise ValueError(self.refusal(value))
        if self.check is not None:
            self.check(value)

    def get(self, config: SearchSettings) -> Any:
        """The knob's value in ``config`` (a field, else ``config.method_options``, else ``default``)."""
        if hasattr(config, self.name):
            return getattr(config, self.name)
        return getattr(config, "method_options", {}).get(self.name, self.default)

    def validate(self, config: SearchSettings) -> None:
        """Validate the knob's value in ``config`` (nothing for an ``into`` knob, whose switch checks that field,
        or for a ``method_options`` knob that was not given)."""
        if self.into is not None:
            return
        if not hasattr(config, self.name) and self.name not in getattr(config, "method_options", {}):
            return  # a method_options knob not given: its default
        self.validate_value(self.get(config))

    def parse(self, text: str) -> Any:
        """The value of the flag's text (the ``off`` word stays as it is); ValueError with :meth:`refusal`."""
        if self.off is not None and text == self.off:
            return text
        if self.type is int:
            try:
                value: Any = int(text)
            except ValueError:
                raise ValueError(self.refusal(text, cli=True)) from None
        elif self.type is float:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(self.refusal(text, cli=True)) from None
        else:
            value = text
        allowed = self.allowed()
        if allowed is not None and value not in allowed:
            raise ValueError(self.refusal(value, cli=True))
        try:
            self.validate_value(value)
        except ValueError as exc:  # the same message, with None spelled as the flag takes it
            raise ValueError(str(exc).replace(self.refusal(value), self.refusal(value, cli=True))) from None
        return value


@dataclass(frozen=True, eq=False)
class Switch:
    """A method switch, defined once, next to its mechanism: its config values (:class:`Knob`), the checks of
    their combinations, what it changes in the supernet and the hooks it adds to the search.

    Registered in :data:`dartslib.methods.switches.SWITCHES`, which :class:`~dartslib.engine.config.SearchConfig`
    (validation), :func:`dartslib.methods.presets.prepare_supernet`, :func:`dartslib.methods.presets.build_hooks`
    and the command line (one flag per knob) iterate.

    Attributes:
        name: the switch's name in the registry.
        knobs: its config values.
        summary: one line: what it switches (the mechanism and its paper).
        check: ``check(config)``: combinations that make no sense (ValueError naming the field), after every
            knob passed.
        prepare: ``prepare(supernet, config)``: changes to the supernet before the optimizers are built.
        hooks: ``hooks(config) -> list of SearchHook``: what the search loop calls (empty when the switch is off).
    """

    name: str
    knobs: tuple[Knob, ...]
    summary: str = ""
    check: Callable[[SearchSettings], None] | None = None
    prepare: Callable[[Any, SearchSettings], None] | None = None  # (the supernet, the config)
    hooks: Callable[[SearchSettings], list[SearchHook]] | None = None

    def validate(self, config: SearchSettings) -> None:
        """Raise ValueError naming the first bad field of this switch in ``config``."""
        for knob in self.knobs:
            knob.validate(config)
        if self.check is not None:
            self.check(config)

    def prepare_supernet(self, model: nn.Module, config: SearchSettings) -> None:
        """Apply ``prepare`` (if any) to ``model``."""
        if self.prepare is not None:
            self.prepare(model, config)

    def build_hooks(self, config: SearchSettings) -> list[SearchHook]:
        """The hooks this switch adds for ``config``, in the order they act."""
        return list(self.hooks(config)) if self.hooks is not None else []
