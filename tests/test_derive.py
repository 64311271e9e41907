"""Genotype derivation rules on hand-made op weights."""
import pytest
import torch

from dartslib import Genotype, parse_genotype
from dartslib.arch.derive import derive, derive_darts, derive_nb201, derive_threshold
from dartslib.space.spaces import DARTS_OPS, get_space

OP = {name: i for i, name in enumerate(DARTS_OPS)}


def _weights(n_ops: int = 8, base: float = 0.01) -> torch.Tensor:
    return torch.full((14, n_ops), base)


def test_darts_rule_keeps_two_strongest_edges_and_ignores_none():
    w = _weights()
    # node 2 (edges 0, 1): 'none' dominates edge 0 but is ignored; edge 0's best real op is sep_conv_3x3
    w[0, OP["none"]] = 0.9
    w[0, OP["sep_conv_3x3"]] = 0.3
    w[1, OP["skip_connect"]] = 0.5
    # node 3 (edges 2, 3, 4): edge 4 strongest, then edge 2
    w[2, OP["dil_conv_5x5"]] = 0.4
    w[3, OP["max_pool_3x3"]] = 0.2
    w[4, OP["sep_conv_5x5"]] = 0.6
    # node 4 (edges 5..8), node 5 (edges 9..13)
    w[8, OP["avg_pool_3x3"]] = 0.7
    w[6, OP["dil_conv_3x3"]] = 0.3
    w[13, OP["skip_connect"]] = 0.8
    w[9, OP["sep_conv_3x3"]] = 0.35
    g = derive_darts({"normal": w, "reduce": w}, "darts")
    assert g.normal == [("skip_connect", 1), ("sep_conv_3x3", 0),
                        ("sep_conv_5x5", 2), ("dil_conv_5x5", 0),
                        ("avg_pool_3x3", 3), ("dil_conv_3x3", 1),
                        ("skip_connect", 4), ("sep_conv_3x3", 0)]
    assert g.normal_concat == [2, 3, 4, 5] and g.reduce == g.normal
    assert parse_genotype(str(g)) == g


def test_darts_rule_on_per_edge_op_lists():
    space = get_space("s1")
    w = torch.zeros(14, 2)
    w[:, 1] = 1.0  # always the second op of each edge
    g = derive_darts({"normal": w, "reduce": w}, space)
    ops = {op for op, _ in g.normal}
    assert ops <= {"dil_conv_3x3", "dil_conv_5x5", "sep_conv_3x3", "skip_connect"}
    assert ("skip_connect", 0) in g.normal or ("skip_connect", 2) in g.normal  # edge 5 = [max_pool, skip]


def test_max_skip_prior_replaces_weakest_skips():
    w = _weights()
    for e in range(14):
        w[e, OP["skip_connect"]] = 0.5 + 0.01 * e
        w[e, OP["sep_conv_3x3"]] = 0.2
    g = derive_darts({"normal": w, "reduce": w}, "darts")
    assert sum(op == "skip_connect" for op, _ in g.normal) == 8
    limited = derive_darts({"normal": w, "reduce": w}, "darts", max_skip=2)
    assert sum(op == "skip_connect" for op, _ in limited.normal) == 2
    # the survivors are the two strongest skips (edges 13 and 12: node 5 from inputs 4 and 3)
    assert ("skip_connect", 4) in limited.normal and ("skip_connect", 3) in limited.normal
    assert sum(op == "skip_connect" for op, _ in limited.reduce) == 8  # the prior is for the normal cell


def test_max_skip_prior_follows_p_darts_and_may_drop_the_edge():
    # Node 2 (edges 0, 1) and node 3 (edges 2, 3, 4) hold three skips; M = 2 removes the weakest (edge 2,
    # 0.5). P-DARTS then re-selects the node's top-2 edges: edge 4 (sep_conv_5x5 at 0.45) beats edge 2's
    # next-best op (sep_conv_3x3 at 0.3), so edge 2 drops out. Swapping the op on the edge, as dartslib used
    # to, would have kept ("sep_conv_3x3", 0).
    w = _weights()
    w[0, OP["skip_connect"]], w[1, OP["skip_connect"]] = 0.8, 0.7
    w[2, OP["skip_connect"]], w[2, OP["sep_conv_3x3"]] = 0.5, 0.3
    w[3, OP["dil_conv_3x3"]] = 0.6
    w[4, OP["sep_conv_5x5"]] = 0.45
    g = derive_darts({"normal": w, "reduce": w}, "darts", max_skip=2)
    assert g.normal[:4] == [("skip_connect", 0), ("skip_connect", 1), ("dil_conv_3x3", 1), ("sep_conv_5x5", 2)]
    assert sum(op == "skip_connect" for op, _ in g.normal) == 2
    # S3 = {none, skip, sep_conv_3x3}: with M = 0 every skip gives way to sep_conv_3x3 (none never counts)
    s3 = get_space("s3")
    w3 = torch.zeros(14, 3)
    w3[:, 1] = 1.0
    w3[:, 2] = 0.5
    assert sum(op == "skip_connect" for op, _ in derive_darts({"normal": w3, "reduce": w3}, s3, max_skip=0).normal) == 0


def test_darts_rule_rounding_and_edge_ties_as_sp_darts_code():
    # at t_sp two edges of node 2 both weigh ~1.0; rounded to 4 decimals they tie
    w = _weights()
    w[0, OP["sep_conv_3x3"]], w[1, OP["dil_conv_3x3"]] = 0.999991, 0.999996
    w[2, OP["sep_conv_5x5"]], w[3, OP["skip_connect"]], w[4, OP["max_pool_3x3"]] = 1.0, 1.0, 1.0
    plain = derive_darts({"normal": w, "reduce": w}, "darts")
    assert plain.normal[:2] == [("dil_conv_3x3", 1), ("sep_conv_3x3", 0)]  # unrounded: edge 1 is stronger
    assert plain.normal[2:4] == [("sep_conv_5x5", 0), ("skip_connect", 1)]  # ties: earlier input first
    code = derive_darts({"normal": w, "reduce": w}, "darts", decimals=4, edge_ties="later")
    assert code.normal[:2] == [("dil_conv_3x3", 1), ("sep_conv_3x3", 0)]  # tied at 1.0: later input first
    assert code.normal[2:4] == [("max_pool_3x3", 2), ("skip_connect", 1)]  # node 3: inputs 2, 1 of 0, 1, 2
    earlier = derive_darts({"normal": w, "reduce": w}, "darts", decimals=4)
    assert earlier.normal[:2] == [("sep_conv_3x3", 0), ("dil_conv_3x3", 1)]
    with pytest.raises(ValueError, match="edge_ties"):
        derive_darts({"normal": w, "reduce": w}, "darts", edge_ties="random")


def test_threshold_rule():
    space = get_space("darts-nonone")
    w = torch.full((14, 7), 0.1)
    w[0, 3] = 0.9          # node 2 <- 0 sep_conv_3x3
    w[1, 2] = 0.86         # node 2 <- 1 skip
    w[2, 0] = 0.95         # node 3 <- 0 max_pool; only one edge for node 3
    w[5, 4] = 0.99         # node 4 <- 0 ...
    w[6, 4] = 0.97
    w[7, 5] = 0.90         # a third passing edge at node 4: dropped (at most 2)
    w[9, 1] = 0.84         # below threshold: node 5 gets nothing
    g = derive_threshold({"normal": w, "reduce": w}, space)
    assert g.normal == [("sep_conv_3x3", 2, 0), ("skip_connect", 2, 1), ("max_pool_3x3", 3, 0),
                        ("sep_conv_5x5", 4, 0), ("sep_conv_5x5", 4, 1)]
    assert parse_genotype(str(g)) == g
    relaxed = derive_threshold({"normal": w, "reduce": w}, space, threshold=0.8)
    assert ("avg_pool_3x3", 5, 0) in relaxed.normal


def test_nb201_rule_is_argmax_including_none():
    w = torch.zeros(6, 5)
    for e, k in enumerate([3, 0, 1, 2, 4, 3]):
        w[e, k] = 1.0
    arch = derive_nb201({"cell": w})
    assert arch == "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    assert derive({"cell": w}, "nb201") == arch


def test_bad_shapes_and_rules_are_named():
    with pytest.raises(ValueError, match="normal op weights have shape"):
        derive_darts({"normal": torch.zeros(14, 3), "reduce": torch.zeros(14, 8)}, "darts")
    with pytest.raises(ValueError, match="unknown derivation rule"):
        derive({"cell": torch.zeros(6, 5)}, "nb201", "argmin")
    with pytest.raises(ValueError, match="DARTS-topology"):
        derive_darts({"cell": torch.zeros(6, 5)}, "nb201")


def test_derived_genotype_is_a_genotype():
    w = torch.rand(14, 8, generator=torch.Generator().manual_seed(0))
    g = derive({"normal": w, "reduce": w}, "darts")
    assert isinstance(g, Genotype) and len(g.normal) == 8
