"""DARTS evaluation networks: parameter anchor, forward shapes, auxiliary head, drop-path, FairDARTS cells."""
from __future__ import annotations

import copy
import io

import pytest
import torch

from dartslib.arch.counting import count_parameters
from dartslib.arch.genotype import Genotype, published_genotype, published_names
from dartslib.arch.networks import EvalCell, build_network, drop_path, resolve_drop_path_mode

SMALL = dict(C=8, layers=5)  # reductions at cells 1 and 3, auxiliary head after cell 3


def test_darts_v2_parameter_anchor():
    model = build_network("DARTS_V2", C=36, layers=20)
    assert count_parameters(model) == 3_349_342  # DARTS' 3.3M (Liu et al., 2019, Table 1)
    assert count_parameters(model, include_auxiliary=True) == 3_825_768
    assert count_parameters(build_network("DARTS_V2", auxiliary=False)) == 3_349_342


def test_genotype_forms_build_the_same_network():
    genotype = published_genotype("PDARTS")
    sizes = {count_parameters(build_network(g, **SMALL)) for g in (genotype, str(genotype), "PDARTS")}
    assert len(sizes) == 1


@pytest.mark.parametrize("size", [32, 16])
def test_forward_shapes_train_with_aux_and_eval(size):
    torch.manual_seed(0)
    model = build_network("DARTS_V2", num_classes=7, drop_path_prob=0.2, **SMALL)
    x = torch.randn(2, 3, size, size)
    model.train()
    logits = model(x)
    assert logits.shape == (2, 7) and model.aux_logits.shape == (2, 7)
    (logits.sum() + model.aux_logits.sum()).backward()
    logits, aux = model.forward_with_aux(x)
    assert aux is not None and aux.shape == (2, 7)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 7)
    assert model.aux_logits is None


def test_without_auxiliary_head():
    model = build_network("DARTS_V1", auxiliary=False, **SMALL).train()
    assert not hasattr(model, "auxiliary_head")
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10) and model.aux_logits is None


def test_auxiliary_head_reads_after_two_thirds():
    model = build_network("DARTS_V2", C=36, layers=20)
    assert model.auxiliary_index == 13
    assert model.auxiliary_head.features[0].in_channels == 4 * 144  # 4 nodes x 4C after the 2nd reduction


def test_single_channel_inputs_and_bad_arguments():
    model = build_network("DARTS_V2", in_channels=1, **SMALL).eval()
    assert model(torch.randn(1, 1, 16, 16)).shape == (1, 10)
    with pytest.raises(ValueError, match="drop_path_prob"):
        build_network("DARTS_V2", drop_path_prob=1.0)
    with pytest.raises(ValueError, match="positive"):
        build_network("DARTS_V2", C=0)
    with pytest.raises(ValueError, match="unknown genotype name"):
        build_network("NOT_A_NET")


@pytest.mark.parametrize("name", published_names())
def test_every_published_cell_builds_and_runs(name):
    model = build_network(name, C=4, layers=3).train()
    logits = model(torch.randn(2, 3, 16, 16))
    assert logits.shape == (2, 10) and model.aux_logits.shape == (2, 10)


def test_drop_path_function():
    torch.manual_seed(0)
    x = torch.ones(4000, 3, 2, 2)
    assert drop_path(x, 0.0) is x
    out = drop_path(x, 0.25)
    per_sample = out.flatten(1)
    assert torch.all((per_sample == 0).all(1) | torch.isclose(per_sample, torch.tensor(4 / 3)).all(1))
    assert abs(out.mean().item() - 1.0) < 0.05


def test_drop_path_prob_is_read_at_every_forward():
    torch.manual_seed(0)
    model = build_network("DARTS_V2", auxiliary=False, **SMALL).train()
    x = torch.randn(4, 3, 16, 16)
    assert torch.equal(model(x), model(x))  # training BN is deterministic without drop-path
    model.drop_path_prob = 0.5
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_identity_edges_are_never_dropped():
    edges = [("skip_connect", 2, 0), ("skip_connect", 2, 1), ("skip_connect", 3, 2)]
    cell = EvalCell(edges, [2, 3], 4, 4, 4, reduction=False, reduction_prev=False).train()
    s0, s1 = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    assert torch.equal(cell(s0, s1, 0.99), cell(s0, s1, 0.0))


def test_node_drop_path_drops_each_node_sum_identity_included():
    # FairDARTS' DCOCell: drop-path on the node's sum (here conv + identity), and a later node reads the
    # dropped sum. Per sample the node is either 0 or its undropped value / (1 - p).
    edges = [("sep_conv_3x3", 2, 0), ("skip_connect", 2, 1), ("skip_connect", 3, 2)]
    torch.manual_seed(0)
    cell = EvalCell(edges, [2, 3], 4, 4, 4, reduction=False, reduction_prev=False, drop_path_mode="node").train()
    s0, s1 = torch.randn(64, 4, 6, 6), torch.randn(64, 4, 6, 6)
    clean = cell(s0, s1, 0.0)
    p = 0.5
    torch.manual_seed(1)
    out = cell(s0, s1, p)
    node2, node3 = out[:, :4], out[:, 4:]
    kept2 = node2.flatten(1).abs().sum(1) > 0
    assert 0 < kept2.sum() < 64  # some samples dropped, some kept
    assert torch.allclose(node2[kept2], clean[kept2, :4] / (1 - p), atol=1e-5)
    assert torch.equal(node3[~kept2], torch.zeros_like(node3[~kept2]))  # node 3 reads the dropped node 2
    # identities alone: the edge mode never drops them, the node mode does
    skips = [("skip_connect", 2, 0), ("skip_connect", 2, 1), ("skip_connect", 3, 2)]
    for mode, dropped in (("edge", False), ("node", True)):
        c = EvalCell(skips, [2, 3], 4, 4, 4, reduction=False, reduction_prev=False, drop_path_mode=mode).train()
        assert (not torch.equal(c(s0, s1, 0.9), c(s0, s1, 0.0))) == dropped


def test_drop_path_mode_follows_the_genotype_format():
    assert resolve_drop_path_mode("FairDARTS_a") == "node"  # (op, to, from) triples: FairDARTS' DCOCell
    assert resolve_drop_path_mode("DARTS_V2") == "edge"
    assert resolve_drop_path_mode("FairDARTS_a", "edge") == "edge"
    assert build_network("FairDARTS_a", **SMALL).cells[0].drop_path_mode == "node"
    assert build_network("DARTS_V2", drop_path_mode="node", **SMALL).cells[0].drop_path_mode == "node"
    with pytest.raises(ValueError, match="drop_path_mode"):
        build_network("DARTS_V2", drop_path_mode="cell", **SMALL)


def test_fairdarts_cell_skips_nodes_without_inputs():
    model = build_network("FairDARTS_a", **SMALL)
    normal, reduction = model.cells[0], model.cells[1]
    assert normal.concat == (2, 4, 5) and normal.multiplier == 3  # node 3 has no input edge
    assert reduction.concat == (2, 3, 4, 5) and len(reduction.ops) == 8


def test_variable_input_cells():
    edges = [("sep_conv_3x3", 2, 0), ("skip_connect", 2, 1), ("dil_conv_3x3", 2, 0),  # three inputs
             ("max_pool_3x3", 4, 3),  # from the empty node 3: node 4 is empty too, this edge is dropped
             ("sep_conv_5x5", 5, 1)]  # one input
    cell = EvalCell(edges, range(2, 6), 6, 6, 6, reduction=True, reduction_prev=False)
    assert cell.concat == (2, 5) and len(cell.ops) == 4
    out = cell(torch.randn(2, 6, 8, 8), torch.randn(2, 6, 8, 8))
    assert out.shape == (2, 12, 4, 4)
    genotype = Genotype(normal=edges, normal_concat=[2, 5], reduce=edges, reduce_concat=[2, 3, 4, 5])
    model = build_network(genotype, **SMALL).train()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_cell_without_output_is_rejected():
    genotype = Genotype(normal=[("skip_connect", 3, 2)], normal_concat=[2, 3],
                        reduce=[("skip_connect", 2, 0)], reduce_concat=[2])
    with pytest.raises(ValueError, match="no node of concat"):
        build_network(genotype, **SMALL)


def test_copy_and_pickle_after_a_training_forward():
    model = build_network("DARTS_V2", **SMALL).train()
    model(torch.randn(2, 3, 16, 16))
    assert model.aux_logits is not None
    clone = copy.deepcopy(model)
    assert clone.aux_logits is None and model.aux_logits is not None
    torch.save(model, io.BytesIO())
