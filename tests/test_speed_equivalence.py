"""dartslib's fast supernet computes what the paper-faithful baseline (benchmarks/baseline.py) computes.

The baseline runs every op on every edge (``none`` included), one module per op per edge, NCHW, PyTorch's
pooling. dartslib leaves ``none`` out, shares the ReLU and pooling+BN outputs of the edges leaving one node,
computes stride-2 dilated convs on the even pixels, average-pools with a convolution and runs in
channels_last. With the same weights, the logits, every gradient (weights and alphas), the BN running
statistics and whole search steps must agree within float tolerance.
"""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from baseline import baseline_step, build_baseline  # noqa: E402

from dartslib import build_supernet  # noqa: E402
from dartslib.space.ops import DilConv, build_op  # noqa: E402
from dartslib.engine.steps import arch_step_first_order, weight_step  # noqa: E402
from dartslib.space.supernet import NodeShare  # noqa: E402

CONFIGS = {  # small, but with reduction cells, a cell after a reduction (FactorizedReduce) and several nodes
    "darts": dict(C=4, layers=5),
    "nb201": dict(C=4, cells_per_stage=2),
    "s1": dict(C=4, layers=3),
    "darts-nonone": dict(C=4, layers=3),
}


def pair(space, channels_last=True, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    baseline = build_baseline(space, **CONFIGS[space]).to(dtype)
    fast = build_supernet(space, **CONFIGS[space], channels_last=channels_last).to(dtype)
    fast.load_state_dict(baseline.state_dict())
    with torch.no_grad():  # alphas away from uniform, so that every op's weight differs
        for a, b in zip(baseline.arch_parameters(), fast.arch_parameters()):
            a.copy_(torch.randn_like(a))
            b.copy_(a)
    return baseline, fast


def gradients(model, x, y):
    model.zero_grad(set_to_none=True)
    logits = model(x)
    torch.nn.functional.cross_entropy(logits, y).backward()
    named = dict(model.named_parameters())
    return logits.detach(), {name: p.grad.clone() for name, p in named.items()}


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("space", sorted(CONFIGS))
def test_same_logits_gradients_and_running_stats(space, channels_last, one_thread):
    baseline, fast = pair(space, channels_last)
    if channels_last:  # the optimisation is on: weights and activations in NHWC
        assert fast.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(3, 3, 16, 16, dtype=torch.float64)
    y = torch.tensor([0, 3, 9])
    logits_b, grads_b = gradients(baseline, x, y)
    logits_f, grads_f = gradients(fast, x, y)
    torch.testing.assert_close(logits_f, logits_b, rtol=1e-9, atol=1e-10)
    assert set(grads_f) == set(grads_b)
    for name, g in grads_b.items():
        torch.testing.assert_close(grads_f[name], g, rtol=1e-8, atol=1e-10, msg=f"gradient of {name}")
    assert any(g.abs().sum() > 0 for n, g in grads_f.items() if n.startswith("arch_params"))
    # shared pooling + BN: every edge's BN buffers hold what its own computation would have left there
    state_b, state_f = baseline.state_dict(), fast.state_dict()
    assert set(state_b) == set(state_f)
    for name, value in state_b.items():
        torch.testing.assert_close(state_f[name], value, rtol=1e-9, atol=1e-12, msg=f"buffer {name}")
    # eval mode (running statistics, no sharing) agrees too
    baseline.eval(), fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(x), baseline(x), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype, steps, tol", [(torch.float64, 3, 1e-7), (torch.float32, 1, 1e-4)])
@pytest.mark.parametrize("space", ["darts", "nb201"])
def test_search_steps_agree(space, dtype, steps, tol, one_thread):
    """First-order search steps (alphas on a validation batch, then clipped weights) from the same start:
    the two implementations' losses, weights and alphas agree (float64: over three steps, to round-off;
    float32: one step; over several float32 steps the round-off of batch-4 BN grows, as it would between
    any two float32 implementations)."""
    baseline, fast = pair(space, dtype=dtype)
    opts = []
    for model in (baseline, fast):
        opts.append((torch.optim.SGD(model.weight_parameters(), 0.025, momentum=0.9, weight_decay=3e-4),
                     torch.optim.Adam(model.arch_parameters(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)))
    alphas_before = [a.detach().clone() for a in fast.arch_parameters()]
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, x_val = (torch.randn(4, 3, 16, 16, generator=gen).to(dtype) for _ in range(2))
        y, y_val = torch.randint(0, 10, (4,), generator=gen), torch.randint(0, 10, (4,), generator=gen)
        loss_b = baseline_step(baseline, x, y, x_val, y_val, *opts[0], grad_clip=5.0)
        arch_step_first_order(fast, x_val, y_val, opts[1][1])
        loss_f, _ = weight_step(fast, x, y, opts[1][0], 5.0)
        assert loss_f.item() == pytest.approx(loss_b, rel=tol)
    params_b = dict(baseline.named_parameters())
    for name, p in fast.named_parameters():
        torch.testing.assert_close(p, params_b[name], rtol=tol, atol=tol / 10, msg=f"parameter {name}")
    for a_b, a_f, a_0 in zip(baseline.arch_parameters(), fast.arch_parameters(), alphas_before):
        assert (a_f - a_0).abs().max() > 1e-5  # the alphas did move (and moved alike)
        torch.testing.assert_close(a_f, a_b, rtol=tol, atol=tol / 100)


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("size", [8, 7])  # odd sizes too: the even-pixel trick must keep ceil(H / 2)
def test_strided_dilated_conv_on_even_pixels_is_exact(k, size, one_thread):
    torch.manual_seed(0)
    op = build_op(f"dil_conv_{k}x{k}", 3, stride=2, affine=False).double()
    assert isinstance(op, DilConv) and op._subsample
    x = torch.randn(2, 3, size, size, dtype=torch.float64, requires_grad=True)
    reference = op[3](op[2](op[1](op[0](x))))  # the module's own dilated, strided convolution
    fast = op(x)
    assert fast.shape == reference.shape == (2, 3, (size + 1) // 2, (size + 1) // 2)
    torch.testing.assert_close(fast, reference, rtol=1e-12, atol=1e-12)
    g_ref = torch.autograd.grad(reference.square().sum(), (x, op[1].weight, op[2].weight))
    g_fast = torch.autograd.grad(fast.square().sum(), (x, op[1].weight, op[2].weight))
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_node_share_computes_pooling_once_per_node(one_thread):
    """Two edges leaving one node: the second reuses the first's pooled tensors (the same objects) and ends
    with the same BN buffers; the ReLU is computed once; the output equals the unshared computation's."""
    from dartslib.space.supernet import MixedEdge

    torch.manual_seed(0)
    ops = ("max_pool_3x3", "avg_pool_3x3", "sep_conv_3x3")
    first = MixedEdge(ops, 4, 1)
    second, alone = MixedEdge(ops, 4, 1), MixedEdge(ops, 4, 1)
    second.load_state_dict(first.state_dict())
    alone.load_state_dict(first.state_dict())
    x = torch.randn(2, 4, 6, 6)
    w = torch.softmax(torch.randn(3), 0)
    share = NodeShare(x)
    out_first = first(x, w, share)
    pooled = {key: t for key, (t, _) in share.pooled.items()}
    relu = share.relu
    out_second = second(x, w, share)
    assert share.relu is relu
    assert all(share.pooled[key][0] is t for key, t in pooled.items()) and len(pooled) == 2
    out_alone = alone(x, w)
    torch.testing.assert_close(out_second, out_alone, rtol=0, atol=0)
    torch.testing.assert_close(out_first, out_alone, rtol=0, atol=0)
    for edge in (first, second):
        for name, value in alone.state_dict().items():
            assert torch.equal(edge.state_dict()[name], value), name
