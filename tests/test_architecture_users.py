"""Every place outside :mod:`dartslib.arch` that reads an architecture reads it with
:func:`dartslib.arch.parse_architecture` (the command line, the training, the book's results), and the book's
results use the one IES, :func:`dartslib.diagnostics.measures.ies`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dartslib.arch import NB201Arch, parse_architecture
from dartslib.arch.genotype import Genotype
from dartslib.book import results
from dartslib.cli import main
from dartslib.diagnostics.measures import ies
from dartslib.engine.train import make_train_config

PACKAGE = Path(__file__).resolve().parents[1] / "dartslib"
CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
#: a wrong input index (node 2 lists ~1 first): malformed, yet split on '|' and '~' it gives six ops
WRONG_INDEX = "|nor_conv_3x3~0|+|skip_connect~1|skip_connect~0|+|none~0|none~1|none~2|"
#: the parsers and notation tests that only dartslib.arch may call; everyone else calls parse_architecture
SNIFFERS = ("is_nb201_arch", "parse_nb201_arch", "parse_genotype", "_is_nb201_text")


def sniffing(source: str) -> list[str]:
    """Where ``source`` tells the notations apart itself: a use of one of :data:`SNIFFERS` (re-exporting one by
    an import is no use), or text split on ``~`` or tested for a leading ``|``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in SNIFFERS:
                found.append(f"line {node.lineno}: {name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if (node.func.attr == "split" and "~" in args) or (node.func.attr == "startswith" and "|" in args):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:60]}")
    return found


def test_no_module_outside_arch_tells_the_notations_apart_itself():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "arch":
            continue
        found = sniffing(path.read_text())
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_the_sniffing_check_finds_the_old_ways():
    """Control: what ``cli.py``, ``engine/train.py`` and ``book/results.py`` did before is found."""
    old = ("def f(text):\n"
           "    (parse_nb201_arch if is_nb201_arch(text) else parse_genotype)(text.strip())\n"
           "    return [tok.split('~')[0] for tok in text.strip('|').split('|')], text.startswith('|')\n")
    assert len(sniffing(old)) == 5


def test_the_results_read_cells_with_the_parser():
    assert results.cell_ops(CONV) == ["nor_conv_3x3"] * 6
    assert results.cell_ops(" " + EMPTY) == ["none"] * 6  # a search may derive an all-none cell
    assert results.param_free_count(results.CONTROL_CELLS["ctrl-skip"]) == 6
    with pytest.raises(ValueError, match="wrong input index"):
        results.cell_ops(WRONG_INDEX)
    with pytest.raises(ValueError, match="NB201 architecture string"):
        results.cell_ops("DARTS_V2")
    # control: the hand parser the results used before took the malformed cell without a word
    hand = [tok.split("~")[0] for tok in WRONG_INDEX.strip().strip("|").replace("|+|", "|").split("|")]
    assert len(hand) == 6


def test_the_results_ies_is_the_library_ies():
    res = results.load_collapse_results()
    run = res.of("darts")[0]
    row = run.row()
    assert row["ies"] == ies({"cell": run.op_weights[-1]})
    assert row["ies_epoch1"] == ies({"cell": run.op_weights[0]})
    assert not hasattr(results, "_ies")
    # control: the epochs differ, so the two columns are not one value twice
    assert row["ies"] != row["ies_epoch1"]


def test_training_reads_its_genotype_with_the_parser():
    nb201 = make_train_config("  " + CONV, "toy")
    assert nb201.genotype == CONV and nb201.architecture == NB201Arch(("nor_conv_3x3",) * 6) and nb201.is_nb201
    darts = make_train_config("DARTS_V2", "toy")
    assert isinstance(darts.architecture, Genotype) and not darts.is_nb201
    assert darts.genotype == str(parse_architecture("DARTS_V2"))
    assert make_train_config(EMPTY, "toy").genotype == EMPTY  # accepted, as before
    with pytest.raises(ValueError, match="wrong input index"):
        make_train_config(WRONG_INDEX, "toy")
    # control: the parser refuses the empty cell unless asked, so accepting it above is a choice, not an accident
    with pytest.raises(ValueError, match="allow_empty"):
        parse_architecture(EMPTY)


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_count_and_train_read_the_genotype_with_the_parser(capsys):
    status, out, _ = run_main(capsys, "count", "--genotype", EMPTY)
    assert status == 0 and "73,306" in out  # the benchmark's all-none anchor (C=16, N=5)
    status, _, err = run_main(capsys, "count", "--genotype", WRONG_INDEX)
    assert status == 2 and "--genotype" in err and "wrong input index" in err and "position" in err
    status, _, err = run_main(capsys, "train", "--genotype", WRONG_INDEX)
    assert status == 2 and "--genotype" in err and "wrong input index" in err
    # control: a well-formed cell of the same shape counts
    fixed = WRONG_INDEX.replace("skip_connect~1|skip_connect~0", "skip_connect~0|skip_connect~1")
    status, out, _ = run_main(capsys, "count", "--genotype", fixed)
    assert status == 0 and "parameters:" in out
