"""Figures: one palette, every plot returns a Figure, and ``python -m dartslib plot`` writes them all."""
import json
import math

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from dartslib import derive, get_space
from dartslib.cli import main
from dartslib.arch.genotype import Genotype, published_genotype
from dartslib.space.ops import OPS
from dartslib.viz.plots import (METHOD_COLORS, OP_COLORS, compare_runs, draw_cell, draw_genotype, op_color,
                            plot_discretization_gap, plot_dominant_ops, plot_edge_weights, plot_eigenvalues,
                            plot_gradient_correlation, plot_ies, plot_landscape, plot_op_weight_gradients,
                            plot_residual_gain, plot_skip_counts, plot_training_curves, plot_weight_heatmap,
                            plot_weight_histogram, run_colors, standard_figures)
from dartslib.diagnostics.recording import Run, dominant_op_history, load_run


def synthetic_run(path=None, space="nb201", epochs=6, form="softmax", seed=0, method="darts", diagnostics=True):
    """A run whose skip_connect weights dip and then rise on every edge, with every diagnostic recorded."""
    sp = get_space(space)
    rng = np.random.default_rng(seed)
    rule = "threshold" if form == "sigmoid" else None
    history = []
    for t in range(1, epochs + 1):
        op_weights, alphas = {}, {}
        for ct in sp.cell_types:
            E, M = len(sp.edge_ops[ct]), sp.num_ops(ct)
            a = 0.1 * rng.standard_normal((E, M))
            for e in range(E):
                ops = sp.ops_of(ct, e)
                if "skip_connect" in ops:
                    a[e, ops.index("skip_connect")] += 0.4 * (t - 2) ** 2 / epochs - 0.2
            w = 1 / (1 + np.exp(-4 * a)) if form == "sigmoid" else np.exp(a) / np.exp(a).sum(1, keepdims=True)
            op_weights[ct], alphas[ct] = w.tolist(), a.tolist()
        genotype = str(derive(op_weights, sp, rule))
        record = {"epoch": t, "train_loss": 2.0 / t, "train_acc": 50 + 5 * t, "valid_loss": 2.2 / t,
                  "valid_acc": 45 + 5 * t + rng.normal(), "lr": 0.025, "seconds": 1.0, "op_weights": op_weights,
                  "alphas": alphas, "genotype": genotype}
        if diagnostics:
            n_cells = 3
            nodes = sorted({to for to, _ in sp.edges})
            cts = (["cell"] * 3 if sp.topology == "nb201" else ["normal", "reduce", "reduce"])
            coords = np.linspace(-1, 1, 5)
            a_, b_ = np.meshgrid(coords, coords, indexing="ij")
            record["diagnostics"] = {
                "bn": "batch",
                "discretization": {"supernet_acc": 40 + 5 * t, "discrete_acc": 20 + 2 * t, "gap": 20 + 3 * t,
                                   "supernet_loss": 1.0, "discrete_loss": 2.0, "genotype": genotype},
                "hessian_eigenvalue": 0.1 * t + 0.01 * seed,
                "grad_correlation": {"cell_types": cts, "nodes": [nodes] * n_cells,
                                     "raw": rng.normal(size=(n_cells, len(nodes))).tolist(),
                                     "cosine": rng.uniform(-0.2, 0.6, size=(n_cells, len(nodes))).tolist()},
                "op_weight_grads": {"cell_types": cts,
                                    "grads": [rng.normal(scale=0.01, size=(len(sp.edges), sp.num_ops(ct))).tolist()
                                              for ct in cts]},
                "landscape": {"coords": coords.tolist(), "acc": (80 - 20 * (a_ ** 2 + b_ ** 2)).tolist(),
                              "loss": (1 + a_ ** 2 + b_ ** 2).tolist()},
            }
        history.append(record)
    config = {"method": method, "space": space, "dataset": "digits", "seed": seed, "op_weights": form,
              "derive": rule, "derive_options": {}}
    result = {"genotype": history[-1]["genotype"], "arch_weights": history[-1]["op_weights"], "config": config,
              "metrics": {"eval_split": "valid", "epochs": epochs}}
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
        (path / "result.json").write_text(json.dumps(result))
        return load_run(path)
    return Run(history, config, result)


# ------------------------------------------------------------------------------------------ palette

def test_every_op_has_its_own_colour():
    assert set(OPS) <= set(OP_COLORS)
    assert len(set(OP_COLORS.values())) == len(OP_COLORS)
    assert op_color("skip_connect") == OP_COLORS["skip_connect"]
    assert op_color("an_op_added_later").startswith("#")


def test_methods_keep_their_colours():
    colours = run_colors(["fairdarts", "DARTS", "darts-minus", "my variant", "sp-darts"])
    assert colours["fairdarts"] == METHOD_COLORS["fairdarts"]
    assert colours["DARTS"] == METHOD_COLORS["darts"]
    assert colours["darts-minus"] == METHOD_COLORS["dartsminus"]
    assert len(set(colours.values())) == 5


def test_every_preset_has_its_own_colour_under_every_name_the_book_prints():
    from dartslib.methods.presets import METHODS
    from dartslib.viz.plots import is_method, method_color, method_colors

    colours = {m: method_color(m) for m in METHODS}
    assert all(is_method(m) for m in METHODS), [m for m in METHODS if not is_method(m)]
    assert len(set(colours.values())) == len(METHODS), f"two presets share a colour: {colours}"
    printed = {"DARTS": "darts", "DARTS-": "darts-minus", "FairDARTS": "fairdarts", "SP-DARTS": "sp-darts",
               "Single-DARTS": "single-darts", "DARTS 2nd": "darts-2nd", "darts-1st": "darts"}
    for name, preset in printed.items():
        assert method_color(name) == colours[preset], name
    # a name that is no preset (an ablation arm) never takes a preset's colour, and arms differ from each other
    arms = method_colors(["darts", "sparse-only", "smooth-only"])
    assert arms["darts"] == colours["darts"]
    assert arms["sparse-only"] not in colours.values() and arms["smooth-only"] not in colours.values()
    assert arms["sparse-only"] != arms["smooth-only"]


def test_plots_draw_a_method_in_its_colour(tmp_path):
    from matplotlib.colors import to_hex
    from dartslib.viz.plots import method_color

    runs = [synthetic_run(method=name, seed=i) for i, name in enumerate(("darts", "sp-darts", "fairdarts"))]
    fig = compare_runs(runs, labels=["darts", "SP-DARTS", "fairdarts"])
    drawn = {to_hex(line.get_color()) for ax in fig.axes for line in ax.get_lines()}
    for name in ("darts", "sp-darts", "fairdarts"):
        assert method_color(name) in drawn, f"{name} is not drawn in its colour {method_color(name)}: {drawn}"


def test_chapters_take_method_colours_from_the_palette():
    """No chapter writes its own hex colour for a method (``{"darts": "#333333"}``): a method's colour comes
    from dartslib.viz (plots.method_color / plots.method_colors / plots.run_colors), the same in every chapter."""
    import re
    from pathlib import Path

    from dartslib.methods.presets import METHODS
    from dartslib.viz.plots import is_method

    pattern = re.compile(r"""["']([A-Za-z0-9 +-]+)["']\s*:\s*["']#[0-9a-fA-F]{3,6}["']""")
    bad = []
    for path in sorted((Path(__file__).resolve().parents[1] / "nbs").glob("*.ipynb")):
        source = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                           for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        bad += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(source) if is_method(m.group(1))]
    assert not bad, f"hard-coded method colours (use plots.method_color): {bad}"
    assert len(METHODS) >= 5


# ------------------------------------------------------------------------------------------ figures

RUNS = {"nb201": dict(space="nb201"), "darts": dict(space="darts"),
        "fair": dict(space="darts-nonone", form="sigmoid", method="fairdarts"), "s1": dict(space="s1")}


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_every_standard_figure_of_a_run(kind):
    run = synthetic_run(**RUNS[kind])
    figures = dict(standard_figures(run))
    expected = {"training_curves", "dominant_ops", "weight_heatmap", "weight_histogram", "ies", "skip_count",
                "discretization_gap", "hessian_eigenvalue", "grad_correlation", "op_weight_grads", "landscape"}
    expected |= {f"edge_weights_{ct}" for ct in run.space.cell_types}
    expected |= {"cell"} if run.space.topology == "nb201" else {"cell_normal", "cell_reduce"}
    assert set(figures) == expected
    assert all(isinstance(f, Figure) for f in figures.values())


def test_only_what_was_recorded_is_drawn():
    run = synthetic_run(diagnostics=False)
    names = {name for name, _ in standard_figures(run)}
    assert not names & {"discretization_gap", "hessian_eigenvalue", "grad_correlation", "landscape"}
    with pytest.raises(ValueError, match="landscape"):
        plot_landscape(run)


def test_stacked_area_has_one_band_per_op_and_sums_to_the_edges():
    run = synthetic_run(space="darts")
    fig = plot_dominant_ops(run)
    assert len(fig.axes[0].collections) == len(run.space.op_names("normal"))
    epochs, counts = dominant_op_history(run, "normal")
    assert np.all(sum(counts.values()) == 14)   # argmax: one op per edge
    fair = synthetic_run(space="darts-nonone", form="sigmoid")
    assert "σ > 0.75" in plot_dominant_ops(fair).axes[0].get_ylabel()


def test_edge_weight_curves_mark_boundary_epochs():
    run = synthetic_run(space="nb201", epochs=8)
    fig = plot_edge_weights(run, "cell")
    arrows = [a for ax in fig.axes for a in ax.texts if a.arrow_patch is not None]
    assert len(arrows) == 6  # skip dips until epoch 2 then rises, on every edge
    assert len([ax for ax in fig.axes if ax.lines]) == 6


def test_heatmap_marks_ops_that_are_not_candidates():
    run = synthetic_run(space="s1")
    fig = plot_weight_heatmap(run)
    image = fig.axes[0].images[0].get_array()
    assert image.mask.sum() == 14 * (len(run.space.op_names("normal")) - 2)  # 2 candidates per edge
    fig = plot_weight_heatmap({"cell": np.full((6, 5), 0.2)}, "nb201")
    assert len(fig.axes[0].texts) == 30


def test_compare_runs_draws_mean_and_spread_per_label():
    runs = [synthetic_run(seed=s) for s in range(3)] + [synthetic_run(seed=5, method="fairdarts")]
    fig = compare_runs(runs, metrics=["hessian_eigenvalue", "eval_acc"])
    ax = fig.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1                          # darts: 3 seeds -> a band; fairdarts: one run, a line
    mean_line = ax.lines[0]
    expected = np.mean([[0.1 * t + 0.01 * s for t in range(1, 7)] for s in range(3)], axis=0)
    assert np.allclose(mean_line.get_ydata(), expected)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0].startswith("darts (n=3") and legend[1] == "fairdarts"
    # labels override the method
    fig = compare_runs(runs[:2], labels=["a", "b"], metrics=["ies"])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]


def test_curves_and_comparisons_accept_several_runs():
    runs = [synthetic_run(seed=s) for s in range(2)] + [synthetic_run(seed=3, method="single-darts")]
    for fn in (plot_ies, plot_discretization_gap, plot_eigenvalues, plot_skip_counts, plot_training_curves,
               plot_weight_histogram, plot_gradient_correlation, plot_op_weight_gradients):
        assert isinstance(fn(runs), Figure)
    top = plot_ies(runs[0]).axes[0].lines[-1].get_ydata()[0]
    assert top == pytest.approx(6 * math.log(5))  # the uniform line


def test_landscape_figure_has_surface_and_contour():
    from dartslib.diagnostics.landscape import Landscape

    coords = np.linspace(-1, 1, 7)
    a, b = np.meshgrid(coords, coords, indexing="ij")
    fig = plot_landscape(Landscape(coords, 90 - 30 * (a ** 2 + b ** 2), np.zeros((7, 7))))
    assert fig.axes[0].name == "3d" and fig.axes[1].collections
    assert "90.0%" in fig.axes[1].get_legend().get_texts()[0].get_text()


@pytest.mark.parametrize("genotype,cell,n_ops", [
    (published_genotype("DARTS_V2"), "normal", 8),
    (published_genotype("DARTS_V2"), "reduce", 8),
    (Genotype(normal=[("sep_conv_3x3", 2, 0), ("skip_connect", 3, 1), ("dil_conv_5x5", 5, 2)], normal_concat=[2, 3, 4, 5],
              reduce=[("max_pool_3x3", 2, 0)], reduce_concat=[2, 3, 4, 5]), "normal", 3),
    ("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|", "normal", 5),
])
def test_cell_drawing_labels_every_op(genotype, cell, n_ops):
    fig = draw_cell(genotype, cell)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_text() in OP_COLORS]
    assert len(labels) == n_ops
    assert len(ax.patches) >= n_ops
    assert isinstance(draw_genotype(genotype), Figure)


def test_an_empty_cell_is_drawn_with_a_note():
    fig = draw_cell("Genotype(normal=[], normal_concat=[2, 3, 4, 5], reduce=[], reduce_concat=[2, 3, 4, 5])")
    assert any("no op kept" in t.get_text() for t in fig.axes[0].texts)


def test_residual_gain_figure():
    history = {b: [{"epoch": e, "beta": b + (1 - b) * e / 5, "test_acc": 50 + 8 * e} for e in range(1, 6)]
               for b in (0.0, 0.5, 1.0)}
    fig = plot_residual_gain(history)
    assert len(fig.axes[0].lines) == 4  # three betas and the dotted 1.0


# ------------------------------------------------------------------------------------------ CLI

def _expected_files(run):
    names = {"training_curves", "dominant_ops", "weight_heatmap", "weight_histogram", "ies", "skip_count",
             "discretization_gap", "hessian_eigenvalue", "grad_correlation", "op_weight_grads", "landscape"}
    names |= {f"edge_weights_{ct}" for ct in run.space.cell_types}
    names |= {"cell"} if run.space.topology == "nb201" else {"cell_normal", "cell_reduce"}
    return {f"{n}.{fmt}" for n in names for fmt in ("png", "svg")}


def test_plot_command_writes_every_figure(tmp_path, capsys):
    run = synthetic_run(tmp_path / "run", space="darts")
    assert main(["plot", str(tmp_path / "run")]) == 0
    written = {p.name for p in (tmp_path / "run" / "figures").iterdir()}
    assert written == _expected_files(run)
    assert all((tmp_path / "run" / "figures" / f).stat().st_size > 1000 for f in written)


def test_plot_command_compares_runs(tmp_path, capsys):
    for s in range(2):
        synthetic_run(tmp_path / f"darts{s}", seed=s)
    synthetic_run(tmp_path / "fair", seed=0, method="fairdarts")
    dirs = [str(tmp_path / d) for d in ("darts0", "darts1", "fair")]
    assert main(["plot", *dirs, "--out", str(tmp_path / "cmp"), "--formats", "png", "--no-per-run"]) == 0
    written = {p.name for p in (tmp_path / "cmp").iterdir()}
    assert {"compare.png", "compare_ies.png", "compare_discretization_gap.png",
            "compare_hessian_eigenvalue.png"} <= written
    assert not (tmp_path / "darts0" / "figures").exists()


def test_plot_command_rejects_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(tmp_path / "nothing")])
    assert exc.value.code == 2
    assert "no history.jsonl" in capsys.readouterr().err


def test_search_with_diagnostics_then_plot(tmp_path, capsys):
    """The real thing at the smallest size: a recorded toy search, then every figure of it."""
    out = tmp_path / "toy"
    code = main(["search", "--space", "nb201", "--scale", "toy", "--epochs", "1", "--C", "4",
                 "--cells-per-stage", "1", "--batch-size", "32", "--quiet", "--device", "cpu", "--out", str(out),
                 "--diagnostics", "every=1,hessian,hessian_iters=3,hessian_samples=16,landscape,points=3,"
                                  "landscape_batches=1,eval_batches=1"])
    assert code == 0
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert all("diagnostics" in h for h in history)
    assert main(["plot", str(out), "--formats", "png"]) == 0
    run = load_run(out)
    written = {p.name for p in (out / "figures").iterdir()}
    assert written == {f for f in _expected_files(run) if f.endswith(".png")}


def test_count_bands_stay_within_the_possible_counts_and_arrows_are_promised_only_when_drawn():
    from dartslib.viz.plots import plot_edge_weights, plot_skip_counts
    from dartslib.diagnostics.recording import Run
    from dartslib.space.spaces import get_space

    arch = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    conv = arch.replace("skip_connect", "nor_conv_3x3")
    flat = [[[0.2] * 5 for _ in range(6)]]
    runs = [Run([{"epoch": e, "genotype": g, "op_weights": {"cell": flat[0]}} for e, g in enumerate(gs, 1)],
                {"method": "darts", "space": "nb201"}) for gs in ([conv, conv, arch], [conv, arch, arch],
                                                                  [conv, conv, conv])]
    fig = plot_skip_counts(runs)
    bands = [c for c in fig.axes[0].collections]
    assert bands
    for band in bands:
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() >= 0 and ys.max() <= 6  # unclipped, mean - std of (0, 6, 0)... goes below 0
    # flat weights: no boundary epoch, so no arrow and no promise of one
    fig = plot_edge_weights(runs[0])
    assert "arrows" not in fig._suptitle.get_text()
    rising = [{"epoch": e, "genotype": arch, "op_weights": {"cell": [[0.1, 0.1 + 0.2 * e, 0.2, 0.2, 0.2]] * 6}}
              for e in range(1, 4)]
    space = get_space("nb201")
    assert space.topology == "nb201"
    fig = plot_edge_weights(Run(rising, {"method": "darts", "space": "nb201"}))
    assert "arrows: boundary epochs of skip_connect" in fig._suptitle.get_text()


def test_band_draws_the_mean_and_the_seeds_range_or_sd():
    from unittest.mock import MagicMock

    from dartslib.viz.plots import band

    x = np.arange(4)
    values = np.array([[0, 2], [1, 3], [0, 0], [5, 1]], dtype=float)   # (T, seeds)
    limits = {}
    for spread in ("range", "sd"):
        ax = MagicMock()
        band(ax, x, values, "red", "r", spread=spread)
        np.testing.assert_allclose(ax.plot.call_args.args[1], values.mean(1))
        limits[spread] = ax.fill_between.call_args.args[1:3]
    np.testing.assert_allclose(limits["range"][0], values.min(1))
    np.testing.assert_allclose(limits["range"][1], values.max(1))
    sd = values.std(1, ddof=1)
    np.testing.assert_allclose(limits["sd"][1] - limits["sd"][0], 2 * sd)
    assert (limits["sd"][0] < values.min(1)).any()   # control: an sd band can leave the seeds' range, a range band not
    with pytest.raises(ValueError, match=r"shape \(len\(x\), seeds\)"):
        band(MagicMock(), x, values.T, "k")
    with pytest.raises(ValueError, match="spread"):
        band(MagicMock(), x, values, "k", spread="iqr")


def test_seed_dots_draws_every_seed_and_one_mean_per_group():
    import matplotlib.pyplot as plt
    import pandas as pd

    from dartslib.viz.plots import seed_dots

    data = pd.DataFrame({"cell": ["a"] * 3 + ["b"] * 2, "acc": [90.0, 92.0, 94.0, 50.0, 70.0]})
    fig, ax = plt.subplots()
    seed_dots(ax, data, "cell", "acc", order=["a", "b"])
    dots = sum(len(c.get_offsets()) for c in ax.collections)
    assert dots == len(data)
    means = [line for line in ax.get_lines() if len(line.get_ydata()) == 2 and line.get_linestyle() == "None"]
    assert means and np.allclose(np.asarray(means[0].get_ydata(), float), [92.0, 60.0])
    plt.close(fig)
