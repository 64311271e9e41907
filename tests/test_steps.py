"""The update steps of :mod:`dartslib.engine.steps`: BN statistics of the second-order step (as DARTS), the loss
function they take."""
import copy

import pytest
import torch
from torch import nn

from dartslib import build_supernet
from dartslib.engine.steps import arch_step_first_order, arch_step_second_order, single_level_step, weight_step

pytestmark = pytest.mark.usefixtures("one_thread")


def _setup(seed=0):
    torch.manual_seed(seed)
    model = build_supernet("nb201", C=4, cells_per_stage=1, num_classes=3)
    model.train()
    g = torch.Generator().manual_seed(seed + 1)
    x, xv = torch.randn(8, 3, 8, 8, generator=g), torch.randn(8, 3, 8, 8, generator=g)
    y, yv = torch.randint(3, (8,), generator=g), torch.randint(3, (8,), generator=g)
    return model, x, y, xv, yv


def _optimizers(model):
    w_opt = torch.optim.SGD(model.weight_parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    a_opt = torch.optim.Adam(model.arch_parameters(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    return w_opt, a_opt


def _bn_counts(model):
    counts = {name: int(m.num_batches_tracked) for name, m in model.named_modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats}
    assert counts  # the supernet has BNs that track (a test without any could not fail)
    return counts


def _second_order_search_step(model, w_opt, a_opt, x, y, xv, yv):
    arch_step_second_order(model, x, y, xv, yv, w_opt, a_opt, 0.025)
    weight_step(model, x, y, w_opt, 5.0)


def test_second_order_step_updates_bn_statistics_as_darts():
    """DARTS (quark0/darts, cnn/architect.py) runs the validation forward at w' on a copy of the model, so
    the live BNs see the training forward and the two finite-difference forwards: 3 updates per
    architecture step, 4 per search step with the weight step."""
    model, x, y, xv, yv = _setup()
    w_opt, a_opt = _optimizers(model)
    before = _bn_counts(model)
    arch_step_second_order(model, x, y, xv, yv, w_opt, a_opt, 0.025)
    after_arch = _bn_counts(model)
    assert all(after_arch[n] - before[n] == 3 for n in before), after_arch
    weight_step(model, x, y, w_opt, 5.0)
    assert all(c - before[n] == 4 for n, c in _bn_counts(model).items())
    for _ in range(2):  # and so on every step (momentum buffers now exist)
        _second_order_search_step(model, w_opt, a_opt, x, y, xv, yv)
    assert all(c - before[n] == 12 for n, c in _bn_counts(model).items())


def test_second_order_bn_copy_changes_no_gradient_only_the_statistics():
    model, x, y, xv, yv = _setup()
    live = copy.deepcopy(model)  # the previous behaviour: the validation forward on the live buffers
    live.named_buffers = lambda *args, **kwargs: iter(())  # the step then copies none
    opts, live_opts = _optimizers(model), _optimizers(live)
    for _ in range(3):
        _second_order_search_step(model, *opts, x, y, xv, yv)
        _second_order_search_step(live, *live_opts, x, y, xv, yv)
    for a, b in zip(model.arch_parameters(), live.arch_parameters()):
        assert torch.equal(a, b)  # training-mode BN normalises with the batch: the same steps exactly
    for (name, a), (_, b) in zip(model.named_parameters(), live.named_parameters()):
        assert torch.equal(a, b), name
    bn, bn_live = model.stem[1], live.stem[1]
    assert int(bn_live.num_batches_tracked) - int(bn.num_batches_tracked) == 3  # one more per step
    assert not torch.allclose(bn.running_mean, bn_live.running_mean)  # the validation batch left out


def test_second_order_bn_statistics_come_from_the_training_batch_only():
    """With the validation batch shifted far away, the stem BN's running mean would follow it if the
    validation forward reached the live BNs; it matches the three training-batch forwards instead (up to
    the finite-difference shift of the weights in two of them)."""
    model, x, y, xv, yv = _setup()
    reference, live = copy.deepcopy(model), copy.deepcopy(model)
    live.named_buffers = lambda *args, **kwargs: iter(())  # the previous behaviour, as the control
    for m in (model, live):
        arch_step_second_order(m, x, y, xv + 100.0, yv, *_optimizers(m), 0.025)
    with torch.no_grad():  # the three training-batch forwards of the step, on the reference's stem
        for _ in range(3):
            reference.stem(x)
    expected = reference.stem[1].running_mean
    assert torch.allclose(model.stem[1].running_mean, expected, atol=1e-3)
    assert (live.stem[1].running_mean - expected).abs().max() > 1.0


def test_steps_take_a_loss_function():
    """``loss_fn`` replaces the cross-entropy in every step; the default is the cross-entropy."""
    model, x, y, xv, yv = _setup()
    seen = []

    def mse_on_logits(output, target):
        seen.append(output.shape)
        return ((output - nn.functional.one_hot(target, 3).float()) ** 2).mean()

    default, custom = copy.deepcopy(model), copy.deepcopy(model)
    for m, kwargs in ((default, {}), (custom, {"loss_fn": mse_on_logits})):  # every step, in turn
        w_opt, a_opt = _optimizers(m)
        arch_step_first_order(m, xv, yv, a_opt, **kwargs)
        weight_step(m, x, y, w_opt, 5.0, **kwargs)
        single_level_step(m, x, y, w_opt, a_opt, 5.0, **kwargs)
        arch_step_second_order(m, x, y, xv, yv, w_opt, a_opt, 0.025, **kwargs)
    assert len(seen) == 7  # 1 + 1 + 1 + 4 forwards (second order: train, val at w', w+, w-)
    assert not torch.allclose(default.arch_parameters()[0], custom.arch_parameters()[0])
    plain = copy.deepcopy(model)
    w_opt, a_opt = _optimizers(plain)
    loss, _ = weight_step(plain, x, y, w_opt, 5.0, loss_fn=nn.CrossEntropyLoss())
    w_opt2, _ = _optimizers(model)
    loss_default, _ = weight_step(model, x, y, w_opt2, 5.0)
    assert torch.equal(loss, loss_default)
