"""The chapters' shared helpers (issue 21): summaries over seeds, the toy's R^2, the explorer panels, the
sentences about the committed runs. Each is checked against a value computed by hand, with a control that a
near-miss implementation (population sd, a one-sided interval, the wrong rows) would fail."""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from dartslib.book import figures, prose, summaries, toys
from dartslib.book.results import CollapseRun
from dartslib.book.summaries import (glue_mean_sd, group_stats, mean_interval, mean_sd, mean_spread,
                                     method_mean_sd, of_method, snap_zero, welch_difference)

T_975_2 = 4.302652729749464   # Student's t, 97.5% quantile, 2 degrees of freedom (tables)
T_975_4 = 2.7764451051977987  # 4 degrees of freedom


def test_mean_spread_of_one_two_three_by_hand():
    assert mean_spread([1, 2, 3]) == pytest.approx((2.0, 1.0))                        # sd, ddof=1
    assert mean_spread([1, 2, 3], "sem") == pytest.approx((2.0, 1 / math.sqrt(3)))
    assert mean_spread([1, 2, 3], "t") == pytest.approx((2.0, T_975_2 / math.sqrt(3)))   # 2 ± 2.484
    assert mean_interval([1, 2, 3]) == pytest.approx((2.0, 2 - 2.4841377, 2 + 2.4841377))


def test_control_the_population_sd_is_not_what_mean_spread_gives():
    population = float(np.std([1, 2, 3]))           # ddof=0: sqrt(2/3)
    assert mean_spread([1, 2, 3])[1] != pytest.approx(population)


def test_mean_spread_leaves_out_nan_and_takes_tensors():
    assert mean_spread([1.0, float("nan"), 3.0]) == pytest.approx((2.0, math.sqrt(2)))
    assert mean_spread(torch.tensor([1.0, 2.0, 3.0])) == pytest.approx((2.0, 1.0))
    mean, sd = mean_spread([5.0])
    assert mean == 5.0 and math.isnan(sd)
    assert all(math.isnan(v) for v in mean_spread([]))
    with pytest.raises(ValueError):
        mean_spread([1, 2], "iqr")


def test_the_bootstrap_interval_is_the_verdicts_one():
    from dartslib.book.verdicts import bootstrap_ci

    x = [1.0, 2.0, 4.0, 8.0]
    mean, low, high = mean_interval(x, "bootstrap")
    assert mean == pytest.approx(3.75) and (low, high) == bootstrap_ci(x)
    assert low < mean < high


def test_mean_sd_formats_as_the_chapters_did():
    assert mean_sd([1, 2, 3]) == "2.00 ± 1.00"
    assert mean_sd([1, 2, 3], "{:.1f}", spread="t") == "2.0 ± 2.5"
    assert mean_sd([]) == "–" and mean_sd([], na="no run yet") == "no run yet"
    assert mean_sd([0.5], "{:.3f}", one="{} (1 seed)") == "0.500 (1 seed)"                  # chapter 4
    assert mean_sd([1.0], "{:.1f}", unit=" points", one="{} (one seed)") == "1.0 points (one seed)"   # chapter 8
    assert mean_sd([1, 2, 3], "{:.1f}", sep="\u00a0±\u00a0", unit="%") == "2.0\u00a0±\u00a01.0%"
    assert mean_sd([1, 2, float("nan")], "{:.1f}", expected=3) == "1.5 ± 0.7 (2)"               # chapter 7
    assert mean_sd([1, 2, 3], "{:.1f}", expected=3) == "2.0 ± 1.0"


def test_control_mean_sd_is_not_the_population_sd():
    assert mean_sd([1, 2, 3]) != f"2.00 ± {np.std([1, 2, 3]):.2f}"


def test_glue_mean_sd_glues_the_mean_and_the_sample_sd(monkeypatch):
    glued = {}
    monkeypatch.setattr(summaries, "glue", lambda name, value, display=True: glued.update({name: (value, display)}))
    assert glue_mean_sd("a_mean", "a_std", torch.tensor([1.0, 2.0, 3.0])) == pytest.approx((2.0, 1.0))
    assert glued == {"a_mean": (2.0, False), "a_std": (pytest.approx(1.0), False)}
    assert type(glued["a_mean"][0]) is float


def test_snap_zero():
    assert snap_zero(-1e-7) == 0.0 and f"{snap_zero(-1e-7):.3f}" == "0.000"
    assert snap_zero(-4e-4) == 0.0 and snap_zero(-4e-4, 1e-4) == -4e-4
    assert snap_zero(0.25) == 0.25


def test_welch_difference_by_hand():
    diff, low, high, p = welch_difference([4, 5, 6], [1, 2, 3])
    half = T_975_4 * math.sqrt(1 / 3 + 1 / 3)            # Welch: equal variances and sizes, 4 df
    assert (diff, low, high) == pytest.approx((3.0, 3 - half, 3 + half))
    assert 0 < p < 0.05
    assert welch_difference([1, 2, 3], [4, 5, 6])[0] == -3.0   # control: the order is x - y


def test_group_stats_and_the_rows_of_a_method():
    df = pd.DataFrame({"cell": ["b", "a", "a", "b", "b"], "acc": [1.0, 2.0, 4.0, 3.0, 5.0],
                       "parameters": [10, 20, 20, 10, 10]})
    out = group_stats(df, "cell", "acc", first=("parameters",))
    assert list(out.index) == ["a", "b"]
    assert out.loc["a"].tolist() == pytest.approx([3.0, math.sqrt(2), 2, 20])
    assert out.loc["b"].tolist() == pytest.approx([3.0, 2.0, 3, 10])
    table = pd.DataFrame({"method": ["darts", "fair", "darts"], "skips": [4, 0, 2]})
    assert of_method(table, "darts").skips.tolist() == [4, 2]
    assert of_method(table.iloc[:0], "darts").empty
    assert method_mean_sd(table, "darts", "skips", "{:.1f}") == "3.0 ± 1.4"
    assert method_mean_sd(table, "nope", "skips", na="not measured") == "not measured"


# ------------------------------------------------------------------------------------------- the toy's R^2

@pytest.fixture(scope="module")
def toy_run():
    torch.set_num_threads(1)
    return toys.residual_stack_search(("skip", "conv"), "sigmoid", seeds=range(2), steps=20, samples=256,
                                      record_every=5)


def test_toy_r2_is_the_score_of_discretization_scores(toy_run):
    supernet, discretized = toys.discretization_scores(toy_run)
    assert torch.allclose(toys.toy_r2(toy_run, toy_run.op_weights), supernet)
    one_hot = toys.argmax_one_hot(toy_run)
    assert one_hot.shape == toy_run.op_weights.shape and torch.all(one_hot.sum(-1) == 1)
    assert torch.allclose(toys.toy_r2(toy_run, one_hot), discretized)
    kept = (toy_run.op_weights >= 0.5).float()
    assert torch.allclose(toys.threshold_r2(toy_run, 0.5), toys.toy_r2(toy_run, kept))
    # control: another network's weights give another score
    assert not torch.allclose(toys.toy_r2(toy_run, torch.zeros_like(one_hot)), discretized)


def test_convs_r2_pools_equivalent_cells():
    scores = {("conv", "skip"): 0.5, ("skip", "conv"): 0.5, ("skip", "skip"): 0.1, ("conv", "conv"): 0.9}
    assert toys.convs_r2(scores) == {0: 0.1, 1: 0.5, 2: 0.9}
    assert list(toys.convs_r2(dict(reversed(scores.items())))) == [0, 1, 2]


def test_every_panel_draws(toy_run):
    fig = Figure()
    axes = fig.subplots(1, 5)
    colours = {"skip": "C0", "conv": "C1"}
    figures.op_weight_panel(colours, first=1.5)(axes[0], 1.5, {"softmax": toy_run, "sigmoid": toy_run})
    assert axes[0].get_title() == "c = 1.5" and axes[0].get_legend() is not None
    figures.gate_histogram_panel(colours, 0.85, first=0)(axes[1], 3, toy_run)
    assert axes[1].get_title().startswith("w01 = 3: ") and axes[1].get_legend() is None
    figures.skip_weight_bars_panel()(axes[2], 0.4, {"skip": np.array([0.3, 0.6]), "disc": np.array([0.5, 0.7])})
    assert axes[2].get_title() == "β0 = 0.4: R² 0.60"
    figures.drop_per_seed_panel("C2")(axes[3], 1e-3, {"supernet": np.array([0.9, 0.8]),
                                                      "discretized": np.array([0.5, 0.6]), "ies": np.ones(2)})
    assert axes[3].get_title() == "t_sp = 0.001\nIES 1.00, drop 0.30"
    figures.update_skip_panel({"bilevel-1st": "C0"}, {"bilevel-1st": "bi-level (DARTS)"})(
        axes[4], 0.1, {"bilevel-1st": toy_run})
    assert [t.get_text() for t in axes[4].get_legend().get_texts()] == ["bi-level"]
    r2 = np.random.default_rng(0).random((3, 2))
    fig = figures.temperature_sweep_figure({"darts": (r2, r2)}, ["darts"], "title",
                                           temperatures=np.array([0.1, 1.0, 10.0]), colours={"darts": "C0"},
                                           marks=(1.0,))
    assert fig._suptitle.get_text() == "title" and len(fig.axes) == 2
    with pytest.raises(ValueError):
        figures.new_figure(9.0, 3.0)      # wider than the page


# --------------------------------------------------------------------------- sentences about the runs

CELL_SKIPS = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
CELL_CONVS = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_3x3~2|"


def _table():
    return pd.DataFrame({"method": ["darts", "darts", "fairdarts"], "seed": [0, 1, 0],
                         "genotype": [CELL_SKIPS, CELL_SKIPS, CELL_CONVS], "param_free": [5, 5, 1],
                         "skips": [4, 4, 1], "ies": [9.0, 9.5, 2.0], "drop": [10.0, 20.0, float("nan")],
                         "first_over_half": [1.0, 2.0, float("nan")]})


def test_collapse_sentence_counts_and_formats():
    text = prose.collapse_sentence(_table(), "darts")
    assert text == ("2 of 2 seeds collapse (parameter-free edges 5.0\u00a0±\u00a00.0 of 6, skips 4.0\u00a0±\u00a00.0; "
                    "most frequent op skip_connect, 8 of 12 edges)")
    assert prose.collapse_sentence(_table(), "sp-darts") == "not in the committed runs yet"
    assert prose.paper_pm([1.0, 3.0], 2, " points") == "2.00\u00a0±\u00a01.41 points"


def test_method_bullet_and_main_free_op():
    line = prose.method_bullet(_table(), "fairdarts", {"drop": "drop (pts)"}, ["drop"], {"ies": 2})
    assert line == "- **fairdarts** (1 seed): 1.0 parameter-free edges (0 of 1 seeds at 4 or more), 1.0 skips; " \
                   "parameter-free ops derived: `skip_connect` 1; IES 2.00."
    line = prose.method_bullet(_table(), "darts", {"drop": "drop (pts)"}, ["drop"], {"ies": 2})
    assert "(2 of 2 seeds at 4 or more)" in line and "drop (pts) 15.0 ± 7.1" in line and "IES 9.25 ± 0.35" in line
    assert prose.main_free_op(_table(), "darts") == "avg_pool_3x3"
    assert prose.main_free_op(_table(), "fairdarts") == "none"


def test_level_sentence_and_the_single_level_verdict():
    text = prose.level_sentence(_table(), "darts", [])
    assert text.startswith("`darts` (2 seeds): 4.0 ± 0.0 skips and 5.0 parameter-free edges of 6 in the derived "
                           "cell, 2 of 2 seeds with at least 4 parameter-free edges, first past half the edges at "
                           "epoch 1.5 on average (2 of 2 seeds)")
    assert prose.level_sentence(_table(), "single-darts", []).startswith("`single-darts`: no run")
    assert prose.single_level_verdict(_table(), "x").startswith("Until both")


def test_config_switches():
    cfg = SimpleNamespace(zero_one_loss="l01", aux_skip=None, t_sp=1e-3, op_weights="sigmoid")
    assert prose.config_switches(cfg) == "zero_one_loss=l01"
    assert prose.config_switches(SimpleNamespace(**{**vars(cfg), "op_weights": "sparse-smooth"})) \
        == "zero_one_loss=l01, t_sp=0.001"


# ------------------------------------------------------------------------------ a committed run's measures

def _run(config, alphas):
    run = CollapseRun(path=Path("x/darts__nb201__seed0"), sweep="x")
    weights = torch.softmax(torch.as_tensor(alphas), -1).numpy()
    run.__dict__["run"] = SimpleNamespace(config=config, history=[
        {"op_weights": {"cell": weights.tolist()}, "alphas": {"cell": np.asarray(alphas).tolist()}}])
    return run


def test_a_runs_op_weight_t_sm_and_ies_at():
    alphas = np.zeros((6, 5))
    alphas[:, 1] = 1.0                                           # skip_connect leads every edge
    run = _run({"t_sp": 1e-3, "t_sm": None}, alphas)
    assert run.op_weight("skip_connect") == pytest.approx([math.e / (math.e + 4)])
    assert run.t_sm == pytest.approx(1e-2) and _run({"t_sp": 1e-3, "t_sm": 0.5}, alphas).t_sm == 0.5
    assert run.ies_at(1e6) == pytest.approx(6 * math.log(5), rel=1e-4)     # hot: uniform
    assert run.ies_at(1e-3) == pytest.approx(0.0, abs=1e-6)                # cold: one-hot
