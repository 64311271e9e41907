"""The toy's teacher with a discrete answer (``toys.discrete_teacher``) and regret scoring.

Each claim is checked against a control that would fail it: wrong cells against the right one, the
residual teacher (no discrete answer) against the discrete one, another answer against the default.
"""
import math

import pytest
import torch

from dartslib.book import toys

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread avoids oversubscription

SEEDS = range(4)
ANSWER = toys.DISCRETE_ANSWER  # ("skip", "conv", "skip", "conv"): two convs
ONE_PER_CLASS = [("skip",) * 4, ("conv", "skip", "skip", "skip"), ("conv", "conv", "skip", "skip"),
                 ("conv", "conv", "conv", "skip"), ("conv",) * 4]


@pytest.fixture(scope="module")
def table():
    torch.set_num_threads(1)
    return toys.standalone_scores(ANSWER, seeds=SEEDS)


def _right(cell, answer=ANSWER):
    return toys.cell_function(cell) == toys.cell_function(answer)


# ---------------------------------------------------------------- the teacher is a cell
def test_right_cell_with_teacher_weights_fits_exactly():
    x, y = toys.discrete_teacher(4096, ANSWER, torch.Generator().manual_seed(0))
    blocks = torch.stack(toys._teacher_blocks(4))[None, :, None]  # (1, 4, 1, 16, 16)
    onehot = torch.tensor([[[1.0, 0.0] if op == "skip" else [0.0, 1.0] for op in ANSWER]])

    def r2(cell_weights):
        pred = toys.toy_forward(x[None], ("skip", "conv"), blocks, cell_weights)[0]
        pred = pred / toys._discrete_scale(ANSWER)
        return 1 - ((pred - y) ** 2).mean() / y.var(unbiased=False)

    assert r2(onehot) > 0.999                       # the answer, with the teacher's own weights
    assert r2(1 - onehot) < 0.5                     # control: every edge flipped, same weights


def test_skips_commute_so_equivalent_cells_compute_the_same_function():
    """cell_function's claim, and standalone_r2's batching (a cell trained as its convs alone)."""
    g = torch.Generator().manual_seed(1)
    x, W = torch.randn(2, 32, 16, generator=g), torch.randn(2, 4, 1, 16, 16, generator=g) / 4
    a, b = ("skip", "conv", "skip", "conv"), ("conv", "skip", "conv", "skip")

    def full(cell, weights):
        oh = torch.tensor([[[1.0, 0.0] if op == "skip" else [0.0, 1.0] for op in cell]] * 2)
        return toys.toy_forward(x, ("skip", "conv"), weights, oh)

    convs_only = toys.toy_forward(x, ("conv",), W[:, [1, 3]], torch.ones(2, 2, 1))
    assert torch.allclose(full(a, W), convs_only, atol=1e-6)
    assert torch.allclose(full(b, W[:, [1, 0, 3, 2]]), full(a, W), atol=1e-6)  # same convs, other edges
    assert not torch.allclose(full(("conv", "conv", "conv", "skip"), W), full(a, W), atol=1e-2)
    assert toys.cell_function(a) == toys.cell_function(b) == ("conv", "conv")


# ---------------------------------------------------------------- the stand-alone table
def test_right_cells_are_best_by_a_margin(table):
    assert len(table) == 16
    right = [v for c, v in table.items() if _right(c)]
    wrong = [v for c, v in table.items() if not _right(c)]
    assert len(right) == 6 and len(wrong) == 10
    assert min(right) > 0.9                         # the answer is (nearly) fitted by every right cell
    assert min(right) > max(wrong) + 0.04           # and every wrong cell is clearly worse
    assert _right(max(table, key=table.get))


def test_regret_zero_at_best_positive_for_wrong_cells(table):
    best = max(table, key=table.get)
    assert toys.regret(best, table) == 0.0
    assert all(toys.regret(c, table) >= 0 for c in table)
    for wrong in [("conv",) * 4, ("skip",) * 4, ("conv", "conv", "skip", "conv"), ("skip", "skip", "skip", "conv")]:
        assert toys.regret(wrong, table) > 0.04, wrong  # control: a wrong cell has positive regret
    pooled = toys.pooled_scores(table)
    assert all(toys.regret(c, pooled) == 0.0 for c in pooled if _right(c))
    assert all(toys.regret(c, pooled) > 0.04 for c in pooled if not _right(c))


def test_best_cell_follows_the_answer():
    """Another answer (three convs) moves the best stand-alone cell: the table measures the teacher."""
    other = ("conv", "conv", "conv", "skip")
    scores = toys.standalone_scores(other, cells=ONE_PER_CLASS, seeds=range(2))
    assert len(toys.cell_function(max(scores, key=scores.get))) == 3
    assert scores[("conv", "conv", "conv", "skip")] > scores[("conv", "conv", "skip", "skip")] + 0.04


def test_residual_teacher_has_no_discrete_answer(table):
    """The old teacher needs both ops on every edge: no cell fits it, and its cells barely differ,
    so regret there cannot tell a good choice from a bad one; the discrete teacher's can."""
    residual = toys.standalone_scores(None, cells=ONE_PER_CLASS, seeds=SEEDS)
    classes = sorted(residual.values(), reverse=True)
    assert classes[0] < max(table.values()) - 0.15  # no discrete cell fits the residual teacher
    assert classes[0] - classes[1] < 0.03           # best vs runner-up class: within a few points
    discrete = sorted(toys.pooled_scores(table).values(), reverse=True)
    discrete_classes = sorted(set(round(v, 9) for v in discrete), reverse=True)
    assert discrete_classes[0] - discrete_classes[1] > 0.04


# ---------------------------------------------------------------- the search and its derived cell
@pytest.fixture(scope="module")
def short_run():
    torch.set_num_threads(1)
    return toys.residual_stack_search(("skip", "conv"), "softmax", seeds=range(2), steps=60, answer=ANSWER)


def test_search_uses_the_discrete_teacher(short_run):
    x_train, y_train, _, _ = short_run.state["data"]
    x, y = toys.discrete_teacher(4096, ANSWER, torch.Generator().manual_seed(0))
    assert torch.equal(x_train[0], x) and torch.equal(y_train[0], y)
    x_old, y_old = toys.residual_teacher(4096, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x_old, x) and not torch.allclose(y_old, y, atol=0.1)  # same inputs, other teacher
    assert short_run.answer == ANSWER


def test_derived_cell_is_argmax_of_alphas(short_run, table):
    cells = toys.derived_cells(short_run)
    argmax = short_run.alphas.argmax(-1)
    assert cells == [tuple(short_run.ops[m] for m in row) for row in argmax.tolist()]
    assert torch.equal(short_run.op_weights.argmax(-1), argmax)  # the softmax is monotone
    r = toys.regret(short_run, table)
    assert r.shape == (2,) and torch.allclose(r, torch.tensor([toys.regret(c, table) for c in cells]))
    rows = toys.regret_summary({"darts": short_run}, table)
    assert rows[0]["seeds"] == 2 and rows[0]["cells"] == cells
    assert math.isclose(rows[0]["regret"], float(r.mean()), rel_tol=1e-6)
    assert rows[0]["right"] == sum(_right(c) for c in cells) / 2


def _fake_run(form, op_weights, alphas=None, ops=("skip", "conv")):
    w = torch.tensor(op_weights)
    a = w.logit() if alphas is None else torch.tensor(alphas)
    return toys.ToyRun(ops, form, "bilevel-1st", w, w[None], torch.ones(1), torch.zeros_like(a), a, 1.0,
                       answer=ANSWER)


def test_threshold_rule_keeps_the_strongest_passing_op_and_cuts_empty_edges():
    gates = [[[0.99, 0.01], [0.03, 0.01], [0.99, 0.99], [0.02, 0.97]]]  # edge 1: nothing passes 0.85
    run = _fake_run("sigmoid", gates)
    assert toys.derived_cells(run, "argmax") == [("skip", "skip", "skip", "conv")]
    assert toys.derived_cells(run, "threshold") == [("skip", "none", "skip", "conv")]
    assert toys.derived_cells(run, "own") == toys.derived_cells(run, "threshold")
    softmax = _fake_run("softmax", [[[0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.1, 0.9]]])
    assert toys.derived_cells(softmax, "own") == toys.derived_cells(softmax, "argmax")
    assert toys.cell_function(("skip", "none", "skip", "conv")) == ("none",)
    with pytest.raises(ValueError, match="unknown derivation rule 'top2'"):
        toys.derived_cells(run, "top2")


def test_cut_cell_scores_zero_and_regret_uses_equivalent_cells(table):
    cut = toys.standalone_scores(ANSWER, cells=[("skip",) * 4], seeds=SEEDS, cut=True)
    assert abs(cut[("none",) * 4]) < 0.01                         # predicting 0: R^2 ~ 0
    scores = {**table, **cut}
    cut_regret = toys.regret(("skip", "none", "skip", "conv"), scores)  # not in the table: its equivalent
    assert cut_regret == pytest.approx(max(table.values()) - cut[("none",) * 4])
    with pytest.raises(ValueError, match="cut=True"):
        toys.regret(("skip", "none", "skip", "conv"), table)
    run = _fake_run("sigmoid", [[[0.99, 0.01], [0.03, 0.01], [0.01, 0.99], [0.02, 0.97]]])
    rows = toys.regret_summary({"fairdarts": run}, scores, rule="own")
    assert rows[0]["rule"] == "threshold" and rows[0]["cells"] == [("skip", "none", "conv", "conv")]
    assert rows[0]["right"] == 0.0 and rows[0]["regret"] == pytest.approx(cut_regret)
    argmax = toys.regret_summary({"fairdarts": run}, scores)[0]   # argmax: skip on edge 1, right
    assert argmax["cells"] == [("skip", "skip", "conv", "conv")] and argmax["right"] == 1.0


def test_derivation_never_picks_none():
    run = toys.ToyRun(("skip", "conv", "none"), "softmax", "bilevel-1st", torch.zeros(1, 2, 3), torch.zeros(1, 1, 2, 3),
                      torch.ones(1), torch.zeros(1, 2, 3), torch.tensor([[[0.0, 0.1, 5.0], [0.3, 0.1, 5.0]]]), 1.0)
    assert toys.derived_cells(run) == [("conv", "skip")]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda: toys.discrete_teacher(8, ("skip", "pool")), "answer has op 'pool'"),
    (lambda: toys.discrete_teacher(8, ()), "answer is empty"),
    (lambda: toys.residual_stack_search(answer=("skip", "conv"), steps=1), "answer has 2 edges but depth is 4"),
    (lambda: toys.regret(("skip",) * 3, {("skip",) * 4: 0.0}), "has 3 edges but the scored cells have 4"),
    (lambda: toys.regret(("conv",) * 4, {("skip",) * 4: 0.0}), "has no stand-alone score nor an equivalent"),
    (lambda: toys.discrete_teacher(8, ("skip", "none")), "answer has op 'none'"),
    (lambda: toys.standalone_r2(ANSWER, cells=[("skip",) * 3]), "has 3 edges but the teacher has 4"),
])
def test_bad_input_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


# ---------------------------------------------------------------- arch_optimizer (ch6; Hou et al., 2021, Sec. 5.3)
def test_arch_optimizer_sgd_moves_alphas_by_the_gradient_adam_by_its_sign():
    def first_step(opt):
        run = toys.residual_stack_search(("skip", "conv"), "softmax", seeds=range(2), steps=1, epochs=1,
                                         arch_optimizer=opt, arch_lr=0.01)
        return run.alphas - run.alphas0

    sgd, adam = first_step("sgd"), first_step("adam")
    assert torch.allclose(adam.abs(), torch.full_like(adam, 0.01), rtol=1e-3)  # Adam's first step: lr * sign
    assert torch.equal(torch.sign(sgd), torch.sign(adam))                      # the same gradient ...
    assert sgd.abs().max() > 3 * sgd.abs().min()                               # ... taken at its own size
    assert not torch.allclose(sgd.abs(), torch.full_like(sgd, 0.01), rtol=0.1)
    with pytest.raises(ValueError, match="unknown arch_optimizer 'rmsprop'"):
        toys.residual_stack_search(arch_optimizer="rmsprop", steps=1)
