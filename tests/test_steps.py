"""The update steps of :mod:`dartslib.engine.steps`: BN statistics of the second-order step (as DARTS), the loss
function they take, the one dispatcher of a search step (:func:`search_step`) and the optimizers
(:func:`make_optimizers`)."""
import copy

import pytest
import torch
from torch import nn

from dartslib import build_supernet
from dartslib.engine.config import make_config
from dartslib.engine.steps import (arch_step_first_order, arch_step_second_order, make_optimizers, search_step,
                                   single_level_step, weight_step)
from dartslib.hooks import SearchHook, arch_loss_terms, call_hooks

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


def _by_hand(model, update, step_order, x, y, xv, yv, w_opt, a_opt, terms):
    """The steps of ``update`` written out (DARTS: the alphas first, then the weights with the new alphas)."""
    if update == "single-level":
        return single_level_step(model, x, y, w_opt, a_opt, 5.0, terms)
    if step_order == "weights-first":
        out = weight_step(model, x, y, w_opt, 5.0)
    if update == "bilevel-2nd":
        arch_step_second_order(model, x, y, xv, yv, w_opt, a_opt, 0.025, terms)
    else:
        arch_step_first_order(model, xv, yv, a_opt, terms)
    if step_order == "arch-first":
        out = weight_step(model, x, y, w_opt, 5.0)
    return out


@pytest.mark.parametrize("update, step_order", [("bilevel-1st", "arch-first"), ("same-subset", "arch-first"),
                                                ("bilevel-2nd", "arch-first"), ("bilevel-1st", "weights-first"),
                                                ("single-level", "arch-first")])
def test_search_step_is_the_steps_of_its_update_in_order(update, step_order):
    """Bit-identical to the steps written out, twice (momentum and Adam state in play); a control that swaps
    the order differs. The architecture batch is drawn (once) only by the updates that use one."""
    model, x, y, xv, yv = _setup()
    term = lambda: 0.1 * model.arch_parameters()[0].pow(2).sum()  # noqa: E731 (an arch-loss term)
    by_hand, dispatched = copy.deepcopy(model), model
    opts_hand, opts = _optimizers(by_hand), _optimizers(dispatched)
    term_hand = lambda: 0.1 * by_hand.arch_parameters()[0].pow(2).sum()  # noqa: E731
    drawn = []

    def arch_batch():
        drawn.append(1)
        return xv, yv

    for _ in range(2):
        expected = _by_hand(by_hand, update, step_order, x, y, xv, yv, *opts_hand, [term_hand])
        got = search_step(dispatched, update, (x, y), arch_batch, *opts, arch_terms=[term], grad_clip=5.0,
                          xi=0.025, step_order=step_order)
        assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])
    assert len(drawn) == (0 if update == "single-level" else 2)
    for (name, a), (_, b) in zip(by_hand.named_parameters(), dispatched.named_parameters()):
        assert torch.equal(a, b), name
    if update != "single-level":  # control: the other order moves the numbers
        other = copy.deepcopy(model)
        search_step(other, update, (x, y), (xv, yv), *_optimizers(other), arch_terms=[term], grad_clip=5.0,
                    xi=0.025, step_order="weights-first" if step_order == "arch-first" else "arch-first")
        after = copy.deepcopy(model)
        search_step(after, update, (x, y), (xv, yv), *_optimizers(after), arch_terms=[term], grad_clip=5.0,
                    xi=0.025, step_order=step_order)
        assert not torch.equal(other.arch_parameters()[0], after.arch_parameters()[0])


def test_search_step_refuses_an_unknown_update_or_order():
    model, x, y, xv, yv = _setup()
    with pytest.raises(ValueError, match="unknown update 'bilevel-3rd'"):
        search_step(model, "bilevel-3rd", (x, y), (xv, yv), *_optimizers(model))
    with pytest.raises(ValueError, match="unknown step order"):
        search_step(model, "bilevel-1st", (x, y), (xv, yv), *_optimizers(model), step_order="random")


def test_per_model_losses_are_summed_and_returned():
    """A ``loss_fn`` returning one loss per model (the seed-batched search) steps on their sum and the step
    returns them; ``clip_fn`` replaces the clipping."""
    model, x, y, xv, yv = _setup()
    twin = copy.deepcopy(model)
    clipped = []

    def halves(output, target):  # two "models" with half the loss each: their sum is the loss exactly
        return nn.functional.cross_entropy(output, target) * torch.tensor([0.5, 0.5])

    def clip(params, max_norm):
        clipped.append(max_norm)
        nn.utils.clip_grad_norm_(params, max_norm)

    for update in ("bilevel-1st", "single-level"):
        loss, _ = search_step(model, update, (x, y), (xv, yv), *_optimizers(model), grad_clip=5.0,
                              loss_fn=halves, clip_fn=clip)
        total, _ = search_step(twin, update, (x, y), (xv, yv), *_optimizers(twin), grad_clip=5.0)
        assert loss.shape == (2,) and torch.equal(loss.sum(), total)
        for a, b in zip(model.parameters(), twin.parameters()):
            assert torch.equal(a, b)
    assert clipped == [5.0, 5.0]


def test_make_optimizers_reads_the_config():
    model = build_supernet("nb201", C=4, cells_per_stage=1, num_classes=3)
    config = make_config("darts", "nb201", "toy", lr=0.05, momentum=0.8, weight_decay=1e-4, nesterov=True,
                         arch_lr=2e-3, arch_betas=(0.4, 0.9), arch_weight_decay=5e-3)
    weights, alphas = make_optimizers(model, config)
    w, a = weights.param_groups[0], alphas.param_groups[0]
    assert isinstance(weights, torch.optim.SGD) and isinstance(alphas, torch.optim.Adam)
    assert (w["lr"], w["momentum"], w["weight_decay"], w["nesterov"]) == (0.05, 0.8, 1e-4, True)
    assert (a["lr"], a["betas"], a["weight_decay"]) == (2e-3, (0.4, 0.9), 5e-3)
    assert [id(p) for p in w["params"]] == [id(p) for p in model.weight_parameters()]
    assert [id(p) for p in a["params"]] == [id(p) for p in model.arch_parameters()]
    _, sgd = make_optimizers(model, config, "sgd")
    g = sgd.param_groups[0]
    assert isinstance(sgd, torch.optim.SGD) and (g["lr"], g["momentum"], g["weight_decay"]) == (2e-3, 0.8, 5e-3)
    with pytest.raises(ValueError, match="unknown arch_optimizer 'rmsprop'"):
        make_optimizers(model, config, "rmsprop")


def test_hooks_are_called_on_their_own_models_in_order():
    calls = []

    class Recorder(SearchHook):
        def __init__(self, name):
            self.name = name

        def before_step(self, model, ctx):
            calls.append((self.name, model, ctx))

        def arch_loss(self, model):
            return torch.tensor(float(len(model)))

    a, b = nn.Sequential(nn.Identity()), nn.Sequential(nn.Identity(), nn.Identity())
    hooked = [(a, [Recorder("a1"), SearchHook(), Recorder("a2")]), (b, [Recorder("b")])]
    call_hooks(hooked, "before_step", "ctx")
    assert calls == [("a1", a, "ctx"), ("a2", a, "ctx"), ("b", b, "ctx")]
    terms = arch_loss_terms(hooked)  # only the hooks that have a term, each on its own model
    assert [t().item() for t in terms] == [1.0, 1.0, 2.0]
