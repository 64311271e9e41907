"""One resolution of a search's config: ``python -m dartslib search`` flags, ``sweep --set KEY=VALUE`` and Python's
``make_config`` give the same :class:`SearchConfig` for the same values, a knob with ``apply`` (``derive``,
``max_skip``) and an ``off`` word (``--zero-one none``) included, and bad values stop each with one line.

Each equality has a control: the same input with one value changed gives another config, so the equality is not
that of three configs that ignore their input; and the old ways (``derive`` set as a plain field, ``max_skip``
refused by ``--set``) are shown to fail where the one resolution succeeds.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dartslib.cli import build_parser, main, search_config
from dartslib.engine.config import SearchConfig, make_config, override_names
from dartslib.sweep import parse_settings, plan

# (method, space, Python overrides, the search flags, the sweep's --set items): the same values three ways
CASES = {
    "max_skip and general fields": (
        "darts", "darts", {"max_skip": 1, "epochs": 3, "lr": 0.01, "C": 4, "seed": 2},
        ["--max-skip", "1", "--epochs", "3", "--lr", "0.01", "--C", "4", "--seed", "2"],
        ["max_skip=1", "epochs=3", "lr=0.01", "C=4"]),
    "derive replacing the preset's rule, the off word": (
        "fairdarts", "darts-nonone", {"derive": "darts", "zero_one_loss": "none", "seed": 2},
        ["--derive", "darts", "--zero-one", "none", "--seed", "2"],
        ["derive=darts", "zero_one_loss=none"]),
    "derive and max_skip together, in the registry's order": (
        "sp-darts", "darts", {"max_skip": 2, "derive": "darts", "t_sp": 0.01, "arch_lr": 0.003, "seed": 2},
        ["--max-skip", "2", "--derive", "darts", "--t-sp", "0.01", "--arch-lr", "0.003", "--seed", "2"],
        ["max_skip=2", "derive=\"darts\"", "t_sp=0.01", "arch_lr=0.003"]),
}


def from_cli(method: str, space: str, flags: list[str]) -> SearchConfig:
    args = build_parser().parse_args(["search", "--method", method, "--space", space, "--scale", "toy", *flags])
    return search_config(args)


def from_sweep(method: str, space: str, sets: list[str], seed: int = 2) -> SearchConfig:
    (run,) = plan([method], [space], [seed], "toy", parse_settings(sets))
    assert run.config is not None, run.reason
    return run.config


def from_python(method: str, space: str, overrides: dict[str, Any]) -> SearchConfig:
    return make_config(method, space, "toy", **overrides)


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_the_sweep_and_python_make_the_same_config(case):
    method, space, overrides, flags, sets = CASES[case]
    python = from_python(method, space, overrides)
    assert from_cli(method, space, flags) == python
    assert from_sweep(method, space, sets) == python
    # control: the input counts (the preset alone is another config) ...
    assert make_config(method, space, "toy", seed=2) != python
    # ... and one value changed on each path is another config
    assert from_cli(method, space, [*flags, "--seed", "3"]) != python
    assert from_sweep(method, space, sets, seed=3) != python
    assert from_python(method, space, {**overrides, "seed": 3}) != python


def test_max_skip_is_applied_the_same_way_everywhere():
    config = from_sweep("darts", "darts", ["max_skip=1"])
    assert config.derive_options == {"max_skip": 1}
    assert config == from_cli("darts", "darts", ["--max-skip", "1", "--seed", "2"])
    assert config == from_python("darts", "darts", {"max_skip": 1, "seed": 2})
    # control: max_skip is no config field; set as one (what --set did before) it is refused
    with pytest.raises(ValueError, match="unknown config keys: max_skip"):
        SearchConfig.from_dict({**make_config("darts", "darts", "toy").to_dict(), "max_skip": 1})


def test_derive_goes_through_its_apply_everywhere():
    """FairDARTS' preset derives by threshold with its options; ``derive=darts`` drops those options (the knob's
    ``apply``). Set as a plain field (what ``sweep --set`` did before), the options stay and the config is refused."""
    preset = make_config("fairdarts", "darts-nonone", "toy")
    assert preset.derive == "threshold" and preset.derive_options
    python = from_python("fairdarts", "darts-nonone", {"derive": "darts"})
    assert (python.derive, python.derive_options) == ("darts", {})
    assert from_sweep("fairdarts", "darts-nonone", ["derive=darts"], seed=0) == python
    assert from_cli("fairdarts", "darts-nonone", ["--derive", "darts"]) == python
    with pytest.raises(ValueError, match="do not apply to the 'darts' rule"):  # control: apply skipped
        dataclasses.replace(preset, derive="darts")


def test_a_field_given_explicitly_wins_over_what_an_apply_changes_besides_its_own_field():
    kept = make_config("fairdarts", "darts-nonone", "toy", derive="darts", derive_options={"max_skip": 2})
    assert kept.derive_options == {"max_skip": 2}
    same = from_sweep("fairdarts", "darts-nonone", ["derive=darts", 'derive_options={"max_skip": 2}'], seed=0)
    assert same == kept
    # max_skip's own field is derive_options: it is applied on top of explicit options
    both = make_config("darts", "darts", "toy", max_skip=1, derive_options={"max_skip": 2, "decimals": 3})
    assert both.derive_options == {"max_skip": 1, "decimals": 3}
    # control: without the explicit options, derive=darts drops the preset's
    assert make_config("fairdarts", "darts-nonone", "toy", derive="darts").derive_options == {}


def test_the_off_word_sets_none_and_none_keeps_the_preset():
    assert make_config("fairdarts", "darts-nonone", "toy").zero_one_loss == "l01"
    assert make_config("fairdarts", "darts-nonone", "toy", zero_one_loss="none").zero_one_loss is None
    assert from_sweep("fairdarts", "darts-nonone", ["zero_one_loss=none"]).zero_one_loss is None
    assert from_cli("fairdarts", "darts-nonone", ["--zero-one", "none"]).zero_one_loss is None
    # control: a plain None is "not given" (an unset flag), so the preset's value stays
    assert make_config("fairdarts", "darts-nonone", "toy", zero_one_loss=None).zero_one_loss == "l01"


def test_sweep_set_takes_every_override_but_seed():
    names = override_names()
    assert "max_skip" in names and "derive" in names and "epochs" in names
    assert not {"method", "space", "scale"} & set(names)
    assert set(parse_settings([f"{n}=1" for n in names if n != "seed"])) == set(names) - {"seed"}
    for item in ("seed=1", "method=darts", "scale=toy", "bogus=1", "epochs"):  # control: refused
        with pytest.raises(ValueError, match="--set"):
            parse_settings([item])


def run_main(capsys, *argv: Any) -> tuple[int, str, str]:
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


SWEEP = ["sweep", "--methods", "darts", "--spaces", "darts", "--seeds", "0", "--set", "C=4", "--set", "layers=2",
         "--set", "image_size=8", "--set", 'device="cpu"']


@pytest.mark.parametrize("cli, setting, python, words", [
    (["--max-skip", "-1"], "max_skip=-1", {"max_skip": -1}, ("max_skip", "non-negative")),
    (["--max-skip", "x"], "max_skip=\"x\"", {"max_skip": "x"}, ("max_skip", "integer")),
    (["--derive", "bogus"], "derive=bogus", {"derive": "bogus"}, ("derive", "bogus")),
    (["--epochs", "-3"], "epochs=-3", {"epochs": -3}, ("epochs",)),
    (["--lr", "nan"], "lr=NaN", {"lr": float("nan")}, ("lr",)),
])
def test_bad_values_are_one_line_errors_on_every_path(capsys, tmp_path, cli, setting, python, words):
    status, _, err = run_main(capsys, "search", "--space", "darts", "--scale", "toy", *cli, "--out", tmp_path / "a")
    assert status == 2 and cli[0] in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    status, _, err = run_main(capsys, *SWEEP, "--set", setting, "--out", tmp_path / "b")
    assert status == 2 and "--set" in err and words[0] in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match=words[0]):
        make_config("darts", "darts", "toy", **python)


def test_the_error_control_a_good_value_passes_every_path():
    """Control of the test above: the same flags and settings with good values make a config."""
    assert from_cli("darts", "darts", ["--max-skip", "1", "--derive", "darts", "--epochs", "3", "--lr", "0.1"])
    assert from_sweep("darts", "darts", ["max_skip=1", "derive=darts", "epochs=3", "lr=0.1"])
    assert make_config("darts", "darts", "toy", max_skip=1, derive="darts", epochs=3, lr=0.1)


def test_the_general_flags_are_parsed_by_their_field_declarations():
    """``--lr``, ``--arch-lr``, ``--seed``, ``--C`` ... take the type, range and bound of the field's Knob
    (:data:`dartslib.engine.config.FIELDS`), so the flag refuses what the config refuses, in its words."""
    from dartslib.engine.config import field_knob

    parser = build_parser()
    search = next(a for a in parser._actions if a.dest == "command").choices["search"]
    types = {a.dest: a.type for a in search._actions}
    for name in ("lr", "arch_lr", "seed", "C", "layers", "cells_per_stage", "batch_size"):
        knob = field_knob(name)
        assert types[name].__name__ == name, name
        with pytest.raises(Exception) as flag_error:
            types[name]("-1")
        with pytest.raises(ValueError) as field_error:
            knob.validate_value(knob.type(-1))
        assert str(flag_error.value) == str(field_error.value)
    # control: the value a field allows, the flag allows
    assert types["lr"]("0.5") == 0.5 and types["seed"]("7") == 7
