"""Search spaces and the supernet: shapes, alphas, op lists per edge, op-weight forms."""
import math

import pytest
import torch

from dartslib import build_supernet, get_space
from dartslib.space.op_weights import SigmoidWeights, SoftmaxWeights, build_op_weight_form
from dartslib.space.ops import OPS, build_op
from dartslib.space.spaces import DARTS_OPS, NB201_OPS, SPACES, darts_edges
from dartslib.space.supernet import DartsSupernet, NB201Supernet


def test_darts_space_matches_the_paper():
    space = get_space("darts")
    assert space.ops_of("normal", 0) == ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
                                         "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
    assert len(space.edges) == 14
    assert space.edges[:5] == ((2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert get_space("darts-nonone").ops_of("reduce", 3) == DARTS_OPS[1:]


def test_robust_darts_spaces():
    s1 = get_space("s1")
    assert s1.ops_of("normal", 0) == ("skip_connect", "dil_conv_3x3")
    assert s1.ops_of("normal", 5) == ("max_pool_3x3", "skip_connect")
    assert s1.ops_of("normal", 13) == ("dil_conv_3x3", "dil_conv_5x5")
    assert s1.ops_of("reduce", 6) == ("max_pool_3x3", "sep_conv_3x3")
    assert s1.ops_of("reduce", 13) == ("skip_connect", "dil_conv_5x5")
    assert s1.shared_ops("normal") is None
    assert get_space("s2").shared_ops("normal") == ("skip_connect", "sep_conv_3x3")
    assert get_space("s3").shared_ops("reduce") == ("none", "skip_connect", "sep_conv_3x3")
    assert get_space("s4").shared_ops("normal") == ("noise", "sep_conv_3x3")


def test_nb201_space():
    space = get_space("nb201")
    assert space.cell_types == ("cell",)
    assert space.ops_of("cell", 0) == NB201_OPS
    assert space.edges == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def test_unknown_space_and_op_name_the_choices():
    with pytest.raises(ValueError, match="unknown search space 'dart'.*nb201"):
        get_space("dart")
    with pytest.raises(ValueError, match="unknown op 'conv_9x9'"):
        build_op("conv_9x9", 8)


def test_space_without_skip():
    space = get_space("darts").without("skip_connect")
    assert "skip_connect" not in space.op_names("normal")
    assert space.num_ops("normal") == 7


@pytest.mark.parametrize("name", sorted(SPACES))
def test_supernet_shapes_and_alphas(name):
    torch.manual_seed(0)
    model = build_supernet(name, C=4, layers=3, cells_per_stage=1, num_classes=7)
    space = get_space(name)
    alphas = model.arch_parameters()
    assert [tuple(a.shape) for a in alphas] == [(len(space.edges), space.num_ops(ct)) for ct in space.cell_types]
    for a in alphas:  # 1e-3 * randn
        assert a.abs().max() < 1e-2 and a.std() > 1e-4
    arch_ids = {id(a) for a in alphas}
    assert not any(id(p) in arch_ids for p in model.weight_parameters())
    assert len(list(model.parameters())) == len(list(model.weight_parameters())) + len(alphas)
    logits = model(torch.randn(2, 3, 16, 16))
    assert logits.shape == (2, 7)
    logits.sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in alphas)


def test_per_edge_op_lists_are_built():
    model = build_supernet("s1", C=4, layers=3)
    normal_cell = model.cells[0]
    reduce_cell = model.cells[1]
    assert not normal_cell.reduction and reduce_cell.reduction
    assert normal_cell.edges[0].op_names == ("skip_connect", "dil_conv_3x3")
    assert normal_cell.edges[12].op_names == ("dil_conv_3x3", "dil_conv_5x5")
    assert reduce_cell.edges[1].op_names == ("max_pool_3x3", "dil_conv_3x3")


def test_darts_supernet_macro_structure():
    model = build_supernet("darts", C=4, layers=8)
    assert isinstance(model, DartsSupernet)
    assert [c.reduction for c in model.cells] == [False, False, True, False, False, True, False, False]
    # search cells: affine-free BN everywhere, a BN after each pooling op, FactorizedReduce for stride-2 skip
    for m in model.cells.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert not m.affine
    edge = model.cells[2].edges[0]  # reduction cell, edge from input 0: stride 2
    assert type(edge.ops[3]).__name__ == "FactorizedReduce"
    assert type(edge.ops[1]).__name__ == "PoolBN"
    x = torch.randn(2, 3, 16, 16)
    assert model(x).shape == (2, 10)


def test_nb201_supernet_macro_structure():
    model = build_supernet("nb201", C=4, cells_per_stage=2)
    assert isinstance(model, NB201Supernet)
    kinds = [type(b).__name__ for b in model.cells]
    assert kinds == ["NB201SearchCell"] * 2 + ["ResNetBasicBlock"] + ["NB201SearchCell"] * 2 + \
        ["ResNetBasicBlock"] + ["NB201SearchCell"] * 2
    assert model.classifier.in_features == 16
    pool = model.cells[0].edges[0].ops[4]
    assert type(pool).__name__ == "AvgPool3x3" and pool.count_include_pad is False  # no BN after it


def test_nb201_supernet_has_the_benchmarks_weight_count():
    """NAS-Bench-201's own search network (xautodl search_model_darts.py) at C=16, N=5 has 1,692,826
    weights: its affine-free nor_conv convs carry a bias (``bias=not affine``) and its pool has no BN.
    Without the biases dartslib had 1,686,106."""
    model = build_supernet("nb201", C=16, cells_per_stage=5)
    assert sum(p.numel() for p in model.weight_parameters()) == 1_692_826
    conv = model.cells[0].edges[0].ops[3]  # nor_conv_3x3
    assert conv[1].bias is not None and not conv[2].affine
    # the DARTS space keeps DARTS' bias-free preprocessing and its BN after pooling
    darts = build_supernet("darts", C=4, layers=5)
    assert darts.cells[0].preprocess1[1].bias is None


@pytest.mark.parametrize("training", [True, False])
def test_nb201_avg_pool_edge_is_plain_average_pooling(training):
    """An all-avg_pool NB201 cell is 3x3 average pooling excluding the padding, nothing else (no BN, which
    would rescale the pool path against skip), in training mode (node sharing on) and eval mode."""
    torch.manual_seed(0)
    model = build_supernet("nb201", C=4, cells_per_stage=1).train(training)
    cell = model.cells[0]
    weights = torch.zeros(6, 5)
    weights[:, 4] = 1.0
    x = 3.0 + 2.0 * torch.randn(2, 4, 7, 7)  # mean and scale a BN would remove
    pool = torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    n1 = pool(x)
    n2 = pool(x) + pool(n1)
    expected = pool(x) + pool(n1) + pool(n2)
    torch.testing.assert_close(cell(x, weights), expected, rtol=1e-5, atol=1e-5)


def test_forward_with_one_hot_weights_selects_a_single_op():
    torch.manual_seed(0)
    model = build_supernet("nb201", C=4, cells_per_stage=1).eval()
    x = torch.randn(2, 3, 8, 8)
    zeros = {"cell": torch.zeros(6, 5)}
    zeros["cell"][:, 0] = 1.0  # every edge 'none': the cells output zeros, the logits are input-independent
    out1, out2 = model(x, zeros), model(torch.randn(2, 3, 8, 8), zeros)
    assert torch.allclose(out1, out2)


def test_op_weight_forms():
    alphas = torch.tensor([[0.0, math.log(3.0)], [1.0, 1.0]])
    assert torch.allclose(SoftmaxWeights()(alphas), torch.tensor([[0.25, 0.75], [0.5, 0.5]]))
    assert torch.allclose(SigmoidWeights()(torch.zeros(2, 3)), torch.full((2, 3), 0.5))
    sharp = SoftmaxWeights(temperature=1e-3)(torch.tensor([[0.0, 0.01]]))
    assert sharp[0, 1] > 0.9999
    assert build_op_weight_form("sigmoid").exclusive is False
    with pytest.raises(ValueError, match="unknown op-weight form"):
        build_op_weight_form("softplus")
    with pytest.raises(ValueError, match="temperature must be positive"):
        SoftmaxWeights(0.0)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("stride", [1, 2])
def test_every_op_keeps_channels_and_strides(name, stride):
    op = build_op(name, 6, stride, affine=False, pool_bn=True)
    out = op(torch.randn(2, 6, 9, 9))
    assert out.shape == (2, 6, 5 if stride == 2 else 9, 5 if stride == 2 else 9)


def test_darts_edges_count():
    assert len(darts_edges(4)) == 14 and len(darts_edges(3)) == 9


def test_fast_average_pool_equals_pytorch_pooling():
    from dartslib.space.ops import AvgPool3x3

    x = torch.randn(2, 3, 7, 8, requires_grad=True)
    for stride in (1, 2):
        reference = torch.nn.AvgPool2d(3, stride, 1, count_include_pad=False)(x)
        fast = AvgPool3x3(stride)(x)
        assert fast.shape == reference.shape
        assert torch.allclose(fast, reference, atol=1e-6)
        g_ref, = torch.autograd.grad(reference.square().sum(), x)
        g_fast, = torch.autograd.grad(fast.square().sum(), x)
        assert torch.allclose(g_fast, g_ref, atol=1e-5)


def test_leaving_none_out_changes_nothing():
    from dartslib.space.supernet import MixedEdge

    torch.manual_seed(0)
    edge = MixedEdge(("none", "skip_connect", "nor_conv_3x3"), 4, 1)
    x = torch.randn(2, 4, 6, 6)
    alphas = torch.randn(3, requires_grad=True)
    weights = torch.softmax(alphas, 0)
    full = sum(w * op(x) for w, op in zip(weights, edge.ops))
    g_full, = torch.autograd.grad(full.square().sum(), alphas)
    fast = edge(x, torch.softmax(alphas, 0))
    g_fast, = torch.autograd.grad(fast.square().sum(), alphas)
    assert torch.allclose(full, fast) and torch.allclose(g_full, g_fast)
    assert g_fast[0] != 0  # none's alpha still gets its softmax gradient
