"""The search loop: update steps, checkpoints, exact resume, interruption, divergence."""
import json
import os
import signal

import pytest
import torch
from torch import nn
from torch.func import functional_call

from dartslib import build_supernet, make_config
from dartslib.engine.checkpoint import CheckpointError, load_checkpoint
from dartslib.engine.loop import Search, SearchDiverged, SearchHook, SearchInterrupted, search
from dartslib.engine.steps import arch_step_second_order, finite_difference_hvp


def tiny_config(**overrides):
    values = dict(epochs=3, C=4, cells_per_stage=1, max_steps_per_epoch=3, batch_size=32, image_size=8)
    values.update(overrides)
    return make_config("darts", "nb201", "toy", **values)


class StopAt(SearchHook):
    """Asks the search to stop before step ``step`` of epoch ``epoch`` (as Ctrl-C does)."""

    def __init__(self, epoch, step, via_signal=False):
        self.epoch, self.step, self.via_signal, self.search = epoch, step, via_signal, None

    def before_step(self, model, ctx):
        if (ctx.epoch, ctx.step) == (self.epoch, self.step):
            if self.via_signal:
                os.kill(os.getpid(), signal.SIGINT)
            else:
                self.search.request_stop()


def _comparable(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_search_writes_history_result_and_checkpoint(tmp_path):
    result = search(tiny_config(), tmp_path, progress=False)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(lines) == 3
    record = json.loads(lines[-1])
    assert {"epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "op_weights", "genotype"} <= set(record)
    assert len(record["op_weights"]["cell"]) == 6 and len(record["op_weights"]["cell"][0]) == 5
    assert abs(sum(record["op_weights"]["cell"][0]) - 1) < 1e-6
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["genotype"] == result.genotype and saved["genotype"].startswith("|")
    assert saved["config"]["space"] == "nb201"
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 3 and not list(tmp_path.glob(".*.tmp"))
    # cosine schedule from 0.025 towards 0.001, stepped per epoch
    assert [h["lr"] for h in result.history][0] == pytest.approx(0.025)
    assert result.history[1]["lr"] < 0.025


@pytest.mark.parametrize("stop_epoch, stop_step", [(1, 1), (2, 0)])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, stop_epoch, stop_step):
    reference = search(tiny_config(), tmp_path / "a", progress=False)
    stopper = StopAt(stop_epoch, stop_step)
    run = Search(tiny_config(), tmp_path / "b", progress=False, hooks=[stopper])
    stopper.search = run
    with pytest.raises(SearchInterrupted) as info:
        run.run()
    assert info.value.checkpoint == tmp_path / "b" / "checkpoint.pt"
    resumed = Search.resume(tmp_path / "b", progress=False).run()
    for (name, a), (_, b) in zip(reference.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert resumed.genotype == reference.genotype
    assert _comparable(resumed.history) == _comparable(reference.history)


def test_ctrl_c_saves_and_a_second_run_resumes(tmp_path):
    # the handler the run found (Python's default, or SIG_IGN when the test process was started in the
    # background by a non-interactive shell) is the one it must leave behind
    before = signal.getsignal(signal.SIGINT)
    run = Search(tiny_config(), tmp_path, progress=False, hooks=[StopAt(1, 1, via_signal=True)])
    with pytest.raises(SearchInterrupted):
        run.run()
    assert signal.getsignal(signal.SIGINT) is before
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 2)
    assert Search.resume(tmp_path, progress=False).run().metrics["epochs"] == 3


class PoisonWeights(SearchHook):
    def on_epoch_start(self, model, epoch, epochs):
        if epoch == 1:
            with torch.no_grad():
                model.classifier.weight.fill_(float("nan"))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    run = Search(tiny_config(), tmp_path, progress=False, hooks=[PoisonWeights()])
    with pytest.raises(SearchDiverged, match="training loss became nan in epoch 2.*last good checkpoint"):
        run.run()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_corrupt_checkpoint_is_reported(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        Search.resume(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Search.resume(tmp_path / "missing")


def test_validation_stream_is_persistent_across_steps():
    run = Search(tiny_config(epochs=1, max_steps_per_epoch=4), None, progress=False)
    run.run()
    assert run.arch_stream.state_dict() == {"pass_index": 0, "position": 4}


def test_first_order_moves_alphas_with_the_validation_gradient_only():
    run = Search(tiny_config(epochs=1, max_steps_per_epoch=1, arch_lr=0.0), None, progress=False)
    before = [a.detach().clone() for a in run.model.arch_parameters()]
    run.run()
    assert all(torch.equal(a, b) for a, b in zip(before, run.model.arch_parameters()))


def _double_model():
    torch.manual_seed(0)
    model = build_supernet("nb201", C=2, cells_per_stage=1).double()
    x, y = torch.randn(4, 3, 6, 6, dtype=torch.float64), torch.randint(0, 10, (4,))
    xv, yv = torch.randn(4, 3, 6, 6, dtype=torch.float64), torch.randint(0, 10, (4,))
    return model, x, y, xv, yv


def test_finite_difference_hvp_matches_autograd():
    model, x, y, _, _ = _double_model()
    weights = dict(model.named_weight_parameters())
    torch.manual_seed(1)
    v = [torch.randn_like(w) for w in weights.values()]
    norm = torch.cat([t.flatten() for t in v]).norm()
    approx = finite_difference_hvp(model, x, y, weights, v, 1e-5 / norm)
    # exact mixed derivative: d/d alpha of <grad_w L, v>
    g_w = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), list(weights.values()), create_graph=True)
    dot = sum((g * t).sum() for g, t in zip(g_w, v))
    exact = torch.autograd.grad(dot, model.arch_parameters())
    assert torch.allclose(approx[0], exact[0], rtol=1e-5, atol=1e-7)
    # Where the loss is smooth on the scale of r the central difference's error is O(r^2): 10x the radius,
    # about 100x the error (here r = 1e-5 -> 1e-4; the fine radius above is accurate to ~1e-10).
    mid = finite_difference_hvp(model, x, y, weights, v, 1e-4 / norm)
    err_fine = (approx[0] - exact[0]).abs().max()
    err_mid = (mid[0] - exact[0]).abs().max()
    assert 10 * err_fine < err_mid < 0.01 * exact[0].abs().max()
    # DARTS' own radius r = 0.01 / ||v|| is NOT asserted: on this ReLU net a kink lies within 0.01 of w for
    # most draws (measured over 5 seeds: relative error 2.2-6.9 for 4 of 5 before the NB201 fix, 2.4-31.6 for
    # 5 of 5 after it), so the one instance that used to be within 5% was luck, not a property.


def test_second_order_step_matches_the_exact_unrolled_gradient():
    """With no momentum and no weight decay, DARTS' update equals d/d alpha L_val(w - xi grad_w L_train)."""
    model, x, y, xv, yv = _double_model()
    model.train()
    xi = 0.05
    alpha = model.arch_parameters()[0]
    names, weights = zip(*model.named_weight_parameters())
    # exact: differentiate through the virtual step
    g_w = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), weights, create_graph=True)
    unrolled = {n: w - xi * g for n, w, g in zip(names, weights, g_w)}
    val = nn.functional.cross_entropy(functional_call(model, unrolled, (xv,)), yv)
    exact = torch.autograd.grad(val, alpha)[0]
    # DARTS' finite-difference version, read off a plain SGD step of lr 1 on the alphas
    w_opt = torch.optim.SGD(weights, lr=xi)
    a_opt = torch.optim.SGD([alpha], lr=1.0)
    before = alpha.detach().clone()
    arch_step_second_order(model, x, y, xv, yv, w_opt, a_opt, xi, fd_scale=1e-5)
    approx = before - alpha.detach()
    assert torch.allclose(approx, exact, rtol=1e-4, atol=1e-8)
    first_order = torch.autograd.grad(nn.functional.cross_entropy(model(xv), yv), alpha)[0]
    assert not torch.allclose(first_order, exact, rtol=1e-3, atol=1e-8)  # the implicit term matters


def test_second_order_search_runs():
    result = search(make_config("darts-2nd", "nb201", "toy", epochs=1, C=4, cells_per_stage=1,
                                max_steps_per_epoch=2, batch_size=16, image_size=8), progress=False)
    assert result.genotype.startswith("|")


def test_darts_topology_search_runs():
    result = search(make_config("darts", "s3", "toy", epochs=1, C=4, layers=3, max_steps_per_epoch=2,
                                batch_size=16, image_size=8), progress=False)
    assert result.genotype.startswith("Genotype(normal=[")
    assert len(result.arch_weights["normal"]) == 14 and len(result.arch_weights["normal"][0]) == 3
