"""Method switches are defined once (dartslib.methods.switches.SWITCHES): the config's validation, the CLI's flags
and the hooks are generated from that one definition, and a new switch needs no edit of cli.py or config.py."""
from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from dartslib.cli import build_parser, main
from dartslib.engine.config import SearchConfig, make_config
from dartslib.hooks import Knob, SearchHook, Switch
from dartslib.methods import switches
from dartslib.methods.presets import build_hooks

PACKAGE = Path(__file__).resolve().parents[1] / "dartslib"
TINY = ["--space", "nb201", "--epochs", "1", "--C", "2", "--cells-per-stage", "1", "--batch-size", "512", "--quiet"]
#: the flags of the method switches before they were generated: each keeps its name
OLD_FLAGS = {"--update", "--op-weights", "--arch-init", "--zero-one", "--w01", "--aux-skip", "--beta0",
             "--aux-skip-kind", "--aux-skip-decay-epochs", "--skip-noise", "--skip-noise-std", "--t-sp", "--t-sm", "--p-low", "--p-up",
             "--p-warmup-epochs", "--t-warmup", "--skip-noise-decay-epochs", "--protocol", "--derive", "--max-skip"}


def _search_flags() -> dict[str, Any]:
    """``{flag: argparse action}`` of ``python -m dartslib search``'s method-switch group."""
    parser = build_parser()
    search = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "search")[1]
    group = next(g for g in search._action_groups if g.title.startswith("method switches"))
    return {flag: action for action in group._group_actions for flag in action.option_strings}


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------------------------------ the flags
def test_every_knob_is_a_generated_flag_with_its_choices_and_help():
    flags = _search_flags()
    knobs = switches.knobs()
    assert set(flags) == {k.flag_name for k in knobs}  # nothing in the group is declared by hand
    assert OLD_FLAGS <= set(flags)
    for knob in knobs:
        action = flags[knob.flag_name]
        assert action.dest == knob.name and action.help == knob.help and action.default is None
        if knob.type is bool:
            assert action.nargs == 0 and action.const is True
        elif knob.choices is not None:
            assert list(action.choices) == knob.cli_choices() and set(knob.allowed()) <= set(action.choices)
        else:
            assert action.choices is None
    assert list(flags["--op-weights"].choices) == list(switches.SWITCHES["op_weights"].knobs[0].choices)
    assert flags["--zero-one"].choices == ["l01", "l01-abs", "none"] and flags["--beta0"].dest == "aux_skip_beta0"


CHOICE_KNOBS = [k for k in switches.knobs() if k.choices is not None]
NUMBER_KNOBS = [k for k in switches.knobs() if k.type in (int, float) and k.sign is not None]


@pytest.mark.parametrize("knob", CHOICE_KNOBS, ids=lambda k: k.name)
def test_a_bad_choice_is_refused_in_one_line_naming_the_field_and_the_choices(capsys, knob):
    with pytest.raises(ValueError) as exc:
        make_config("darts", "nb201", **{knob.name: "bogus"})
    message = str(exc.value)
    assert message == knob.refusal("bogus") and len(message.splitlines()) == 1
    assert knob.name in message and all(str(choice) in message for choice in knob.allowed())
    status, _, err = _cli(capsys, "search", knob.flag_name, "bogus", *TINY)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert knob.flag_name in err and knob.refusal("bogus", cli=True) in err
    if not knob.optional:
        assert message in err  # the very message the config gives
    for choice in knob.allowed():  # control: every choice passes both
        knob.validate_value(choice)
        assert knob.parse(str(choice)) == choice


@pytest.mark.parametrize("knob", NUMBER_KNOBS, ids=lambda k: k.name)
def test_a_bad_number_is_refused_in_one_line_naming_the_field(capsys, knob):
    bad = -1 if knob.type is int else -1.0
    if knob.into is None:
        with pytest.raises(ValueError) as exc:
            make_config("darts", "nb201", **{knob.name: bad})
        assert str(exc.value).startswith(knob.name) and len(str(exc.value).splitlines()) == 1
    status, _, err = _cli(capsys, "search", knob.flag_name, "-1", *TINY)
    assert status == 2 and len(err.strip().splitlines()) == 1 and knob.flag_name in err
    assert knob.refusal(bad, cli=True) in err
    assert knob.parse("1") == 1  # control: a good value passes


def test_the_off_word_and_the_derive_flags_act_after_the_preset(capsys, tmp_path):
    status, _, _ = _cli(capsys, "search", "--method", "fairdarts", "--zero-one", "none", *TINY, "--out", str(tmp_path))
    assert status == 0
    config = json.loads((tmp_path / "result.json").read_text())["config"]
    assert config["zero_one_loss"] is None and config["op_weights"] == "sigmoid"  # the rest of the preset stays
    status, _, err = _cli(capsys, "search", "--method", "fairdarts", "--space", "darts-nonone", "--max-skip", "2",
                          *TINY[2:])
    assert status == 2 and "--max-skip" in err and "threshold" in err  # the preset's rule takes no max_skip


def test_sweep_set_reaches_the_switches(capsys, tmp_path):
    status, _, err = _cli(capsys, "sweep", "--methods", "darts", "--spaces", "nb201", "--set",
                          'aux_skip_kind="conv3x3"', "--out", str(tmp_path))
    knob = next(k for k in switches.knobs() if k.name == "aux_skip_kind")
    assert status == 2 and "--set" in err and knob.refusal("conv3x3") in err
    from dartslib.sweep import plan

    (run,) = plan(["darts"], ["nb201"], [0], "toy", {"aux_skip": "cosine", "aux_skip_kind": "conv1x1"})
    assert (run.config.aux_skip, run.config.aux_skip_kind) == ("cosine", "conv1x1")


# ------------------------------------------------------------------------------------------ a new switch
class ToyHook(SearchHook):
    def __init__(self, strength: float) -> None:
        self.strength = strength

    def describe(self) -> dict[str, Any]:
        return {"toy_strength": self.strength}


TOY_KNOB = Knob("toy_strength", "a toy switch's strength", type=float, sign="non-negative")
TOY = Switch("toy", knobs=(TOY_KNOB,), summary="a toy switch",
             hooks=lambda config: [] if TOY_KNOB.get(config) is None else [ToyHook(TOY_KNOB.get(config))])


def test_a_new_switch_needs_one_definition_and_one_registry_line(capsys, monkeypatch, tmp_path):
    assert "--toy-strength" not in _search_flags()  # control: not registered, no flag and no config value
    with pytest.raises(ValueError, match="toy_strength"):
        make_config("darts", "nb201", toy_strength=0.5)
    monkeypatch.setattr(switches, "SWITCHES", {**switches.SWITCHES, "toy": TOY})  # the one registry line

    flag = _search_flags()["--toy-strength"]
    assert flag.help == TOY_KNOB.help and flag.dest == "toy_strength"
    config = make_config("darts", "nb201", "toy", toy_strength=0.5)
    assert config.method_options == {"toy_strength": 0.5}
    assert [type(h) for h in build_hooks(config)] == [ToyHook] and build_hooks(config)[0].strength == 0.5
    assert build_hooks(make_config("darts", "nb201", "toy")) == []  # control: off unless given
    assert SearchConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="toy_strength must be"):
        make_config("darts", "nb201", toy_strength=-1.0)

    status, _, err = _cli(capsys, "search", "--toy-strength", "-2", *TINY)
    assert status == 2 and "--toy-strength" in err and TOY_KNOB.refusal(-2.0, cli=True) in err
    status, _, _ = _cli(capsys, "search", "--toy-strength", "0.25", *TINY, "--out", str(tmp_path))
    assert status == 0
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [r["toy_strength"] for r in history if "toy_strength" in r] == [0.25]  # the loop ran its hook
    for source in ("cli.py", "engine/config.py"):
        assert "toy_strength" not in (PACKAGE / source).read_text()


# ------------------------------------------------------------------------------------------ one list each
def _string_sets(source: str) -> Iterator[frozenset[str]]:
    """The strings of every tuple/list/set literal of at least two strings (None and the off word 'none'
    left out: ``(None, "l01", "l01-abs")`` and ``("l01", "l01-abs", "none")`` both list l01, l01-abs)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and all(
                isinstance(e, ast.Constant) and (e.value is None or isinstance(e.value, str)) for e in node.elts):
            strings = frozenset(e.value for e in node.elts if isinstance(e.value, str)) - {"none"}
            if len(strings) >= 2:
                yield strings


def literal_counts(root: Path = PACKAGE, skip: tuple[str, ...] = ("book",)) -> Counter:
    """How often each set of strings is written as a literal in the library's modules (the book's own code,
    ``dartslib/book``, left out)."""
    counts: Counter = Counter()
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] not in skip:
            counts.update(_string_sets(path.read_text()))
    return counts


OLD_DUPLICATES = [("identity", "conv1x1"), ("l01", "l01-abs"), ("linear", "cosine", "step", "constant"),
                  ("darts", "nb201"), ("bilevel-1st", "bilevel-2nd", "single-level", "same-subset")]


def test_no_allowed_value_list_is_written_twice():
    counts = literal_counts()
    for values in OLD_DUPLICATES:
        assert counts[frozenset(values)] == 1, values
    for knob in CHOICE_KNOBS:
        expected = 0 if isinstance(knob.choices, Mapping) else 1  # a registry's names are its keys
        assert counts[frozenset(map(str, knob.allowed()))] == expected, knob.name


def test_the_duplicate_counter_finds_a_copy(tmp_path):
    (tmp_path / "a.py").write_text('KINDS = ("identity", "conv1x1")\nLOSSES = (None, "l01", "l01-abs")\n')
    (tmp_path / "b.py").write_text('p.add_argument("--kind", choices=["identity", "conv1x1"])\n'
                                   'p.add_argument("--zero-one", choices=("l01", "l01-abs", "none"))\n')
    counts = literal_counts(tmp_path)
    assert counts[frozenset({"identity", "conv1x1"})] == 2 and counts[frozenset({"l01", "l01-abs"})] == 2
