"""The chapters' figure helpers: the panels their explorers draw and the figures several cells redraw.

An :class:`~dartslib.book.explorer.Explorer` draws one panel per value of its knob with ``draw(ax, value,
result)``; the ``*_panel`` functions here build that ``draw`` for one chapter's results (the chapter keeps the
``compute`` function, which is its experiment). Each panel is drawn exactly as the chapter drew it before; the
chapter passes what it chose (its colours, its threshold, its titles) as arguments.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dartslib.book.toys import ToyRun, near_extremes_fraction
from dartslib.viz import plots
from dartslib.viz.plots import band
from dartslib.viz.style import MAX_FIGURE_WIDTH_IN, MIN_DISPLAY_PT

__all__ = ["new_figure", "op_weight_panel", "gate_histogram_panel", "skip_weight_bars_panel", "drop_per_seed_panel",
           "update_skip_panel", "temperature_sweep_figure", "seed_panels"]

Draw = Callable[[Axes, Any, Any], None]
GUIDE = dict(color="#999", lw=0.8, ls=":")   # a reference line (0.5, chance, half the edges)


def new_figure(width: float, height: float) -> Figure:
    """A chapter's own figure, ``width`` x ``height`` inches, constrained layout, built without pyplot.

    Draw it inside ``with plots.style():`` so it matches the library's figures; a cell that ends with the
    figure shows it. ``width`` is at most :data:`~dartslib.viz.style.MAX_FIGURE_WIDTH_IN` (8 in): the page shrinks
    a wider figure to its text column, and its 9-pt text would display smaller than 9 pt
    (:func:`~dartslib.viz.style.displayed_font_pt`); put more panels in a second row instead."""
    if width > MAX_FIGURE_WIDTH_IN + 1e-9:
        raise ValueError(f"new_figure: a figure {width:g} in wide is shrunk on the page and its text displays below "
                         f"{MIN_DISPLAY_PT:g} pt; at most {MAX_FIGURE_WIDTH_IN:g} in (put panels in two rows)")
    return Figure(figsize=(width, height), layout="constrained")


def op_weight_panel(colours: Mapping[str, str], title: str = "c = {:g}", first: Any = None,
                    linestyles: Sequence[str] = ("-", "--")) -> Draw:
    """``draw(ax, value, runs)`` for ``runs = {form: ToyRun}`` (chapter 2's softmax and sigmoid arms): each op's
    weight, mean over the edges, per step (line: mean over seeds, band: one sd), one line style per form; the
    legend on the panel of ``first``."""
    def draw(ax: Axes, value: Any, runs: Mapping[str, ToyRun]) -> None:
        for (form, run), ls in zip(runs.items(), linestyles):
            per_step = run.trajectory.mean(2).numpy()                       # (T, seeds, ops)
            for m, op in enumerate(run.ops):
                band(ax, run.steps.numpy(), per_step[:, :, m], colours[op], f"{op} ({form})", ls)
        ax.axhline(0.5, **GUIDE)
        ax.set(xlabel="step", ylabel="op weight", title=title.format(value))
        if value == first:
            ax.legend(loc="center right")
    return draw


def gate_histogram_panel(colours: Mapping[str, str], threshold: float, first: Any = None,
                         title: str = "w01 = {:g}: {:.0%} near 0/1") -> Draw:
    """``draw(ax, value, run)`` for one toy run of sigmoid gates (chapter 3's ``w01``): the histogram of the
    final gates of each op over edges and seeds, the derivation ``threshold`` dashed; the title gets the value
    and the share of gates within 0.1 of 0 or 1 (:func:`~dartslib.book.toys.near_extremes_fraction`)."""
    def draw(ax: Axes, value: Any, run: ToyRun) -> None:
        bins = np.linspace(0, 1, 21)
        for m, op in enumerate(run.ops):
            ax.hist(run.op_weights[..., m].flatten().numpy(), bins=bins, color=colours[op], alpha=0.75, label=op)
        ax.axvline(threshold, color="black", ls="--", lw=1)
        near = near_extremes_fraction(run.op_weights)
        ax.set(xlim=(0, 1), xlabel="final gate σ(α)", ylabel="edges × seeds", title=title.format(value, near))
        if value == first:
            ax.legend(loc="upper left")
    return draw


def skip_weight_bars_panel(methods: tuple[str, str] = ("darts", "darts-minus"),
                           title: str = "β0 = {:g}: R² {:.2f}") -> Draw:
    """``draw(ax, value, result)`` for ``result = {"skip": (seeds,), "disc": (seeds,), ...}`` (chapter 4's
    ``beta0``): the final skip weight per seed as bars, in the colour of ``methods[0]`` at value 0 and of
    ``methods[1]`` otherwise; the title gets the value and the mean discretised R^2."""
    def draw(ax: Axes, value: float, result: Mapping[str, np.ndarray]) -> None:
        seeds = np.arange(len(result["skip"]))
        ax.bar(seeds, result["skip"], color=plots.method_color(methods[1] if value else methods[0]), width=0.7)
        ax.axhline(0.5, color="#999", ls=":", lw=1)
        ax.set(xlabel="seed", ylabel="final skip weight", ylim=(0, 0.8))
        ax.set_xticks(seeds[::2])
        ax.set_title(title.format(value, result["disc"].mean()))
    return draw


def drop_per_seed_panel(colour: str, title: str = "t_sp = {:g}\nIES {:.2f}, drop {:.2f}") -> Draw:
    """``draw(ax, value, result)`` for ``result = {"supernet": (seeds,), "discretized": (seeds,), "ies":
    (seeds,)}`` (chapter 5's ``t_sp``): per seed the supernet's R^2 (open) and the discretized network's
    (filled), joined by a line, the discretization drop; the title gets the value, the mean IES and the mean drop."""
    def draw(ax: Axes, value: float, result: Mapping[str, np.ndarray]) -> None:
        seeds = np.arange(len(result["supernet"]))
        ax.vlines(seeds, result["discretized"], result["supernet"], color="#999", lw=0.8)
        ax.scatter(seeds, result["supernet"], facecolor="white", edgecolor=colour, s=18, zorder=3, label="supernet")
        ax.scatter(seeds, result["discretized"], color=colour, s=18, zorder=3, label="discretized")
        drop = (result["supernet"] - result["discretized"]).mean()
        ax.set_title(title.format(value, result["ies"].mean(), drop))
        ax.set(xlabel="seed", ylabel="validation $R^2$")
        ax.axhline(0, color="#999", ls=":", lw=1)
    return draw


def update_skip_panel(colours: Mapping[str, str], names: Mapping[str, str]) -> Draw:
    """``draw(ax, value, runs)`` for ``runs = {update: ToyRun}`` (chapter 6's learning rate): the skip's op weight
    (op 0), mean over the edges, per step and update (line: mean over seeds, band: one sd), labelled with the
    update's name up to its first parenthesis."""
    def draw(ax: Axes, value: Any, runs: Mapping[str, ToyRun]) -> None:
        for u, run in runs.items():
            band(ax, run.steps.numpy(), run.trajectory[:, :, :, 0].mean(-1).numpy(), colours[u],
                 names[u].split(" (")[0])
        ax.axhline(0.5, color="#999", ls=":", lw=1)
        ax.set(xlabel="step", ylabel="skip's op weight")
        ax.legend(loc="lower right")
    return draw


def temperature_sweep_figure(sweeps: Mapping[str, tuple[np.ndarray, np.ndarray]], names: Sequence[str], title: str,
                             *, temperatures: np.ndarray, colours: Mapping[str, str], marks: Sequence[float],
                             width: float = 8.0, height: float = 3.6) -> Figure:
    """Chapter 5's temperature sweeps: for each run of ``names``, ``sweeps[name] = (r2, share)``, each
    ``(len(temperatures), seeds)``, the subordinate op's weight (left) and the validation R^2 (right) against
    the evaluation temperature (log scale; line: mean over seeds, band: their range), dotted lines at ``marks``."""
    with plots.style():
        fig = new_figure(width, height)
        ax1, ax2 = fig.subplots(1, 2)
        for name in names:
            r2, share = sweeps[name]
            for ax, values in ((ax1, share), (ax2, r2)):
                band(ax, temperatures, values, colours[name], name, spread="range")
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_xlabel("evaluation temperature $t$")
            for x in marks:
                ax.axvline(x, color="#999", ls=":", lw=1)
        ax1.set(ylabel="weight of the subordinate op", title="Weight that still leaks past the winner")
        ax2.set(ylabel="validation $R^2$", title="The trained supernet at temperature $t$")
        if len(names) > 1:
            fig.legend(handles=ax2.get_legend_handles_labels()[0], loc="outside lower center", ncols=len(names))
        fig.suptitle(title)
    return fig


def seed_panels(table: pd.DataFrame, metrics: Sequence[str], title: str, *, titles: Mapping[str, str],
                order: Sequence[str], palette: Mapping[str, str], counts: Sequence[str] = ("param_free", "skips"),
                uniform_ies: float | None = None, width: float = 8.0) -> Figure:
    """One panel per metric of ``table`` (one row per run, a ``method`` column): every seed a dot, per method
    (in ``order``) the mean with the seeds' range for the ``counts`` metrics (never below 0; a dotted line at half
    the 6 edges) or one sd otherwise; a dotted line at ``uniform_ies`` on the ``ies`` panel. Chapter 7's panels."""
    with plots.style():
        ncols = min(len(metrics), 2 if len(metrics) == 4 else 3)
        nrows = -(-len(metrics) // ncols)
        fig = new_figure(width, 0.8 + (0.36 * len(order) + 0.7) * nrows)
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
        for ax, metric in zip(axes, metrics):
            data = table[["method", metric]].dropna()
            is_count = metric in counts
            plots.seed_dots(ax, data, metric, "method", order=order, palette=palette,
                            errorbar=("pi", 100) if is_count else "sd", marker="|", mean_size=10)
            ax.set_title(titles[metric])
            ax.set_xlabel("")
            ax.set_ylabel("")
            if is_count:
                ax.axvline(3, color="#999", lw=0.8, ls=":")  # half the edges
                ax.set_xlim(-0.3, 6.3)
            if metric == "ies" and uniform_ies is not None:
                ax.axvline(uniform_ies, color="#999", lw=0.8, ls=":")  # uniform op weights
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        fig.suptitle(title)
    return fig
