"""Genotype text: parsing, formatting, validation and the shipped published cells."""
from __future__ import annotations

import numpy as np
import pytest

from dartslib.arch.genotype import (
    MAX_GENOTYPE_CHARS, PUBLISHED, Genotype, format_genotype, genotype_edges, normalize_genotype,
    parse_genotype, published_genotype, published_metadata, published_names, same_genotype,
    validate_genotype,
)

DARTS_V2_TEXT = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
                 "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
                 "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                 "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
                 "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")

SMALL = "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[2], " \
        "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])"


def test_published_names_cover_the_shipped_cells():
    names = published_names()
    assert len(names) == 20
    assert {"DARTS_V1", "DARTS_V2", "PDARTS", "ENASNet", "SP_DARTS", "FairDARTS_a", "FairDARTS_g"} <= set(names)


@pytest.mark.parametrize("name", published_names())
def test_published_cells_round_trip(name):
    genotype = published_genotype(name)
    assert parse_genotype(str(genotype)) == genotype
    assert format_genotype(genotype) == str(genotype) == published_metadata(name)["genotype"]
    assert parse_genotype(name) == genotype
    assert parse_genotype(format_genotype(genotype, multiline=True)) == genotype


def test_darts_v2_matches_the_darts_repository_text():
    assert parse_genotype("DARTS_V2") == parse_genotype(DARTS_V2_TEXT)
    assert parse_genotype("DARTS") == parse_genotype("darts_v2") == parse_genotype("DARTS_V2")
    assert published_metadata("DARTS_V2")["repository"].startswith("quark0/darts")


def test_concat_keeps_its_spelling_and_same_genotype_ignores_it():
    as_range = parse_genotype(SMALL.replace("normal_concat=[2]", "normal_concat=range(2, 3)"))
    as_list = parse_genotype(SMALL)
    assert as_range.normal_concat == range(2, 3) and isinstance(as_list.normal_concat, list)
    assert as_range != as_list
    assert same_genotype(as_range, as_list)
    assert normalize_genotype(as_range) == as_list
    assert str(as_range).count("range(2, 3)") == 1


def test_accepts_layout_variants():
    variant = """
        Genotype(
            [("sep_conv_3x3", 0,), ("skip_connect", 1),],
            (2,),
            reduce = (('max_pool_3x3',0),('max_pool_3x3',1)),
            reduce_concat=[2, ],
        )
    """
    assert parse_genotype(variant) == parse_genotype(SMALL)


def test_genotype_instances_pass_through():
    genotype = published_genotype("DARTS_V2")
    assert parse_genotype(genotype) is genotype
    with pytest.raises(ValueError, match="unknown op 'bogus'"):
        parse_genotype(Genotype([("bogus", 0), ("skip_connect", 1)], [2], [("skip_connect", 0)] * 2, [2]))


def test_fairdarts_triples():
    genotype = published_genotype("FairDARTS_a")
    assert all(len(edge) == 3 for edge in genotype.normal + genotype.reduce)
    assert genotype_edges(genotype, "normal") == [("sep_conv_3x3", 2, 0), ("sep_conv_5x5", 2, 1),
                                                   ("max_pool_3x3", 4, 0), ("sep_conv_3x3", 5, 0)]
    text = "Genotype(normal=[('skip_connect', 2, 0), ('sep_conv_3x3', 4, 2), ('sep_conv_3x3', 4, 1), " \
           "('dil_conv_3x3', 4, 0)], normal_concat=range(2, 6), reduce=[], reduce_concat=[2])"
    parsed = parse_genotype(text)
    assert parsed.normal[3] == ("dil_conv_3x3", 4, 0) and parsed.reduce == []
    assert parse_genotype(str(parsed)) == parsed


def test_pairs_become_triples():
    edges = genotype_edges("DARTS_V2", "reduce")
    assert edges[:3] == [("max_pool_3x3", 2, 0), ("max_pool_3x3", 2, 1), ("skip_connect", 3, 2)]
    assert [to for _, to, _ in edges] == [2, 2, 3, 3, 4, 4, 5, 5]


def test_format_writes_plain_ints():
    genotype = Genotype([("sep_conv_3x3", np.int64(0)), ("skip_connect", np.int64(1))], [np.int64(2)],
                        [("max_pool_3x3", 0), ("max_pool_3x3", 1)], range(2, 3))
    text = format_genotype(genotype)
    assert "np." not in text and "int64" not in text
    assert same_genotype(parse_genotype(text), genotype)


def _replace(old: str, new: str) -> str:
    assert old in DARTS_V2_TEXT
    return DARTS_V2_TEXT.replace(old, new, 1)


HOSTILE_OR_MALFORMED = [
    ("__import__('os').system('echo pwned')", "expected 'Genotype(' at position 0"),
    ("Genotype(normal=__import__('os'), normal_concat=[2], reduce=[], reduce_concat=[2])",
     "expected a list for normal at position 16"),
    (DARTS_V2_TEXT + "; import os", "unexpected character ';'"),
    (DARTS_V2_TEXT + " Genotype", "unexpected trailing text"),
    (DARTS_V2_TEXT + ".normal", "unexpected character '.'"),
    ("lambda: 0", "expected 'Genotype(' at position 0, got 'lambda'"),
    ("exec", "unknown genotype name 'exec'"),
    ("Genotype(normal=[(OPS, 0)], normal_concat=[2], reduce=[], reduce_concat=[2])", "a quoted op name"),
    (_replace("'dil_conv_3x3'", "'dil_conv_9x9'"), "unknown op 'dil_conv_9x9' in normal[7] at position"),
    (_replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', -1)"), "negative node index -1 in normal[1]"),
    (_replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 6)"), "input 6 of normal[7] is out of range"),
    (_replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)"), "can only read nodes 0..1"),
    (_replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing Genotype field(s): reduce_concat"),
    (_replace("reduce_concat=", "reduction_concat="), "unknown field 'reduction_concat'"),
    (_replace("reduce_concat=", "normal_concat="), "field 'normal_concat' given twice"),
    (_replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 6]"), "outside the intermediate nodes 2..5"),
    (_replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 3]"), "repeats a node"),
    (_replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[]"), "normal_concat is empty"),
    (_replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 999999)"), "at most 64"),
    (_replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 99999999999)"), "too large"),
    (_replace("normal_concat=[2, 3, 4, 5]", "normal_concat=list(range(2, 6))"), "expected a list or range"),
    (_replace("('dil_conv_3x3', 2)], ", "], "), "even number"),
    (_replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5, 2)"), "earlier edges have 2"),
    (_replace("('dil_conv_3x3', 2)", "('dil_conv_3x3',)"), "has 1 items"),
    (_replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 2.5)"), "malformed number"),
    ("Genotype(normal=[('sep_conv_3x3, 0)])", "unterminated string starting at position 18"),
    (_replace("'dil_conv_3x3'", "'dil_conv_3x3"), "unknown op 'dil_conv_3x3, 2)], normal_concat=[2, 3, ...' in normal[7]"),
    (_replace("'dil_conv_3x3'", "'dil_conv\\x33x3'"), "escape or line break"),
    (_replace("normal=", "normal=[]"), "expected ',' or ')'"),
    ("Genotype(normal=[('skip_connect', 1, 2)], normal_concat=[2], reduce=[], reduce_concat=[2])",
     "targets node 1, but nodes 0 and 1 are the cell inputs"),
    ("Genotype(normal=[('skip_connect', 3, 3)], normal_concat=[2], reduce=[], reduce_concat=[2])",
     "edges must go from an earlier node"),
    ("Genotype([('skip_connect', 0), ('skip_connect', 1)], [2], [], [2], [3])", "too many values"),
    ("Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], [2], [], [2])", "positional value after keyword"),
    ("Genotype(", "expected a list for normal at position 9, got end of text"),
    ("", "empty genotype text"),
    ("NoSuchNet", "unknown genotype name 'NoSuchNet'; published names: DARTS_V1, DARTS_V2"),
    ("[" * (MAX_GENOTYPE_CHARS + 1), "the limit is 100000"),
]


@pytest.mark.parametrize("text, message", HOSTILE_OR_MALFORMED)
def test_rejects_hostile_and_malformed_text(text, message):
    with pytest.raises(ValueError) as error:
        parse_genotype(text)
    assert message in str(error.value)


def test_rejects_non_text():
    with pytest.raises(ValueError, match="expected genotype text"):
        parse_genotype(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected a Genotype"):
        validate_genotype(("a", "b"))  # type: ignore[arg-type]


def test_published_mapping_returns_fresh_copies():
    assert len(PUBLISHED) == 20 and "DARTS_V2" in PUBLISHED and "nope" not in PUBLISHED
    first = PUBLISHED["DARTS_V2"]
    first.normal.clear()
    assert len(PUBLISHED["DARTS_V2"].normal) == 8
    with pytest.raises(KeyError):
        PUBLISHED["nope"]
    assert list(PUBLISHED) == published_names()


def test_a_genotype_with_no_edges_round_trips():
    """The threshold rule can keep nothing; its text must still parse (building a network from it cannot)."""
    g = parse_genotype("Genotype(normal=[], normal_concat=[2, 3, 4, 5], reduce=[], reduce_concat=[2, 3, 4, 5])")
    assert g.normal == [] and parse_genotype(str(g)) == g
