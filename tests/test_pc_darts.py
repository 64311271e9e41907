"""PC-DARTS (dartslib.methods.pc_darts) against the behaviour of its authors' code (``yuhuixu1993/PC-DARTS``,
``model_search.py``): the channel shuffle, the partial-channel mixed op on a fixed input, edge normalisation in
a cell, the derivation from edge weight x op weight; each against a control that must fail (K = 1 is plain
DARTS, a wrong shuffle or a wrong bypass is detected, a plain-DARTS cell differs)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dartslib.arch.derive import derive_darts
from dartslib.engine.batched import check_batchable
from dartslib.engine.config import make_config
from dartslib.engine.loop import Search, SearchInterrupted, search
from dartslib.methods import pc_darts
from dartslib.methods.pc_darts import EdgeBetas, PartialChannels, channel_shuffle
from dartslib.methods.presets import prepare_supernet
from dartslib.space.supernet import MixedEdge, build_supernet

from stop_at import StopAt  # tests/stop_at.py

TINY = dict(epochs=2, max_steps_per_epoch=3, batch_size=16, device="cpu")


# ----------------------------------------------------------------------------- an independent reference
def reference_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """The code's ``channel_shuffle``: ``view(B, groups, C // groups, H, W)``, ``transpose(1, 2)``, flatten."""
    b, c, h, w = x.shape
    return x.contiguous().view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


def reference_mixed_op(ops: nn.ModuleList, x: torch.Tensor, weights: torch.Tensor, k: int) -> torch.Tensor:
    """The code's ``MixedOp.forward`` (every op summed, ``none`` included), with the edge's own op modules."""
    dim_2 = x.shape[1]
    xtemp, xtemp2 = x[:, : dim_2 // k], x[:, dim_2 // k:]
    temp1 = sum(w * op(xtemp) for w, op in zip(weights, ops))
    if temp1.shape[2] == x.shape[2]:
        ans = torch.cat([temp1, xtemp2], dim=1)
    else:
        ans = torch.cat([temp1, nn.MaxPool2d(2, 2)(xtemp2)], dim=1)
    return reference_shuffle(ans, k)


def pc_edge(ops, C, stride, k=4, seed=0):
    torch.manual_seed(seed)
    edge = MixedEdge(ops, C, stride)
    edge.ops = edge.build_ops(C // k)
    edge.extensions["partial_channels"] = PartialChannels(k)
    return edge


DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
             "dil_conv_3x3", "dil_conv_5x5")


# --------------------------------------------------------------------------------------------- shuffle
def test_channel_shuffle_is_the_codes_permutation():
    x = torch.arange(8.0).reshape(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]  # channel g*2 + c -> c*4 + g
    y = torch.randn(3, 12, 5, 5)
    for groups in (1, 2, 3, 4, 6):
        assert torch.equal(channel_shuffle(y, groups), reference_shuffle(y, groups))
    last = y.contiguous(memory_format=torch.channels_last)
    out = channel_shuffle(last, 4)
    assert torch.equal(out, reference_shuffle(y, 4)) and out.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(channel_shuffle(y, 4), reference_shuffle(y, 3))  # control: the groups matter
    with pytest.raises(ValueError, match="divisible"):
        channel_shuffle(y, 5)


# ---------------------------------------------------------------------------------- the mixed op
@pytest.mark.parametrize("stride", [1, 2])
def test_partial_channel_edge_equals_the_codes_mixed_op(stride):
    edge = pc_edge(DARTS_OPS, 16, stride)
    edge.train()
    torch.manual_seed(1)
    x = torch.randn(4, 16, 8, 8)
    w = torch.softmax(torch.randn(len(DARTS_OPS)), -1)
    out = edge(x, w)
    assert out.shape == (4, 16, 8 // stride, 8 // stride)
    assert torch.allclose(out, reference_mixed_op(edge.ops, x, w, 4), atol=1e-6)
    # the bypassed channels are x's own (pooled at stride 2), not weighted: 3 of every 4 output channels
    bypass = x[:, 4:] if stride == 1 else nn.functional.max_pool2d(x[:, 4:], 2, 2)
    kept = [c for c in range(16) if c % 4 != 0]
    assert torch.equal(out[:, kept], reference_shuffle(torch.cat([torch.zeros(4, 4, *bypass.shape[2:]), bypass], 1), 4)[:, kept])


def test_a_wrong_shuffle_or_bypass_is_detected(monkeypatch):
    """Controls: the comparison with the code's op fails for the channel shift the code mentions as an
    alternative, for a shuffle with the groups transposed, and for a bypass weighted like the ops."""
    edge = pc_edge(DARTS_OPS, 24, 1)  # C/K = 6, not K: a shuffle with the groups transposed is another one
    torch.manual_seed(1)
    x, w = torch.randn(4, 24, 8, 8), torch.softmax(torch.randn(len(DARTS_OPS)), -1)
    reference = reference_mixed_op(edge.ops, x, w, 4)
    assert torch.allclose(edge(x, w), reference, atol=1e-6)
    wrong_shuffles = [lambda y, g: torch.cat([y[:, y.shape[1] // g:], y[:, : y.shape[1] // g]], dim=1),  # shift
                      lambda y, g: reference_shuffle(y, y.shape[1] // g)]                               # transposed
    for wrong in wrong_shuffles:
        monkeypatch.setattr(pc_darts, "channel_shuffle", wrong)
        assert not torch.allclose(edge(x, w), reference, atol=1e-3)
    monkeypatch.undo()
    scaled = reference_mixed_op(edge.ops, x * torch.tensor([1.0] * 6 + [0.5] * 18)[None, :, None, None], w, 4)
    assert not torch.allclose(edge(x, w), scaled, atol=1e-3)


def test_k1_is_plain_darts(one_thread):
    """Control: with K = 1 every channel goes through the ops and the shuffle is the identity, so a PC-DARTS
    supernet without edge normalisation computes what the DARTS supernet with the same weights computes."""
    torch.manual_seed(0)
    plain = build_supernet("darts", C=8, layers=3, num_classes=10, in_channels=1)
    torch.manual_seed(0)
    pc = build_supernet("darts", C=8, layers=3, num_classes=10, in_channels=1)
    pc_darts.add_partial_channels(pc, 1)
    pc.load_state_dict(plain.state_dict())
    x = torch.randn(4, 1, 16, 16)
    assert torch.allclose(pc(x), plain(x), atol=1e-5)
    four = build_supernet("darts", C=8, layers=3, num_classes=10, in_channels=1)
    pc_darts.add_partial_channels(four, 4)
    assert sum(p.numel() for p in four.weight_parameters()) < sum(p.numel() for p in plain.weight_parameters())


# ------------------------------------------------------------------------------- edge normalisation
def test_edge_normalisation_weights_each_edge_by_the_softmax_over_its_node(one_thread):
    torch.manual_seed(0)
    model = build_supernet("darts", C=8, layers=3, num_classes=10, in_channels=1)
    betas = pc_darts.add_edge_normalization(model)
    pc_darts.add_partial_channels(model, 4)
    with torch.no_grad():
        betas.betas["normal"].copy_(torch.randn(14))
    assert any(p is betas.betas["normal"] for p in model.arch_parameters())
    assert all(p is not betas.betas["normal"] for p in model.weight_parameters())
    weights = betas.edge_weights("normal")
    node_sums = [weights[a:b].sum().item() for a, b in ((0, 2), (2, 5), (5, 9), (9, 14))]
    assert node_sums == pytest.approx([1.0] * 4)
    assert torch.allclose(weights[2:5], torch.softmax(betas.betas["normal"][2:5], 0))

    cell = model.cells[0]  # a normal cell: node j = sum_i softmax(beta)_i * f_PC(x_i), the code's Cell.forward
    cell.train()
    s0, s1 = torch.randn(2, 24, 16, 16), torch.randn(2, 24, 16, 16)
    w = model.op_weights()["normal"]
    out = cell(s0, s1, w)
    states = [cell.preprocess0(s0), cell.preprocess1(s1)]
    offset = 0
    for _ in range(4):
        states.append(sum(weights[offset + j] * reference_mixed_op(cell.edges[offset + j].ops, h, w[offset + j], 4)
                          for j, h in enumerate(states)))
        offset += len(states) - 1
    assert torch.allclose(out, torch.cat(states[2:], dim=1), atol=1e-5)
    plain = sum(reference_mixed_op(cell.edges[j].ops, h, w[j], 4) for j, h in enumerate(states[:2]))
    assert not torch.allclose(states[2], plain, atol=1e-3)  # control: without the edge weights it differs


def test_the_cell_is_derived_from_edge_weight_times_op_weight(one_thread):
    """The code's genotype(): W[j, :] * W2[j], then DARTS' rule (ranking edges by their best non-none product)."""
    torch.manual_seed(0)
    model = build_supernet("darts", C=8, layers=3, num_classes=10, in_channels=1)
    betas = pc_darts.add_edge_normalization(model)
    with torch.no_grad():
        betas.betas["normal"].copy_(3 * torch.randn(14))
        for a in model.arch_parameters()[:2]:
            a.copy_(torch.randn_like(a))
    with torch.no_grad():
        alphas = {ct: torch.softmax(model.arch_params[ct], -1) for ct in ("normal", "reduce")}
        expected = derive_darts({ct: a * betas.edge_weights(ct)[:, None] for ct, a in alphas.items()})
        assert derive_darts(model.derivation_weights()) == expected
        assert derive_darts(alphas) != expected  # control: the betas change the cell here


# ------------------------------------------------------------------------------------- the method
def test_pc_darts_preset_and_switch():
    config = make_config("pc-darts", "darts")
    assert config.method_options == {"partial_channels": 4, "edge_normalization": True}
    assert (config.batch_size, config.lr, config.lr_min, config.arch_lr, config.arch_weight_decay, config.epochs) == (
        256, 0.1, 0.001, 6e-4, 1e-3, 50)
    assert make_config("pc-darts", "nb201").method_options == {"partial_channels": 4, "edge_normalization": False}
    assert make_config("darts", "darts", partial_channels=2).method_options == {"partial_channels": 2}
    with pytest.raises(ValueError, match="partial_channels K=3 must divide --C"):
        make_config("pc-darts", "darts", C=16, partial_channels=3)
    with pytest.raises(ValueError, match="partial_channels"):
        make_config("darts", "darts", partial_channels=0)
    with pytest.raises(ValueError, match="do not support .*partial_channels"):
        check_batchable([make_config("pc-darts", "nb201", "toy", seed=s) for s in (0, 1)])
    model = build_supernet("nb201", C=8, cells_per_stage=1)
    before = sum(p.numel() for p in model.weight_parameters())
    prepare_supernet(model, make_config("pc-darts", "nb201", "toy"))
    assert sum(p.numel() for p in model.weight_parameters()) < before and not model.arch_extensions


def test_a_pc_darts_search_runs_records_and_resumes_bit_identically(tmp_path, one_thread):
    config = make_config("pc-darts", "darts", "toy", layers=3, **TINY)
    straight = search(config, progress=False)
    weights = straight.history[-1]["edge_weights"]["normal"]
    assert len(weights) == 14 and sum(weights[:2]) == pytest.approx(1.0)
    assert len(straight.model.arch_parameters()) == 4  # alphas and betas of both cell types
    run = Search(config, tmp_path, progress=False)
    stopper = StopAt(1, 1)
    stopper.search = run
    run.hooks.append(stopper)
    with pytest.raises(SearchInterrupted):
        run.run()
    resumed = Search.resume(tmp_path, progress=False).run()
    for a, b in zip(straight.model.arch_parameters(), resumed.model.arch_parameters()):
        assert torch.equal(a, b)
    keep = lambda h: {k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
    assert [keep(h) for h in straight.history] == [keep(h) for h in resumed.history]
    assert isinstance(straight.model.arch_extensions["edge_normalization"], EdgeBetas)


def test_the_benchmark_runs_ci_sized_and_pc_darts_keeps_less_for_backward(tmp_path):
    """benchmarks/bench_pc_darts.py, CI-sized: the report is complete, and partial channels keep less
    activation memory and fewer weights than DARTS (counted, no timing assertions)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pc_darts.py"
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(script), "--batch", "4", "--reps", "1", "--warmup", "0",
                           "--settings", "regime", "paper-darts", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    regime, paper = report["results"]
    assert regime["memory_counted_on"] == "cpu" and paper["memory_counted_on"] == "meta"
    for r in (regime, paper):
        assert 0 < r["ratio_saved"] < 0.6 and 0 < r["ratio_params"] < 0.3
    assert regime["darts"]["step_cpu_s"] > 0 and "step_s" not in paper["darts"]
    assert "| regime | cpu |" in done.stdout and report["machine"]["torch_threads"] == 1
