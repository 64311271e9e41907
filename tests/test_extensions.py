"""The edge extension point (dartslib.space.extensions): a method changes an edge's forward pass through an
extension injected into the edge, and the edge and the supernet carry no method's state."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from dartslib.engine.config import make_config
from dartslib.methods.aux_skip import AuxiliarySkipBranch, add_auxiliary_skips, aux_beta, set_aux_beta
from dartslib.methods.presets import build_hooks, prepare_supernet
from dartslib.methods.skip_noise import SkipConnectNoise, set_skip_noise
from dartslib.space.extensions import ArchExtension, EdgeExtension, attach_extension, supernet_only_off
from dartslib.space.supernet import MixedEdge, build_supernet
from dartslib.hooks import StepContext

ROOT = Path(__file__).resolve().parents[1]
METHOD_WORDS = ("aux", "skip_noise", "noise_std", "beta", "partial", "gumbel")


class Scale(EdgeExtension):
    name = "scale"

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward_edge(self, edge, x, weights, share, mix):
        return self.factor * mix(x, weights, share)


class Shift(EdgeExtension):
    name = "shift"

    def forward_edge(self, edge, x, weights, share, mix):
        return mix(x, weights, share) + 1.0


def test_the_edge_and_the_supernet_name_no_method():
    """``MixedEdge`` and ``Supernet`` hold no method's attribute, before and after every switch is applied."""
    source = (ROOT / "dartslib" / "space" / "supernet.py").read_text()
    tree = ast.parse(source)
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not [n for n in names if any(w in n for w in METHOD_WORDS)]
    edge = MixedEdge(["skip_connect", "nor_conv_1x1"], 4, 1)
    assert not [k for k in vars(edge) if any(w in k for w in METHOD_WORDS)]
    for method in ("darts-minus", "darts-gaussian"):
        model = build_supernet("nb201", C=4, cells_per_stage=1)
        prepare_supernet(model, make_config(method, "nb201"))
        for hook in build_hooks(make_config(method, "nb201")):
            hook.before_step(model, StepContext(0, 10, 0, 1))
        edges = [m for m in model.modules() if isinstance(m, MixedEdge)]
        assert edges and all(not [k for k in vars(e) if any(w in k for w in METHOD_WORDS)] for e in edges)
        assert all(len(e.extensions) == 1 for e in edges)  # the method's state is in its extension


def test_extensions_nest_in_the_order_attached_and_switch_off():
    edge = MixedEdge(["skip_connect", "nor_conv_1x1"], 4, 1)
    x, w = torch.randn(2, 4, 5, 5), torch.tensor([0.3, 0.7])
    plain = edge(x, w)
    attach_extension(edge, Scale(2.0))
    attach_extension(edge, Shift())
    assert torch.allclose(edge(x, w), 2.0 * (plain + 1.0))  # the first attached is the outermost
    edge.extensions["shift"].active = False
    assert torch.allclose(edge(x, w), 2.0 * plain)
    with pytest.raises(TypeError, match="EdgeExtension"):
        attach_extension(edge, nn.Identity())


def test_auxiliary_skip_is_an_extension_switched_off_for_a_discretised_supernet():
    model = build_supernet("darts", C=4, layers=3)
    add_auxiliary_skips(model)
    set_aux_beta(model, 0.5)
    edges = [m for m in model.modules() if isinstance(m, MixedEdge)]
    assert all(isinstance(e.extensions["aux_skip"], AuxiliarySkipBranch) and aux_beta(e) == 0.5 for e in edges)
    with supernet_only_off(model):
        assert all(aux_beta(e) == 0.0 for e in edges)
    assert all(aux_beta(e) == 0.5 for e in edges)


def test_checkpoints_from_before_the_extension_point_still_load():
    """The auxiliary branch's weights were saved at ``EDGE.aux_skip.*``; they load into the extension."""
    torch.manual_seed(0)
    a = build_supernet("darts", C=4, layers=3)
    add_auxiliary_skips(a, "conv1x1")
    old = {k.replace("extensions.aux_skip.branch.", "aux_skip."): v for k, v in a.state_dict().items()}
    assert any(".aux_skip.conv_1." in k for k in old)  # the stride-2 branches have weights
    torch.manual_seed(1)
    b = build_supernet("darts", C=4, layers=3)
    add_auxiliary_skips(b, "conv1x1")
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    b.load_state_dict(old)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_skip_noise_changes_only_the_skip_op_in_training_mode():
    edge = MixedEdge(["skip_connect", "nor_conv_1x1"], 4, 1)
    set_skip_noise(edge, 0.0)
    noise = edge.extensions["skip_noise"]
    assert isinstance(noise, SkipConnectNoise) and not noise.changes_op(edge, 0, True)
    noise.std = 1.0
    assert noise.changes_op(edge, 0, True) and not noise.changes_op(edge, 1, True)
    assert not noise.changes_op(edge, 0, False)


class Doubler(ArchExtension):
    name = "doubler"

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Parameter(torch.zeros(3))

    def derivation_weights(self, weights):
        return {ct: 2 * w for ct, w in weights.items()}


def test_arch_extensions_are_architecture_parameters():
    model = build_supernet("nb201", C=4, cells_per_stage=1)
    alphas = model.arch_parameters()
    before = model.derivation_weights()
    extension = model.add_arch_extension(Doubler())
    assert model.arch_parameters() == alphas + [extension.gate]
    assert all(p is not extension.gate for p in model.weight_parameters())
    assert not any(n.startswith("arch_extensions.") for n, _ in model.named_weight_parameters())
    assert torch.equal(model.derivation_weights()["cell"], 2 * before["cell"])
    with pytest.raises(TypeError, match="ArchExtension"):
        model.add_arch_extension(nn.Identity())


def test_batched_seeds_refuse_an_unstackable_extension():
    from dartslib.engine.batched import SeedBatchedSupernet

    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_supernet("nb201", C=4, cells_per_stage=1)
        for edge in model.modules():
            if isinstance(edge, MixedEdge):
                attach_extension(edge, Shift())
        models.append(model)
    net = SeedBatchedSupernet(models)
    with pytest.raises(ValueError, match="do not support the edge extension Shift"):
        net(net.stack_inputs([torch.randn(2, 3, 8, 8)] * 2))
