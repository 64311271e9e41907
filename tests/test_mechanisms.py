"""The papers' mechanisms, each proven on a toy of :mod:`dartslib.book.toys` over eight seeds, each against the
same toy with the mechanism switched off (so every test fails if its mechanism stops working).

Seeds are batched: one ``residual_stack_search`` call runs eight independent searches. The toy runs on the
library's own op-weight forms, steps and hooks; the last section breaks each of ``steps.single_level_step``,
``ZeroOneLoss`` and ``TemperatureMixing`` on purpose and checks that the quantity its mechanism test asserts
flips, so a bug in the library's code cannot leave these tests green.
"""
import math

import pytest
import torch

from dartslib.book import toys
from dartslib.engine import steps
from dartslib.methods import aux_skip, temperature, zero_one

SEEDS = range(8)


pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread avoids oversubscription


@pytest.fixture(scope="module")
def softmax_run():
    torch.set_num_threads(1)
    return toys.residual_stack_search(("skip", "conv"), "softmax", seeds=SEEDS)


@pytest.fixture(scope="module")
def sigmoid_run():  # every step recorded: also the "no zero-one loss" arm of mechanism 2
    torch.set_num_threads(1)
    return toys.residual_stack_search(("skip", "conv"), "sigmoid", seeds=SEEDS, record_every=1)


def _mean_over_edges(run, op):
    return run.op_weights[:, :, op].mean(1)  # (seeds,)


def _late_correlations(runs):
    """Per seed, the mean of Eq. 8's correlation term over the second half of the search: (bilevel, single)."""
    bilevel, single = (runs[u].history["grad_correlation"] for u in ("bilevel-1st", "single-level"))
    half = bilevel.shape[0] // 2
    return bilevel[half:].mean(0), single[half:].mean(0)


def _drops(run):
    """Per seed: validation R^2 of the supernet minus that of its discretized architecture."""
    supernet, discretized = toys.discretization_scores(run)
    return supernet - discretized


# ---------------------------------------------------------------- 1. unfair advantage (Chu et al., 2020)
def test_softmax_lets_skip_win(softmax_run):
    skip = _mean_over_edges(softmax_run, 0)
    assert (skip > 0.54).sum() >= 7, skip
    assert skip.mean() > 0.56


def test_sigmoid_lets_conv_grow_with_skip(softmax_run, sigmoid_run):
    skip, conv = _mean_over_edges(sigmoid_run, 0), _mean_over_edges(sigmoid_run, 1)
    assert (skip > 0.65).all(), skip                        # skip still grows ...
    assert (conv > 0.5).sum() >= 7 and conv.mean() > 0.52, conv  # ... and so does conv, from 0.5: collaboration
    assert (conv > _mean_over_edges(softmax_run, 1) + 0.05).all()  # softmax pushes conv down instead


def test_without_skip_no_op_takes_over(softmax_run):
    no_skip = toys.residual_stack_search(("conv", "conv"), "softmax", seeds=SEEDS)
    strongest = no_skip.op_weights.max(-1).values.mean(1)  # mean over edges of the winning op's weight
    with_skip = softmax_run.op_weights.max(-1).values.mean(1)
    assert (strongest < 0.62).all(), strongest
    assert (with_skip > strongest).sum() >= 7 and with_skip.mean() > strongest.mean() + 0.08


# ---------------------------------------------------------------- 2. discretization gap, L01 (Chu et al., 2020)
@pytest.fixture(scope="module")
def zero_one_runs():
    torch.set_num_threads(1)
    return {kind: toys.residual_stack_search(("skip", "conv"), "sigmoid", seeds=SEEDS, zero_one=kind, record_every=1)
            for kind in ("l01", "l01-abs")}


def test_zero_one_loss_pushes_gates_to_the_ends(sigmoid_run, zero_one_runs):
    without, with_l01 = sigmoid_run.op_weights, zero_one_runs["l01"].op_weights
    assert toys.near_extremes_fraction(without) < 0.1                # without L01: in the middle ...
    assert ((without > 0.2) & (without < 0.8)).float().mean() > 0.7
    assert toys.near_extremes_fraction(with_l01) > 0.9               # ... with w01 = 10: within 0.1 of 0 or 1


def test_abs_zero_one_loss_commits_early_by_initialisation(zero_one_runs):
    def follows_init(run):  # fraction of gates that end on the side their initial alpha pointed to
        return ((run.alphas0 > 0) == (run.op_weights > 0.5)).float().mean().item()

    l01, l01_abs = zero_one_runs["l01"], zero_one_runs["l01-abs"]
    assert follows_init(l01_abs) > 0.9                      # L'01: the sign of the 1e-3 init decides ...
    assert follows_init(l01) < follows_init(l01_abs) - 0.25  # ... L01 lets the data decide
    assert toys.last_crossing_steps(l01_abs).float().mean() < toys.last_crossing_steps(l01).float().mean() - 5
    assert toys.near_extremes_fraction(l01_abs.op_weights) > 0.8  # it does discretize, just blindly


# ---------------------------------------------------------------- 3. auxiliary skip (Chu et al., 2021)
def test_auxiliary_skip_takes_the_skip_weight_down(softmax_run):
    minus = toys.residual_stack_search(("skip", "conv"), "softmax", seeds=SEEDS, aux_skip="linear")
    assert minus.history["beta"][0] == 1.0 and minus.history["beta"][-1] == pytest.approx(0.1)
    with_aux, without = _mean_over_edges(minus, 0), _mean_over_edges(softmax_run, 0)
    assert (with_aux < without).all()
    assert (without - with_aux).mean() > 0.1
    assert (with_aux < 0.5).all()  # the candidate skip no longer wins


# ---------------------------------------------------------------- 4. leakage (Zhang & Ding, 2023)
@pytest.fixture(scope="module")
def leakage_runs():
    torch.set_num_threads(1)
    ops = ("skip", "conv")
    return {"darts": toys.residual_stack_search(ops, "softmax", seeds=SEEDS, arch_lr=3e-3),
            "sp-darts": toys.residual_stack_search(ops, "sparse-smooth", seeds=SEEDS, arch_lr=3e-3),
            # the same search without its sparse batches: DARTS at the smooth temperature
            "smooth-only": toys.residual_stack_search(ops, "sparse-smooth", seeds=SEEDS, arch_lr=3e-3, p_up=0.0)}


def test_sparse_smooth_mixing_ends_with_low_entropy(leakage_runs):
    darts, sp = leakage_runs["darts"], leakage_runs["sp-darts"]
    assert darts.eval_temperature == 1.0 and sp.eval_temperature == pytest.approx(1e-2)  # each at its eval t
    ies_darts, ies_sp = toys.run_entropies(darts), toys.run_entropies(sp)
    assert (ies_darts > 0.9 * 4 * math.log(2)).all()  # DARTS: close to uniform on every edge
    # the mean ratio is 0.33-0.42 over eight streams of temperature draws (the hook's seed offset varied)
    assert (ies_sp < 0.6 * ies_darts).all() and ies_sp.mean() < 0.45 * ies_darts.mean()
    assert sp.history["p"][0] == 0.0 and sp.history["p"][-1] == 1.0  # Eq. 20: warm-up, then up to p_up
    assert sp.history["sparse"][-40:].all() and not sp.history["sparse"][:40].any()


def test_sparse_smooth_mixing_shrinks_the_discretization_drop(leakage_runs):
    drops = {name: _drops(run) for name, run in leakage_runs.items()}
    assert (drops["sp-darts"] < drops["darts"]).all()
    assert drops["sp-darts"].mean() < 0.25 * drops["darts"].mean()
    assert drops["darts"].mean() > 0.3  # DARTS' supernet leans on the ops it will drop
    # the sparse batches do it, not just the low evaluation temperature
    assert (drops["sp-darts"] < drops["smooth-only"]).sum() >= 7
    assert drops["sp-darts"].mean() < 0.5 * drops["smooth-only"].mean()
    assert toys.run_entropies(leakage_runs["sp-darts"]).mean() < 0.8 * toys.run_entropies(
        leakage_runs["smooth-only"]).mean()


# ---------------------------------------------------------------- 5. Single-DARTS (Hou et al., 2021)
def test_gradient_correlation_near_zero_bilevel_positive_single_level():
    runs = toys.gradient_correlation_experiment(seeds=SEEDS, steps=300)
    assert (runs["single-level"].history["grad_correlation"] > 0).all()
    b, s = _late_correlations(runs)  # per seed, once past the first transient
    assert (b.abs() < 0.1 * s).all(), (b, s)


@pytest.mark.parametrize("seed", range(6))
def test_softmax_rich_get_richer(seed):
    g = torch.Generator().manual_seed(seed)
    n = 2 + seed
    scores = torch.rand(n, generator=g, dtype=torch.float64) * 2
    eta = 0.2
    race = toys.softmax_race(scores, eta=eta, eps=0.1)
    assert race["steps"] is not None and race["best"] == int(scores.argmin())
    assert race["min_gap_increase"] >= -1e-12  # Thm 4.2 for the best op: its lead over every op only grows
    assert torch.all(race["p_best"].diff() >= -1e-12)  # and its weight never drops
    assert race["steps"] <= toys.corrected_race_bound(n, 0.1, eta, race["delta"])
    slower = toys.softmax_race(scores, eta=eta / 2, eps=0.1)  # time ~ 1 / (eta delta), as Eq. 15 says
    assert slower["steps"] == pytest.approx(2 * race["steps"], rel=0.1, abs=2)


def test_theorem_4_3_printed_bound_holds_only_for_large_eps():
    eta, delta = 0.1, 1.0
    for n in (2, 5, 8):
        scores = torch.tensor([0.0] + [delta] * (n - 1))
        for eps in (0.2, 0.1, 0.01):
            race = toys.softmax_race(scores, eta=eta, eps=eps)
            assert race["steps"] <= toys.corrected_race_bound(n, eps, eta, delta)
        small = toys.softmax_race(scores, eta=eta, eps=0.01)["steps"]
        assert small > 3 * toys.theorem_4_3_bound(n, 0.01, eta, delta)  # the printed bound is far off
    big = toys.softmax_race(torch.tensor([0.0] + [1.0] * 7), eta=eta, eps=0.5)["steps"]
    assert big <= toys.theorem_4_3_bound(8, 0.5, eta, 1.0)


def test_theorem_4_2_fails_for_an_op_that_is_not_the_best():
    c = toys.theorem_4_2_counterexample()
    assert c["s_j"] < c["s_i"] and c["alpha_j"] >= c["alpha_i"]  # the theorem's premises
    assert c["grad_j"] > c["grad_i"]                             # its conclusion fails


# ---------------------------------------------------------------- the toy runs on the library's code
# Each test breaks one piece of the library the way a plausible bug would, reruns the toy of one of the
# mechanism tests above and checks that the quantity that test asserts flips.
def test_a_broken_single_level_step_fails_the_correlation_test(monkeypatch):
    real_arch_step, real_weight_step = steps.arch_step_first_order, steps.weight_step
    calls = []

    def on_two_batches(model, x, y, weight_optimizer, arch_optimizer, grad_clip, arch_loss_terms=(), *, loss_fn):
        # the bug: the alphas step on another batch (here the next seed's, as large and from the same
        # teacher) than the weights, instead of one backward pass of one batch for both
        calls.append(len(x))
        real_arch_step(model, x.roll(1, 0), y.roll(1, 0), arch_optimizer, arch_loss_terms, loss_fn=loss_fn)
        return real_weight_step(model, x, y, weight_optimizer, grad_clip, loss_fn=loss_fn)

    monkeypatch.setattr(steps, "single_level_step", on_two_batches)
    runs = toys.gradient_correlation_experiment(seeds=SEEDS, steps=300)
    assert len(calls) == 300  # the toy's single-level search stepped through steps.single_level_step
    b, s = _late_correlations(runs)
    assert (b.abs() < 0.1 * s).sum() <= 2, (b, s)  # the mechanism test asserts it for every seed


def test_a_broken_zero_one_loss_fails_the_discretization_test(monkeypatch, sigmoid_run):
    def without_gradient(self, model):  # the bug: the term is computed and logged, but cut from the graph
        return self.w01 * zero_one.zero_one_loss(model.op_weights(), self.kind).detach()

    monkeypatch.setattr(zero_one.ZeroOneLoss, "arch_loss", without_gradient)
    run = toys.residual_stack_search(("skip", "conv"), "sigmoid", seeds=SEEDS, zero_one="l01", record_every=1)
    assert toys.near_extremes_fraction(run.op_weights) < 0.1  # the test asserts > 0.9
    assert torch.allclose(run.op_weights, sigmoid_run.op_weights, atol=1e-5)  # = no zero-one loss at all


def test_a_broken_zero_one_loss_sign_fails_the_discretization_test(monkeypatch):
    def to_the_middle(gates, kind="l01"):  # the bug: the sign of Eq. 7 flipped, gates pulled to 0.5
        return ((zero_one._flat(gates) - 0.5) ** 2).mean()

    monkeypatch.setattr(zero_one, "zero_one_loss", to_the_middle)
    run = toys.residual_stack_search(("skip", "conv"), "sigmoid", seeds=SEEDS, zero_one="l01", record_every=1)
    assert toys.near_extremes_fraction(run.op_weights) < 0.1


def test_a_broken_temperature_mixing_fails_the_leakage_tests(monkeypatch, leakage_runs):
    real_before_step = temperature.TemperatureMixing.before_step

    def never_sparse(self, model, ctx):  # the bug: the draw is made, the smooth temperature always used
        real_before_step(self, model, ctx)
        self._form(model).smooth()

    monkeypatch.setattr(temperature.TemperatureMixing, "before_step", never_sparse)
    broken = toys.residual_stack_search(("skip", "conv"), "sparse-smooth", seeds=SEEDS, arch_lr=3e-3)
    assert not broken.history["sparse"].any()  # the test asserts the last 40 steps are all sparse
    drop, smooth_drop = _drops(broken), _drops(leakage_runs["smooth-only"])
    assert not drop.mean() < 0.5 * smooth_drop.mean()  # the test asserts this
    assert torch.allclose(drop, smooth_drop)  # it is the smooth-only arm


def test_a_broken_auxiliary_skip_fails_the_darts_minus_test(monkeypatch, softmax_run):
    monkeypatch.setattr(aux_skip, "set_aux_beta", lambda model, beta: None)  # the bug: beta never reaches the edges
    minus = toys.residual_stack_search(("skip", "conv"), "softmax", seeds=SEEDS, aux_skip="linear")
    assert not (minus.history["beta"] > 0).any()  # the test asserts beta runs from 1 to 0.1
    assert not (_mean_over_edges(minus, 0) < _mean_over_edges(softmax_run, 0)).all()  # ... and this
