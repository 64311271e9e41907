"""NAS-Bench-201 architecture strings and inference network."""
from __future__ import annotations

import itertools
import warnings
import random

import pytest
import torch

from dartslib.arch.counting import count_macs, count_parameters
from dartslib.arch.nb201 import NB201Cell, build_nb201_network, format_nb201_arch, parse_nb201_arch
from dartslib.space.spaces import NB201_OPS

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _uniform(op: str) -> str:
    return format_nb201_arch([op] * 6)


def test_parse_example():
    assert parse_nb201_arch(EXAMPLE) == ("nor_conv_3x3",) * 3 + ("skip_connect", "nor_conv_3x3", "nor_conv_3x3")
    assert parse_nb201_arch(f"  {EXAMPLE}\n") == parse_nb201_arch(EXAMPLE)
    assert format_nb201_arch(parse_nb201_arch(EXAMPLE)) == EXAMPLE


def test_round_trip_on_sampled_cells():
    cells = list(itertools.product(NB201_OPS, repeat=6))
    for ops in random.Random(0).sample(cells, 300):
        text = format_nb201_arch(ops)
        assert parse_nb201_arch(text) == ops
        assert format_nb201_arch(parse_nb201_arch(text)) == text


BAD_STRINGS = [
    ("", "expected 3 node groups"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "got 2"),
    (EXAMPLE + "+|none~0|none~1|none~2|none~3|", "got 4"),
    (EXAMPLE.replace("conv_3x3~0|+|nor", "conv_3x3~0|nor_conv_3x3~1|+|nor", 1), "node 1 must have 1 input(s), got 2"),
    (EXAMPLE.replace("skip_connect~0|", ""), "node 3 must have 3 input(s), got 2"),
    (EXAMPLE.replace("skip_connect", "sep_conv_3x3"), "unknown NAS-Bench-201 op 'sep_conv_3x3' in node 3"),
    (EXAMPLE.replace("skip_connect~0", "skip_connect~1"), "wrong input index '1'"),
    (EXAMPLE.replace("skip_connect~0", "skip_connect~-1"), "wrong input index '-1'"),
    (EXAMPLE.replace("skip_connect~0", "skip_connect~x"), "wrong input index 'x'"),
    (EXAMPLE.replace("skip_connect~0", "skip_connect0"), "expected op~input"),
    (EXAMPLE.replace("skip_connect~0", "skip_connect~0~0"), "expected op~input"),
    (EXAMPLE.replace("skip_connect~0", "skip_connect ~0"), "unknown NAS-Bench-201 op 'skip_connect '"),
    (EXAMPLE[1:], "must be written |op~0|...|"),
    (EXAMPLE.replace("|+|", "+", 1), "must be written"),
    ("|" * 2000, "the limit is 1000"),
]


@pytest.mark.parametrize("text, message", BAD_STRINGS)
def test_bad_strings(text, message):
    with pytest.raises(ValueError) as error:
        parse_nb201_arch(text)
    assert message in str(error.value)


def test_format_rejects_bad_op_lists():
    with pytest.raises(ValueError, match="6 edges, got 5"):
        format_nb201_arch(["none"] * 5)
    with pytest.raises(ValueError, match="unknown NAS-Bench-201 op 'conv' at edge 2"):
        format_nb201_arch(["none", "none", "conv", "none", "none", "none"])
    with pytest.raises(ValueError, match="expected a NAS-Bench-201 architecture string"):
        parse_nb201_arch(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [32, 16])
def test_forward_shape(size):
    model = build_nb201_network(EXAMPLE, C=4, cells_per_stage=1, num_classes=5)
    x = torch.randn(2, 3, size, size)
    assert model.train()(x).shape == (2, 5)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 5)
    assert build_nb201_network(parse_nb201_arch(EXAMPLE), C=4, cells_per_stage=1).arch == EXAMPLE


def test_parameter_counts():
    # NAS-Bench-201's CIFAR-10 extremes: 0.073306M..1.531546M parameters, 7.78305M..220.11969M FLOPs
    # (its FLOPs count the classifier bias, 10 more than our MACs).
    largest = build_nb201_network(_uniform("nor_conv_3x3"))
    assert count_parameters(largest) == 1_531_546
    assert count_macs(largest, (3, 32, 32)) == 220_119_680
    smallest = build_nb201_network(_uniform("none"))
    assert count_parameters(smallest) == 73_306
    assert count_macs(smallest, (3, 32, 32)) == 7_783_040
    assert count_parameters(build_nb201_network(EXAMPLE)) == 1_288_506
    assert count_parameters(build_nb201_network(_uniform("nor_conv_1x1"))) == 241_306


def test_cell_semantics():
    x = torch.randn(2, 3, 5, 5)
    skips = NB201Cell(["skip_connect"] * 6, 3)
    assert torch.allclose(skips(x), 4 * x)  # n1 = x, n2 = x + n1, n3 = x + n1 + n2
    nones = NB201Cell(["none"] * 6, 3)
    assert torch.equal(nones(x), torch.zeros_like(x))
    pool_only = NB201Cell(["none", "none", "none", "avg_pool_3x3", "none", "none"], 3)
    ones = torch.ones(1, 3, 5, 5)
    assert torch.equal(pool_only(ones), ones)  # the pool does not count padding


def test_depth_is_cells_per_stage_and_n_is_deprecated():
    from dartslib.arch.nb201 import NB201Arch, NB201Network

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns about nothing
        new = build_nb201_network(EXAMPLE, C=4, cells_per_stage=2)
        positional = build_nb201_network(EXAMPLE, 4, 2)
        from_arch = NB201Network(NB201Arch(parse_nb201_arch(EXAMPLE)), C=4, cells_per_stage=2)
    assert new.cells_per_stage == 2 and sum(isinstance(m, NB201Cell) for m in new.modules()) == 6
    assert count_parameters(positional) == count_parameters(from_arch) == count_parameters(new)
    for build in (build_nb201_network, NB201Network):
        with pytest.warns(FutureWarning, match=r"N=\.\.\.\) is deprecated; use cells_per_stage="):
            old = build(EXAMPLE, C=4, N=2)
        assert old.cells_per_stage == 2 and count_parameters(old) == count_parameters(new)
        with pytest.raises(ValueError, match="both cells_per_stage=3 and N=2"):
            build(EXAMPLE, C=4, cells_per_stage=3, N=2)
    with pytest.warns(FutureWarning) as caught:
        build_nb201_network(EXAMPLE, C=4, N=1)
    assert len(caught) == 1 and caught[0].filename == __file__  # one warning, pointing at the caller
    with pytest.raises(ValueError, match="cells_per_stage >= 0"):
        build_nb201_network(EXAMPLE, cells_per_stage=-1)
