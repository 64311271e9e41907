"""One architecture type: parse_architecture tells DARTS genotypes and NB201 strings apart; both kinds have
.edges(cell), a round-tripping str(), equality and the allow_empty check."""
from __future__ import annotations

import itertools
import pickle
import random
import re
from collections import namedtuple

import numpy as np
import pytest

import dartslib
from dartslib.arch import NB201Arch, parse_architecture
from dartslib.arch.genotype import (Genotype, format_genotype, genotype_edges, parse_genotype,
                                    published_genotype, published_metadata, published_names)
from dartslib.arch.nb201 import format_nb201_arch, is_nb201_arch, parse_nb201_arch
from dartslib.diagnostics.measures import cell_edges, genotype_op_counts, one_hot_op_weights, skip_count
from dartslib.space.spaces import NB201_EDGES, NB201_OPS, get_space

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EMPTY_DARTS = "Genotype(normal=[], normal_concat=[2, 3, 4, 5], reduce=[], reduce_concat=[2, 3, 4, 5])"
ONE_EMPTY_CELL = ("Genotype(normal=[('skip_connect', 2, 0), ('sep_conv_3x3', 4, 2)], normal_concat=range(2, 6), "
                  "reduce=[], reduce_concat=[2])")


def test_the_top_level_exports_it():
    assert dartslib.parse_architecture is parse_architecture and "parse_architecture" in dartslib.__all__


# ------------------------------------------------------------------------------------------ round trips

@pytest.mark.parametrize("name", published_names())
def test_published_genotypes_round_trip(name):
    arch = parse_architecture(name)
    assert isinstance(arch, Genotype) and arch == published_genotype(name)
    text = str(arch)
    assert text == format_genotype(arch) == published_metadata(name)["genotype"]  # the text dartslib writes
    assert parse_architecture(text) == arch and str(parse_architecture(text)) == text


def test_nb201_strings_round_trip():
    cells = list(itertools.product(NB201_OPS, repeat=6))
    for ops in random.Random(1).sample(cells, 200) + [("skip_connect",) * 6, ("none",) * 6]:
        text = format_nb201_arch(ops)
        arch = parse_architecture(text, allow_empty=True)
        assert isinstance(arch, NB201Arch) and arch.ops == ops
        assert str(arch) == text and parse_architecture(str(arch), allow_empty=True) == arch


def test_equality():
    assert parse_architecture(EXAMPLE) == parse_architecture(f"  {EXAMPLE}\n") == NB201Arch(parse_nb201_arch(EXAMPLE))
    assert parse_architecture(EXAMPLE) != parse_architecture(ALL_SKIP)
    assert parse_architecture("DARTS_V2") == parse_architecture("DARTS") != parse_architecture("DARTS_V1")
    assert parse_architecture(ALL_SKIP) != parse_architecture("DARTS_V2")
    assert hash(parse_architecture(EXAMPLE)) == hash(parse_architecture(EXAMPLE))


# ------------------------------------------------------------------------------------------ the two kinds

def test_returns_the_right_kind():
    assert isinstance(parse_architecture(EXAMPLE), NB201Arch)
    assert isinstance(parse_architecture("\n\t" + EXAMPLE), NB201Arch)
    assert isinstance(parse_architecture("DARTS_V2"), Genotype)
    assert isinstance(parse_architecture(published_metadata("FairDARTS_a")["genotype"]), Genotype)
    assert (parse_architecture(EXAMPLE).topology, parse_architecture("PDARTS").topology) == ("nb201", "darts")
    assert parse_architecture(EXAMPLE).cells == ("cell",) and parse_architecture("PDARTS").cells == ("normal", "reduce")
    for name in ("DARTS_V2", EXAMPLE):  # is_nb201_arch agrees with the kind parse_architecture returns
        assert is_nb201_arch(name) == isinstance(parse_architecture(name), NB201Arch)
    assert is_nb201_arch(parse_architecture(EXAMPLE)) and not is_nb201_arch(parse_architecture("DARTS_V2"))


def test_architectures_pass_through():
    g = published_genotype("DARTS_V2")
    assert parse_architecture(g) is g
    nb = parse_architecture(EXAMPLE)
    assert parse_architecture(nb) is nb
    Foreign = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")  # a DARTS repository's own
    foreign = parse_architecture(Foreign(*g))
    assert type(foreign) is Genotype and foreign == g and foreign.edges("normal") == g.edges("normal")
    with pytest.raises(ValueError, match="unknown op 'bogus'"):
        parse_architecture(g._replace(normal=[("bogus", 0)] + g.normal[1:]))
    with pytest.raises(ValueError, match="expected architecture text"):
        parse_architecture(42)  # type: ignore[arg-type]


def test_genotype_is_still_the_namedtuple():
    g = published_genotype("DARTS_V2")
    assert isinstance(g, tuple) and g._fields == ("normal", "normal_concat", "reduce", "reduce_concat")
    normal, normal_concat, reduce, reduce_concat = g
    assert g == (normal, normal_concat, reduce, reduce_concat) and len(g) == 4
    assert type(g._replace(normal_concat=[2, 3])) is Genotype and type(Genotype._make(g)) is Genotype
    assert pickle.loads(pickle.dumps(g)) == g and type(pickle.loads(pickle.dumps(g))) is Genotype
    assert repr(g) == str(g)  # list-built: the canonical text is the namedtuple's repr


def test_str_is_canonical_for_numpy_ints_and_tuples():
    g = Genotype((("sep_conv_3x3", np.int64(0)), ("skip_connect", np.int64(1))), (np.int64(2),),
                 [("max_pool_3x3", 0), ("max_pool_3x3", 1)], range(2, 3))
    assert "np." not in str(g) and str(g) == format_genotype(g)
    assert str(parse_architecture(str(g))) == str(g)
    odd = Genotype([("skip_connect", "x")], [2], [], [2])  # not formattable: str falls back to the repr
    assert str(odd) == repr(odd)


# ---------------------------------------------------------------------------------------------- errors

_UNCLOSED = ("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[2], "
             "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2]")
_NO_TILDE = EXAMPLE.replace("skip_connect~0", "skip_connect0")
_DARTS_OP = " " + EXAMPLE.replace("skip_connect", "sep_conv_3x3")
_NO_BAR = EXAMPLE.replace("|+|nor", "|+nor", 1)


@pytest.mark.parametrize("text, message, at", [
    (_UNCLOSED, "expected ',' or ')' at position {}, got end of text", len(_UNCLOSED)),
    ("Genotype(normal=[('sep_conv_3x3' 0)])", "expected ',' or ')' closing normal[0] at position {}, got '0'", 33),
    ("Genotype(normal=[('sep_conv_9x9', 0)])", "unknown op 'sep_conv_9x9' in normal[0] at position {}", 18),
    ("__import__('os')", "expected 'Genotype(' at position {}", 0),
    (_NO_TILDE, "malformed entry in node 3 entry 'skip_connect0' at position {}: expected op~input",
     _NO_TILDE.index("skip_connect0")),
    (_DARTS_OP, "unknown NAS-Bench-201 op 'sep_conv_3x3' in node 3 entry 'sep_conv_3x3~0' at position {}; known ops",
     _DARTS_OP.index("sep_conv_3x3~0")),
    (_NO_BAR, "node 2 group 'nor_conv_3x3~0|nor_conv_3x3~1|' must be written |op~0|...| (at position {})",
     _NO_BAR.index("+") + 1),
    (EXAMPLE + "+|none~0|", "the extra group starts at position {}", len(EXAMPLE) + 1),
])
def test_malformed_text_gives_the_position_and_what_was_expected(text, message, at):
    with pytest.raises(ValueError) as error:
        parse_architecture(text)
    assert message.format(at) in str(error.value)


def test_errors_are_those_of_the_notation_s_own_parser():
    """Control: the same messages as parse_genotype / parse_nb201_arch, so the text went to the right parser."""
    for text, parse in [("Genotype(normal=[(OPS, 0)])", parse_genotype), ("NoSuchNet", parse_genotype),
                        (EXAMPLE.replace("~1|+", "~2|+", 1), parse_nb201_arch), ("|nor_conv_3x3~0|", parse_nb201_arch)]:
        with pytest.raises(ValueError) as own:
            parse(text)
        with pytest.raises(ValueError) as through:
            parse_architecture(text)
        assert str(through.value) == str(own.value)
    assert is_nb201_arch("|bogus") and not is_nb201_arch("Genotype(") and not is_nb201_arch(42)


# ----------------------------------------------------------------------------------------- allow_empty

def test_allow_empty_refuses_and_permits():
    with pytest.raises(ValueError, match="'none' on all 6 edges.*allow_empty=True"):
        parse_architecture(ALL_NONE)
    assert parse_architecture(ALL_NONE, allow_empty=True).ops == ("none",) * 6
    with pytest.raises(ValueError, match=r"the normal cell has no edge \(at position 16\).*allow_empty=True"):
        parse_architecture(EMPTY_DARTS)
    assert parse_architecture(EMPTY_DARTS, allow_empty=True).normal == []
    with pytest.raises(ValueError, match="the reduce cell has no edge"):
        parse_architecture(ONE_EMPTY_CELL)
    with pytest.raises(ValueError, match="the normal cell has no edge"):  # a Genotype object, no position
        parse_architecture(parse_genotype(EMPTY_DARTS))
    assert parse_architecture(ONE_EMPTY_CELL, allow_empty=True).empty_cells() == ("reduce",)
    # control: a cell with a single op is not empty, and parse_genotype keeps accepting empty cells
    one_op = format_nb201_arch(("nor_conv_3x3",) + ("none",) * 5)
    assert parse_architecture(one_op).empty_cells() == () and parse_architecture("DARTS_V2").empty_cells() == ()
    assert parse_genotype(EMPTY_DARTS).reduce == []


def test_allow_empty_does_not_accept_invalid_cells():
    """allow_empty accepts empty cells where parse_genotype does, nothing more: an empty cell next to
    DARTS pairs is still invalid."""
    text = ("Genotype(normal=[], normal_concat=[2], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], "
            "reduce_concat=[2])")
    with pytest.raises(ValueError, match="normal has no edges"):
        parse_architecture(text, allow_empty=True)


# ---------------------------------------------------------------------------------------------- edges

def test_edges_of_the_all_skip_nb201_cell():
    edges = parse_architecture(ALL_SKIP).edges("cell")
    assert len(edges) == 6 and {op for op, _, _ in edges} == {"skip_connect"}
    assert [(to, src) for _, to, src in edges] == list(NB201_EDGES)
    assert parse_architecture(ALL_SKIP).edges() == edges
    with pytest.raises(ValueError, match="one cell, 'cell'; got 'normal'"):
        parse_architecture(ALL_SKIP).edges("normal")


def test_edges_of_darts_v2():
    normal = parse_architecture("DARTS_V2").edges("normal")
    assert normal == [("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 2, 1), ("sep_conv_3x3", 3, 0), ("sep_conv_3x3", 3, 1),
                      ("sep_conv_3x3", 4, 1), ("skip_connect", 4, 0), ("skip_connect", 5, 0), ("dil_conv_3x3", 5, 2)]
    reduce = parse_architecture("DARTS_V2").edges("reduce")
    assert [op for op, _, _ in reduce] == ["max_pool_3x3", "max_pool_3x3", "skip_connect", "max_pool_3x3",
                                           "max_pool_3x3", "skip_connect", "skip_connect", "max_pool_3x3"]
    with pytest.raises(ValueError, match="unknown cell 'cell'"):
        parse_architecture("DARTS_V2").edges("cell")
    fair = parse_architecture("FairDARTS_a").edges("normal")  # triples stay as written
    assert fair == [("sep_conv_3x3", 2, 0), ("sep_conv_5x5", 2, 1), ("max_pool_3x3", 4, 0), ("sep_conv_3x3", 5, 0)]


# ---------------------------------------------------------------- cell_edges without the regex: a control

_OLD_EMPTY_CELLS = re.compile(r"\s*Genotype\(\s*normal\s*=\s*\[\s*\].*reduce\s*=\s*\[\s*\].*\)\s*", re.S)


def _old_cell_edges(genotype, cell):
    """dartslib.diagnostics.measures.cell_edges before the architecture type (copied as the reference)."""
    if isinstance(genotype, str) and _OLD_EMPTY_CELLS.fullmatch(genotype):
        return []
    if isinstance(genotype, tuple) and not genotype.normal and not genotype.reduce:
        return []
    return genotype_edges(parse_genotype(genotype), cell)


@pytest.mark.parametrize("name", published_names())
def test_cell_edges_matches_the_old_regex_version(name):
    text = published_metadata(name)["genotype"]
    for genotype in (name, text, published_genotype(name)):
        for cell in ("normal", "reduce"):
            assert cell_edges(genotype, cell) == _old_cell_edges(genotype, cell)
            assert len(cell_edges(genotype, cell)) > 0


def test_cell_edges_on_empty_and_nb201_cells():
    for genotype in (EMPTY_DARTS, " " + EMPTY_DARTS.replace(", ", ",\n "), parse_genotype(EMPTY_DARTS)):
        for cell in ("normal", "reduce"):
            assert cell_edges(genotype, cell) == _old_cell_edges(genotype, cell) == []
    assert cell_edges(ONE_EMPTY_CELL, "reduce") == [] and len(cell_edges(ONE_EMPTY_CELL, "normal")) == 2
    assert cell_edges(ALL_NONE, "cell") == [(op, to, src) for op, (to, src) in zip(["none"] * 6, NB201_EDGES)]
    assert genotype_op_counts(ALL_NONE) == {"cell": {"none": 6}} and skip_count(ALL_SKIP) == 6


def test_one_hot_weights_need_the_space_s_kind():
    with pytest.raises(ValueError, match="an NB201 space needs an NB201 architecture string"):
        one_hot_op_weights("DARTS_V2", get_space("nb201"))
    with pytest.raises(ValueError, match="needs a DARTS genotype, not an NB201 architecture string"):
        one_hot_op_weights(EXAMPLE, get_space("darts"))
    weights = one_hot_op_weights(ALL_NONE, get_space("nb201"))
    assert weights["cell"].sum() == 6
