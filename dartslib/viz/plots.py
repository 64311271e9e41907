"""The book's figures of a search, in one style: each function takes runs (a :class:`~dartslib.diagnostics.recording.Run`,
a run directory or a :class:`~dartslib.engine.loop.SearchResult`) or computed values, and returns a matplotlib
:class:`~matplotlib.figure.Figure` (built without pyplot, so nothing global changes and the Agg backend
is enough). Computation lives in :mod:`dartslib.diagnostics.measures`; this module only draws.

Colours: every op of :data:`dartslib.space.ops.OPS` has one colour for the whole book (:data:`OP_COLORS`):
parameter-free ops warm or grey (``skip_connect`` red-orange, as in Chu et al. (2020), Fig. 3), parametric
ops cool (blues, greens, purples). Every method preset has one colour too (:data:`METHOD_COLORS`, looked up with
:func:`method_color`); a figure that compares methods draws each in that colour, in every chapter.

==================================  ===================================================================
:func:`plot_dominant_ops`           stacked area of dominant ops per epoch (Chu et al., 2020, Fig. 1, 2, 7)
:func:`plot_edge_weights`           op weights per edge over epochs, boundary epochs marked (Fig. 3)
:func:`plot_weight_heatmap`         final op weights per cell type (Chu et al., 2020, Fig. 4)
:func:`plot_weight_histogram`       histogram of the final op weights (Chu et al., 2020, Fig. 8, left)
:func:`plot_ies`                    IES per epoch (Zhang & Ding, 2023, Fig. 3a)
:func:`plot_discretization_gap`     supernet vs discretised accuracy per epoch (Zhang & Ding, 2023, Fig. 3b)
:func:`plot_eigenvalues`            dominant Hessian eigenvalue per epoch (Chu et al., 2021, Fig. 4)
:func:`plot_gradient_correlation`   Eq. 8 per cell and node (Hou et al., 2021, Fig. 2)
:func:`plot_op_weight_gradients`    dL/dp per op on one edge (Hou et al., 2021, Fig. 3)
:func:`plot_landscape`              accuracy landscape, surface + contour (Chu et al., 2021, Fig. 3)
:func:`plot_skip_counts`            skip connections and #P of the derived cell per epoch
:func:`plot_training_curves`        accuracy and loss per epoch
:func:`plot_residual_gain`          beta of a ResNet's skips over training (Chu et al., 2021, Fig. 2)
:func:`draw_cell`                   a cell of a genotype as a DAG (:mod:`dartslib.viz.cell_drawing`)
:func:`compare_runs`                any metrics of several runs overlaid, mean and spread per label
==================================  ===================================================================

:func:`write_standard_figures` writes every figure a run's data supports as PNG and SVG (what
``python -m dartslib plot RUN_DIR`` does).
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from dartslib.viz.cell_drawing import draw_cell, draw_genotype
from dartslib.viz.style import (
    _NODE_PALETTE, MAX_FIGURE_WIDTH_IN, METHOD_COLORS, OP_COLORS, OP_ORDER, OP_SHORT, _new_figure, _op_key, is_method,
    method_color, method_colors, op_color, run_colors, style
)
from dartslib.diagnostics.measures import DOMINANCE_THRESHOLD, as_arrays, boundary_epoch
from dartslib.diagnostics.recording import METRICS, Run, as_run, dominant_op_history, metric_series, op_weight_history
from dartslib.space.spaces import SearchSpace, get_space

__all__ = [
    "OP_COLORS", "OP_SHORT", "OP_ORDER", "METHOD_COLORS", "op_color", "method_color", "method_colors", "is_method",
    "run_colors", "style", "save_figure",
    "plot_dominant_ops", "plot_edge_weights", "plot_weight_heatmap", "plot_weight_histogram", "plot_metric",
    "plot_ies", "plot_discretization_gap", "plot_eigenvalues", "plot_gradient_correlation",
    "plot_op_weight_gradients", "plot_landscape", "plot_skip_counts", "plot_training_curves",
    "plot_residual_gain", "draw_cell", "draw_genotype", "compare_runs", "standard_figures",
    "write_standard_figures", "write_comparison_figures", "band", "seed_dots",
]

# ------------------------------------------------------------------------------- over seeds: two idioms

def band(ax: Axes, x: Any, values: Any, color: str, label: str | None = None, ls: str = "-", alpha: float = 0.2,
         spread: str = "sd", lw: float = 2.0) -> None:
    """The mean over seeds as a line, and the spread over seeds as a band around it.

    Args:
        x: ``(T,)`` the x values (steps, epochs).
        values: ``(T, seeds)``, one column per seed.
        spread: ``"sd"``, one sample standard deviation (``ddof=1``) either side, as the chapters' "mean ± std
            over seeds"; or ``"range"``, from the smallest to the largest seed (so a band of counts never leaves
            the possible values).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[0] != len(x):
        raise ValueError(f"band: values must have shape (len(x), seeds) = ({len(x)}, seeds), got {values.shape}")
    mean = values.mean(1)
    if spread == "sd":
        low, high = (mean - values.std(1, ddof=1), mean + values.std(1, ddof=1)) if values.shape[1] > 1 else (mean, mean)
    elif spread == "range":
        low, high = values.min(1), values.max(1)
    else:
        raise ValueError(f"band: spread must be 'sd' or 'range', got {spread!r}")
    ax.plot(x, mean, color=color, ls=ls, lw=lw, label=label)
    ax.fill_between(x, low, high, color=color, alpha=alpha, lw=0)


def seed_dots(ax: Axes, data: Any, x: str, y: str, order: Sequence[Any] | None = None, color: str | None = None,
              palette: Any = None, size: float = 4, jitter: float = 0.15, errorbar: Any = "sd",
              marker: str = "s", mean_size: float | None = None) -> Axes:
    """Every seed as a jittered dot, and per group the mean with an error bar over the seeds, in black.

    ``data`` is long-form (a :class:`pandas.DataFrame` with one row per seed); ``x`` names the groups and
    ``y`` the values, or the other way round for horizontal groups (seaborn decides the orientation from
    the column types). The dots are :func:`seaborn.stripplot` (``palette`` colours them by group, else
    ``color``), the means :func:`seaborn.pointplot` with ``errorbar`` (``"sd"``: mean ± one sample standard
    deviation; ``("pi", 100)``: the range).
    """
    import seaborn as sns

    if palette is not None:
        sns.stripplot(data=data, x=x, y=y, order=order, hue=x if data[x].dtype == object else y, hue_order=order,
                      palette=palette, legend=False, ax=ax, size=size, jitter=jitter, alpha=0.7, zorder=2)
    else:
        sns.stripplot(data=data, x=x, y=y, order=order, ax=ax, color=color or "#4477aa", size=size, jitter=jitter,
                      alpha=0.7, zorder=2)
    sns.pointplot(data=data, x=x, y=y, order=order, ax=ax, errorbar=errorbar, color="black", markers=marker,
                  linestyle="none", capsize=0.2, markersize=mean_size or size, zorder=3, err_kws={"linewidth": 1})
    return ax


# ------------------------------------------------------------------------------------------ palette
# (defined in dartslib.viz.style, a leaf that dartslib.viz.cell_drawing shares; re-exported here)

def save_figure(fig: Figure, path: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``path.<fmt>`` for every format; returns the files written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with style():
        for fmt in formats:
            target = path.with_suffix(f".{fmt}")
            fig.savefig(target, format=fmt, bbox_inches="tight")
            written.append(target)
    return written


def _edge_label(space: SearchSpace, e: int) -> str:
    to, src = space.edges[e]
    return f"{to}←{src}"


def _epoch_axis(ax: Axes) -> None:
    """Label an x axis "epoch" with whole-number ticks."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # as many as fit at the tick size


def _cell_name(cell_type: str) -> str:
    return {"normal": "normal cell", "reduce": "reduction cell"}.get(cell_type, "cell")


def _op_legend(fig: Figure, ops: Sequence[str], kind: str = "line", loc: str = "outside right center",
               ncols: int = 1) -> None:
    ops = sorted(dict.fromkeys(ops), key=_op_key)
    if kind == "patch":
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=op_color(op), edgecolor="none", label=op) for op in ops]
    else:
        handles = [Line2D([], [], color=op_color(op), lw=2, label=op) for op in ops]
    fig.legend(handles=handles, loc=loc, ncols=ncols, title="op")


def _runs(runs: Any, labels: Sequence[str] | None = None) -> list[Run]:
    if isinstance(runs, (Run, str, Path)) or hasattr(runs, "history"):
        runs = [runs]
    runs = list(runs)
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs")
    return [as_run(r, labels[i] if labels is not None else None) for i, r in enumerate(runs)]


def _run_title(run: Run) -> str:
    cfg = run.config
    bits = [str(cfg.get("method", "run")), f"on {cfg.get('space', '?')}"]
    if cfg.get("dataset"):
        bits.append(f"({cfg['dataset']}, seed {cfg.get('seed', '?')})")
    return " ".join(bits)


# ------------------------------------------------------------------------------------------ op weights

def plot_dominant_ops(run: Any, cell_types: Sequence[str] | None = None, threshold: float | None = None) -> Figure:
    """Stacked area of how many edges each op leads per epoch, one panel per cell type (Chu et al., 2020,
    Fig. 1, 2, 7): argmax for softmax-like forms, ``sigma > threshold`` (0.75) for sigmoid."""
    run = as_run(run)
    cell_types = list(cell_types or run.space.cell_types)
    exclusive = run.exclusive
    thr = DOMINANCE_THRESHOLD if threshold is None else threshold
    with style():
        fig = _new_figure(3.0 * len(cell_types) + 1.6, 2.9)
        axes = [fig.add_subplot(1, len(cell_types), i + 1) for i in range(len(cell_types))]
        used: list[str] = []
        tops: list[int] = []
        for ax, ct in zip(axes, cell_types):
            epochs, counts = dominant_op_history(run, ct, threshold)
            ops = sorted(counts, key=_op_key)
            ys = [counts[op] for op in ops]
            ax.stackplot(epochs, ys, colors=[op_color(op) for op in ops], alpha=0.9, lw=0.3, edgecolor="white")
            n_edges = len(run.space.edge_ops[ct])
            ax.set_xlim(epochs[0], epochs[-1] if len(epochs) > 1 else epochs[0] + 1)
            tops.append(n_edges if exclusive else max(n_edges, int(np.sum(ys, axis=0).max())))
            ax.set_title(f"{_cell_name(ct)} ({n_edges} edges)")
            _epoch_axis(ax)
            ax.grid(False)
            used += [op for op, y in zip(ops, ys) if np.any(y > 0)]
        for ax in axes:
            ax.set_ylim(0, max(tops))
        axes[0].set_ylabel("edges led (argmax)" if exclusive else f"ops with σ > {thr:g}")
        _op_legend(fig, used or list(counts), kind="patch")
        fig.suptitle(f"Dominant ops per epoch\n{_run_title(run)}")
    return fig


def plot_edge_weights(run: Any, cell_type: str | None = None, edges: Sequence[int] | None = None,
                      mark_op: str | None = "skip_connect", ncols: int | None = None) -> Figure:
    """The op weights of every edge of a cell type over the epochs, one small panel per edge, with the
    boundary epochs of ``mark_op`` marked by arrows (Chu et al., 2020, Fig. 3)."""
    run = as_run(run)
    space = run.space
    cell_type = cell_type or space.cell_types[0]
    epochs, w = op_weight_history(run, cell_type)
    edges = list(edges) if edges is not None else list(range(w.shape[1]))
    ncols = ncols or (3 if len(edges) <= 6 else 4)
    nrows = -(-len(edges) // ncols)
    exclusive = run.exclusive
    with style():
        fig = _new_figure(min(1.55 * ncols + 1.75, MAX_FIGURE_WIDTH_IN), 1.5 * nrows + 0.8)
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        used: list[str] = []
        arrows = 0
        for idx, ax in enumerate(axes.flat):
            if idx >= len(edges):
                ax.set_axis_off()
                continue
            e = edges[idx]
            ops = space.ops_of(cell_type, e)
            for k in sorted(range(len(ops)), key=lambda k: _op_key(ops[k])):
                ax.plot(epochs, w[:, e, k], color=op_color(ops[k]), lw=1.3)
                used.append(ops[k])
            if mark_op in ops:
                k = ops.index(mark_op)
                b = boundary_epoch(w[:, e, k], epochs)
                if b is not None:
                    arrows += 1
                    y = w[epochs.index(b), e, k]
                    ax.annotate("", xy=(b, y), xytext=(0, 16), textcoords="offset points",
                                arrowprops=dict(arrowstyle="-|>", color="black", lw=1.0, shrinkA=0, shrinkB=1))
            ax.set_title(f"edge {_edge_label(space, e)}", pad=2)
        for ax in axes[-1]:
            _epoch_axis(ax)
        for ax in axes[:, 0]:
            ax.set_ylabel("softmax weight" if exclusive else "sigmoid weight")
        _op_legend(fig, used)
        note = f"; arrows: boundary epochs of {mark_op}" if arrows else ""  # promise only what is drawn
        fig.suptitle(f"Op weights per edge, {_cell_name(cell_type)}\n{_run_title(run)}{note}")
    return fig


def plot_weight_heatmap(weights: Any, space: str | SearchSpace | None = None, title: str | None = None,
                        exclusive: bool | None = None) -> Figure:
    """Heatmap of op weights per cell type, edges x ops, values written in (Chu et al., 2020, Fig. 4).

    ``weights``: a run (its final op weights) or ``{cell_type: (E, M)}`` with ``space``. Ops that are not
    candidates of an edge (RobustDARTS S1) are left blank.
    """
    if isinstance(weights, Mapping) and not isinstance(weights, Run):
        arrays, space = as_arrays(weights), get_space(space or ("nb201" if "cell" in weights else "darts"))
        excl = True if exclusive is None else exclusive
        name = title or "Final op weights"
    else:
        run = as_run(weights)
        arrays, space = run.final_op_weights, run.space
        excl = run.exclusive if exclusive is None else exclusive
        name = title or f"Final op weights\n{_run_title(run)}"
    cell_types = list(arrays)
    from matplotlib import colormaps

    cmap = colormaps["YlOrRd"].with_extremes(bad="#f2f2f2")
    with style():
        panels = [1.3 + 0.45 * len(space.op_names(ct)) for ct in cell_types]
        rows = 0.3 * max(a.shape[0] for a in arrays.values())
        stacked = sum(panels) + 0.9 > MAX_FIGURE_WIDTH_IN  # DARTS' two cells: one above the other
        if not stacked:
            fig = _new_figure(sum(panels) + 0.9, max(1.2 + rows, 2.6))
            axes = fig.subplots(1, len(cell_types), squeeze=False)[0]
        else:
            fig = _new_figure(max(panels) + 0.9, (1.1 + rows) * len(cell_types) + 0.5)
            axes = fig.subplots(len(cell_types), 1, squeeze=False)[:, 0]
        vmax = 1.0 if not excl else max(float(a.max()) for a in arrays.values())
        image = None
        for ax, ct in zip(axes, cell_types):
            cols = sorted(space.op_names(ct), key=_op_key)
            a = arrays[ct]
            grid = np.full((a.shape[0], len(cols)), np.nan)
            for e in range(a.shape[0]):
                for k, op in enumerate(space.ops_of(ct, e)):
                    grid[e, cols.index(op)] = a[e, k]
            image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto")
            for (e, c), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    dark = v / vmax > 0.6 if vmax > 0 else False
                    ax.text(c, e, f"{v:.2f}", ha="center", va="center", fontsize=9,
                            color="white" if dark else "#202020")
            ax.set_xticks(range(len(cols)), [OP_SHORT.get(op, op) for op in cols], rotation=45, ha="right")
            ax.set_yticks(range(a.shape[0]), [_edge_label(space, e) for e in range(a.shape[0])])
            for tick, op in zip(ax.get_xticklabels(), cols):
                tick.set_color(mcolors.to_hex(mcolors.to_rgb(op_color(op))))
            ax.set_title(_cell_name(ct))
            ax.set_xlabel("op")
            ax.grid(False)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
        for ax in (axes if stacked else axes[:1]):
            ax.set_ylabel("edge (to←from)")
        cbar = fig.colorbar(image, ax=list(axes), shrink=0.8, pad=0.02)
        cbar.set_label("softmax weight" if excl else "sigmoid weight")
        cbar.outline.set_visible(False)
        fig.suptitle(name)
    return fig


def plot_weight_histogram(runs: Any, labels: Sequence[str] | None = None, bins: int = 20,
                          threshold: float | None = None) -> Figure:
    """Histogram of every final op weight, one bar colour per label (runs sharing a label, e.g. seeds, are
    pooled): Chu et al., 2020, Fig. 8, left, compares FairDARTS with and without the zero-one loss. Sigmoid
    runs span [0, 1] with the derivation threshold dashed; softmax-only runs span [0, largest weight]."""
    runs = _runs(runs, labels)
    colours = run_colors([r.label for r in runs])
    pooled = {label: np.concatenate([a.ravel() for r in group for a in r.final_op_weights.values()])
              for label, group in _group(runs).items()}
    sigmoid_runs = [r for r in runs if not r.exclusive]
    top = 1.0 if sigmoid_runs else min(1.0, 1.1 * max(float(v.max()) for v in pooled.values()))
    with style():
        fig = _new_figure(4.8 if len(pooled) == 1 else 6.0, 2.8)
        ax = fig.add_subplot(1, 1, 1)
        edges = np.linspace(0.0, top, bins + 1)
        width = (edges[1] - edges[0]) / len(pooled)
        for i, (label, values) in enumerate(pooled.items()):
            counts, _ = np.histogram(values, edges)
            n_runs = len(_group(runs)[label])
            ax.bar(edges[:-1] + i * width, counts, width=width * 0.95, align="edge", color=colours[label],
                   alpha=0.9, label=f"{label} ({values.size} weights" + (f", {n_runs} runs)" if n_runs > 1 else ")"))
        if sigmoid_runs:
            thr = threshold if threshold is not None else \
                sigmoid_runs[0].config.get("derive_options", {}).get("threshold", 0.85)
            ax.axvline(thr, color="black", ls="--", lw=1.0)
            ax.text(thr, ax.get_ylim()[1] * 0.97, f" threshold {thr:g}", fontsize=9, va="top")
        forms = {("softmax" if r.exclusive else "sigmoid") for r in runs}
        ax.set_xlabel(f"op weight ({' / '.join(sorted(forms))}) in the last epoch")
        ax.set_ylabel("number of op weights")
        ax.set_xlim(0, top)
        ax.legend(loc="upper left")
        ax.set_title("Distribution of the final op weights" if len(runs) > 1 else
                     f"Final op weights: {_run_title(runs[0])}")
    return fig


# ------------------------------------------------------------------------------------------ curves

def _group(runs: list[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    return groups


def _draw_metric(ax: Axes, runs: list[Run], metric: str, colours: Mapping[str, str], spread: str = "std",
                 ls: str = "-", label_suffix: str = "", legend: bool = True,
                 limits: tuple[float, float] | None = None) -> bool:
    """Mean over the runs of each label with a band (std or min-max); single runs as plain lines.
    ``limits``: the values' possible range (e.g. 0..6 for a count); a band is clipped to it."""
    drawn = False
    for label, group in _group(runs).items():
        series = [metric_series(r, metric) for r in group]
        series = [(e, v) for e, v in series if e]
        if not series:
            continue
        drawn = True
        common = sorted(set(series[0][0]).intersection(*[set(e) for e, _ in series[1:]]))
        if len(series) == 1 or not common:
            for e, v in series:
                ax.plot(e, v, color=colours[label], ls=ls, marker="o" if len(e) < 4 else None, ms=3,
                        label=f"{label}{label_suffix}")
                label = "_" + label  # one legend entry per label
            continue
        values = np.array([[dict(zip(e, v))[x] for x in common] for e, v in series])
        mean = values.mean(axis=0)
        if spread == "minmax":
            low, high = values.min(axis=0), values.max(axis=0)
        else:
            sd = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
            low, high = mean - sd, mean + sd
        if limits is not None:
            low, high = np.clip(low, *limits), np.clip(high, *limits)
        ax.plot(common, mean, color=colours[label], ls=ls, label=f"{label}{label_suffix} (n={len(series)})")
        ax.fill_between(common, low, high, color=colours[label], alpha=0.18, lw=0)
    if drawn and legend and (len(_group(runs)) > 1 or label_suffix):
        ax.legend(loc="best")
    return drawn


def plot_metric(runs: Any, metric: str, labels: Sequence[str] | None = None, spread: str = "std",
                title: str | None = None, ax: Axes | None = None) -> Figure:
    """One named metric (:data:`dartslib.diagnostics.recording.METRICS`) per epoch for one or several runs; runs with
    the same label (e.g. seeds of one method) become their mean with a ``spread`` band (``std``/``minmax``)."""
    runs = _runs(runs, labels)
    colours = run_colors([r.label for r in runs])
    with style():
        if ax is None:
            fig = _new_figure(4.6, 2.9)
            ax = fig.add_subplot(1, 1, 1)
        fig = ax.figure
        if not _draw_metric(ax, runs, metric, colours, spread):
            ax.text(0.5, 0.5, f"{metric} not recorded", transform=ax.transAxes, ha="center", color="#808080")
        _epoch_axis(ax)
        ax.set_ylabel(METRICS[metric][0])
        ax.set_title(title or (METRICS[metric][0][:1].upper() + METRICS[metric][0][1:]
                               if len(runs) > 1 else f"{METRICS[metric][0]}: {_run_title(runs[0])}"))
    return fig


def plot_ies(runs: Any, labels: Sequence[str] | None = None, spread: str = "std") -> Figure:
    """IES, the summed entropy of the op distributions, per epoch (Zhang & Ding, 2023, Eq. 21, Fig. 3a); the
    dotted line is its largest value ``sum_e log M_e`` (uniform weights)."""
    runs = _runs(runs, labels)
    fig = plot_metric(runs, "ies", spread=spread, title="IES: summed entropy of the op weights")
    space = runs[0].space
    top = sum(len(space.edge_ops[ct]) * np.log(space.num_ops(ct)) for ct in space.cell_types)
    with style():
        ax = fig.axes[0]
        low = ax.get_ylim()[0]
        ax.axhline(top, color="#808080", ls=":", lw=1)
        ax.set_ylim(max(low, 0.0), top + 0.06 * (top - max(low, 0.0)))
        ax.text(ax.get_xlim()[0], top, " uniform weights: Σ log M", va="bottom", fontsize=9, color="#606060")
    return fig


def plot_discretization_gap(runs: Any, labels: Sequence[str] | None = None, spread: str = "std") -> Figure:
    """Supernet accuracy (solid) and the accuracy of the same supernet made one-hot at the derived
    architecture (dashed), and their gap, per recorded epoch (Zhang & Ding, 2023, Fig. 3b)."""
    runs = _runs(runs, labels)
    colours = run_colors([r.label for r in runs])
    with style():
        fig = _new_figure(7.6, 2.9)
        ax1, ax2 = fig.subplots(1, 2)
        _draw_metric(ax1, runs, "supernet_acc", colours, spread, "-", " supernet", legend=False)
        _draw_metric(ax1, runs, "discrete_acc", colours, spread, "--", " discretised", legend=False)
        _epoch_axis(ax1)
        ax1.set_ylabel("held-out accuracy (%)")
        ax1.set_title("Supernet (solid) vs one-hot (dashed)")
        ax1.legend(loc="best")
        _draw_metric(ax2, runs, "discretization_gap", colours, spread)
        ax2.axhline(0, color="#808080", lw=0.8)
        _epoch_axis(ax2)
        ax2.set_ylabel("gap (accuracy points)")
        ax2.set_title("Discretization gap")
        bn = _recorded_bn(runs)
        fig.suptitle("Discretization gap" + (f" (BN: {bn} statistics)" if bn else "")
                     + (f": {_run_title(runs[0])}" if len(runs) == 1 else ""))
    return fig


def _recorded_bn(runs: list[Run]) -> str | None:
    for run in runs:
        for h in run.history:
            if "diagnostics" in h and "bn" in h["diagnostics"]:
                return h["diagnostics"]["bn"]
    return None


def plot_eigenvalues(runs: Any, labels: Sequence[str] | None = None, spread: str = "std") -> Figure:
    """Dominant eigenvalue of the Hessian of the validation loss w.r.t. the alphas per recorded epoch
    (RobustDARTS' indicator; Chu et al., 2021, Fig. 4)."""
    return plot_metric(runs, "hessian_eigenvalue", labels, spread,
                       title="Dominant Hessian eigenvalue (validation loss w.r.t. α)")


def plot_skip_counts(runs: Any, labels: Sequence[str] | None = None, spread: str = "std") -> Figure:
    """Skip connections and ``#P`` (parametric ops) of the architecture derived at each epoch; bands (std or
    min-max over the runs of a label) are clipped to the possible counts, 0 to the number of edges."""
    runs = _runs(runs, labels)
    colours = run_colors([r.label for r in runs])
    cell = "cell" if runs[0].space.topology == "nb201" else "normal cell"
    n = 6 if runs[0].space.topology == "nb201" else 8
    with style():
        fig = _new_figure(7.6, 2.8)
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        _draw_metric(ax1, runs, "skip_count", colours, spread, limits=(0, n))
        _draw_metric(ax2, runs, "num_parametric", colours, spread, legend=len(runs) > 1, limits=(0, n))
        ax1.set_title(f"Skip connections in the derived {cell}")
        ax2.set_title(f"#P: parametric ops in the derived {cell}")
        for ax in (ax1, ax2):
            _epoch_axis(ax)
            ax.yaxis.get_major_locator().set_params(integer=True)
        ax1.set_ylabel("count")
        ax1.set_ylim(-0.3, n + 0.3)
        if len(runs) == 1:
            fig.suptitle(_run_title(runs[0]))
    return fig


def plot_training_curves(runs: Any, labels: Sequence[str] | None = None, spread: str = "std") -> Figure:
    """Training (dashed) and held-out (solid) accuracy and loss per epoch."""
    runs = _runs(runs, labels)
    colours = run_colors([r.label for r in runs])
    with style():
        fig = _new_figure(7.6, 2.8)
        ax1, ax2 = fig.subplots(1, 2)
        _draw_metric(ax1, runs, "train_acc", colours, spread, "--", " train", legend=False)
        _draw_metric(ax1, runs, "eval_acc", colours, spread, "-", f" {runs[0].eval_split}", legend=False)
        _draw_metric(ax2, runs, "train_loss", colours, spread, "--", " train", legend=False)
        _draw_metric(ax2, runs, "eval_loss", colours, spread, "-", f" {runs[0].eval_split}", legend=False)
        ax1.set_ylabel("accuracy (%)")
        ax2.set_ylabel("cross-entropy")
        for ax in (ax1, ax2):
            _epoch_axis(ax)
        ax1.legend(loc="best")
        fig.suptitle("Search curves" + (f": {_run_title(runs[0])}" if len(runs) == 1 else ""))
    return fig


# ------------------------------------------------------------------------------------------ gradients

def _pick_cells(n: int, cells: Sequence[int] | None) -> list[int]:
    if cells is not None:
        return [c % n for c in cells]
    return sorted(set([0, n // 2, n - 1]))


def plot_gradient_correlation(runs: Any, labels: Sequence[str] | None = None, cells: Sequence[int] | None = None,
                              value: str = "cosine") -> Figure:
    """The correlation term of Hou et al. (2021), Eq. 8, per node of the first, middle and last search cells
    (or ``cells``) per recorded epoch (their Fig. 2). Several runs (e.g. bi-level vs single-level) get one line
    style per label; runs sharing
    a label (seeds) are averaged.

    ``value="cosine"``: scale-free, in [-1, 1] (1 when both steps use the same batch); ``"raw"``: Eq. 8 as
    written."""
    runs = _runs(runs, labels)
    groups: dict[str, list[tuple[list[int], list[Any]]]] = {}
    for run in runs:
        epochs, values = run.diagnostics("grad_correlation")
        if epochs:
            groups.setdefault(run.label, []).append((epochs, values))
    if not groups:
        raise ValueError("no run has recorded gradient correlations (DiagnosticsRecorder(gradients=True))")
    first = next(iter(groups.values()))[0][1][0]
    n_cells = len(first["cell_types"])
    picked = _pick_cells(n_cells, cells)
    nodes = first["nodes"][0]
    styles = ["-", "--", ":", "-."]
    ncols = min(len(picked), 3)
    nrows = -(-len(picked) // ncols)
    with style():
        fig = _new_figure(min(2.5 * ncols + 0.5, MAX_FIGURE_WIDTH_IN), 2.5 * nrows + 1.0)
        grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
        axes = grid.ravel()
        for ax in axes[len(picked):]:
            ax.set_axis_off()
        for ax, c in zip(axes, picked):
            for g_i, (label, members) in enumerate(groups.items()):
                common = sorted(set(members[0][0]).intersection(*[set(e) for e, _ in members[1:]]))
                for n_i, node in enumerate(nodes):
                    ys = np.mean([[dict(zip(e, v))[x][value][c][n_i] for x in common] for e, v in members], axis=0)
                    ax.plot(common, ys, color=_NODE_PALETTE[n_i % len(_NODE_PALETTE)], ls=styles[g_i % 4],
                            marker="o" if len(common) < 4 else None, ms=3)
            ax.axhline(0, color="#808080", lw=0.8)
            kind = {"normal": " (normal)", "reduce": " (reduction)"}.get(first["cell_types"][c], "")
            ax.set_title(f"cell {c + 1} of {n_cells}{kind}")
            _epoch_axis(ax)
        for ax in grid[:, 0]:
            ax.set_ylabel("gradient correlation" + (" (cosine)" if value == "cosine" else " (Eq. 8)"))
        handles = [Line2D([], [], color=_NODE_PALETTE[i % len(_NODE_PALETTE)], label=f"node {n}")
                   for i, n in enumerate(nodes)]
        if len(groups) > 1:
            handles += [Line2D([], [], color="black", ls=styles[i % 4],
                               label=label + (f" (mean of {len(m)})" if len(m) > 1 else ""))
                        for i, (label, m) in enumerate(groups.items())]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        fig.suptitle("Gradient correlation between the weight-step and alpha-step batches"
                     + (f"\n{_run_title(runs[0])}" if len(runs) == 1 else ""))
    return fig


def plot_op_weight_gradients(runs: Any, labels: Sequence[str] | None = None, cell: int = -1,
                             edge: int | None = None) -> Figure:
    """``dL/dp_i`` of every op on one edge of one search cell per recorded epoch, one panel per run
    (Hou et al., 2021, Fig. 3: edge 3←2 of the last cell, DARTS vs Single-DARTS). Default: the last cell's
    last edge."""
    runs = _runs(runs, labels)
    recorded = [(r, *r.diagnostics("op_weight_grads")) for r in runs]
    recorded = [(r, e, v) for r, e, v in recorded if e]
    if not recorded:
        raise ValueError("no run has recorded op-weight gradients (DiagnosticsRecorder(gradients=True))")
    ncols = min(len(recorded), 2)
    nrows = -(-len(recorded) // ncols)
    with style():
        fig = _new_figure(3.1 * ncols + 1.6, 2.7 * nrows + 0.4)
        grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
        axes = grid.ravel()
        for ax in axes[len(recorded):]:
            ax.set_axis_off()
        used = []
        for ax, (run, epochs, values) in zip(axes, recorded):
            n_cells = len(values[0]["cell_types"])
            c = cell % n_cells
            ct = values[0]["cell_types"][c]
            grads = np.array([v["grads"][c] for v in values])  # (T, E, M)
            e = (grads.shape[1] - 1) if edge is None else edge % grads.shape[1]
            ops = run.space.ops_of(ct, e)
            for k in sorted(range(len(ops)), key=lambda k: _op_key(ops[k])):
                ax.plot(epochs, grads[:, e, k], color=op_color(ops[k]), marker="o" if len(epochs) < 4 else None, ms=3)
                used.append(ops[k])
            ax.axhline(0, color="#808080", lw=0.8)
            ax.set_title(f"{run.label}: edge {_edge_label(run.space, e)}, cell {c + 1}/{n_cells}")
            _epoch_axis(ax)
        for ax in grid[:, 0]:
            ax.set_ylabel("dL / dp (alpha-step batch)")
        _op_legend(fig, used)
        fig.suptitle("Gradients of the op weights")
    return fig


# ------------------------------------------------------------------------------------------ landscape

def plot_landscape(landscape: Any, epoch: int | None = None, title: str | None = None) -> Figure:
    """Validation-accuracy landscape over two filter-normalised directions in alpha space: surface and
    contour (Chu et al., 2021, Fig. 3). ``landscape``: a :class:`~dartslib.diagnostics.landscape.Landscape`, its dict, or
    a run (the landscape recorded at ``epoch``, default the last)."""
    from dartslib.diagnostics.landscape import Landscape

    where = ""
    if isinstance(landscape, Landscape):
        land = landscape
    elif isinstance(landscape, Mapping) and "acc" in landscape:
        land = Landscape.from_dict(landscape)
    else:
        run = as_run(landscape)
        epochs, values = run.diagnostics("landscape")
        if not epochs:
            raise ValueError("the run has no recorded landscape (DiagnosticsRecorder(landscape=True))")
        i = len(epochs) - 1 if epoch is None else epochs.index(epoch)
        land = Landscape.from_dict(values[i])
        where = f": {_run_title(run)}, epoch {epochs[i]}"
    a, b = np.meshgrid(land.coords, land.coords, indexing="ij")
    acc = land.acc
    with style():
        fig = _new_figure(MAX_FIGURE_WIDTH_IN, 3.8)
        ax3 = fig.add_subplot(1, 2, 1, projection="3d")
        ax3.plot_surface(a, b, acc, cmap="viridis", edgecolor="#303030", lw=0.2, alpha=0.95, antialiased=True)
        ax3.set_xlabel("direction 1", labelpad=6)
        ax3.set_ylabel("direction 2", labelpad=6)
        ax3.set_zlabel("accuracy (%)", labelpad=0)
        ax3.tick_params(pad=0)
        ticks = [land.coords[0], 0.0, land.coords[-1]] if len(land.coords) > 2 else list(land.coords)
        ax3.set_xticks(ticks)
        ax3.set_yticks(ticks)
        ax3.zaxis.set_major_locator(MaxNLocator(5))
        ax3.view_init(elev=28, azim=-58)
        ax3.set_title("surface")
        ax = fig.add_subplot(1, 2, 2)
        low, high = float(np.nanmin(acc)), float(np.nanmax(acc))
        if high - low < 1e-9:  # a flat landscape: one band around its value
            low, high = low - 0.5, high + 0.5
        levels = MaxNLocator(nbins=8).tick_values(low, high)
        levels = levels[(levels >= low - (levels[1] - levels[0])) & (levels <= high + (levels[1] - levels[0]))]
        step = float(levels[1] - levels[0])
        filled = ax.contourf(a, b, acc, levels=levels, cmap="viridis")
        lines = ax.contour(a, b, acc, levels=levels, colors="white", linewidths=0.6)
        ax.clabel(lines, lines.levels[::2], fmt=f"%.{max(0, -int(np.floor(np.log10(step))))}f", fontsize=9,
                  inline=True)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.plot([0], [0], marker="*", color="#d62728", ms=10, mec="white", mew=0.8, ls="none",
                label=f"supernet ({land.center:.1f}%)")
        ax.set_aspect("equal")
        ax.set_xlabel("direction 1")
        ax.set_ylabel("direction 2")
        ax.grid(False)
        ax.legend(loc="upper right", frameon=True, framealpha=0.85)
        ax.set_title(f"contour (step {step:g} points)")
        cbar = fig.colorbar(filled, ax=ax, shrink=0.9)
        cbar.set_label("accuracy (%)")
        fig.suptitle(title or f"Accuracy landscape around the alphas{where}")
    return fig


# ------------------------------------------------------------------------------------------ residual gain

def plot_residual_gain(history: Mapping[Any, Sequence[Mapping[str, float]]], title: str | None = None) -> Figure:
    """The trainable skip coefficient beta of a small ResNet over training, one line per initial value,
    test accuracy in a small panel beside it (Chu et al., 2021, Fig. 2, has it in an inset). ``history``:
    ``{init: [{"epoch", "beta", "test_acc"}, ...]}`` as
    :func:`dartslib.book.residual_gain.residual_gain_experiment` returns."""
    inits = list(history)
    palette = ("#d55e00", "#0072b2", "#009e73", "#cc79a7", "#e69f00")
    with style():
        fig = _new_figure(7.2, 3.4)
        ax, acc = fig.subplots(1, 2, width_ratios=(2.3, 1))  # an inset would hide the lines at 9 pt
        for i, init in enumerate(inits):
            rows = history[init]
            epochs = [0] + [r["epoch"] for r in rows]
            betas = [float(init)] + [r["beta"] for r in rows]
            colour = palette[i % len(palette)]
            ax.plot(epochs, betas, color=colour, marker="o", ms=3, label=f"β initialised at {float(init):g}")
            acc.plot([r["epoch"] for r in rows], [r["test_acc"] for r in rows], color=colour, lw=1.2)
        ax.axhline(1.0, color="#808080", ls=":", lw=1)
        _epoch_axis(ax)
        ax.set_ylabel("β (skip coefficient)")
        fig.legend(handles=ax.get_legend_handles_labels()[0], loc="outside lower center", ncols=len(inits))
        acc.set_title("test accuracy (%)")
        _epoch_axis(acc)
        ax.set_title(title or "A ResNet learns a large skip coefficient β")
    return fig


# ------------------------------------------------------------------------------------------ comparison

_COMPARE_DEFAULT = ("eval_acc", "ies", "skip_count", "num_parametric", "discretization_gap", "hessian_eigenvalue")


def compare_runs(runs: Any, metrics: Sequence[str] | None = None, labels: Sequence[str] | None = None,
                 spread: str = "std", ncols: int = 3, title: str | None = None) -> Figure:
    """Several runs overlaid, one panel per metric (:data:`dartslib.diagnostics.recording.METRICS`): runs sharing a
    label (e.g. the seeds of one method; the default label is the method) are drawn as their mean with a
    band (``spread="std"`` or ``"minmax"``). By default the panels are every metric of
    ``eval_acc, ies, skip_count, num_parametric, discretization_gap, hessian_eigenvalue`` that some run
    recorded."""
    runs = _runs(runs, labels)
    if metrics is None:
        metrics = [m for m in _COMPARE_DEFAULT if any(metric_series(r, m)[0] for r in runs)]
    metrics = list(metrics)
    colours = run_colors([r.label for r in runs])
    ncols = min(ncols, len(metrics))
    nrows = -(-len(metrics) // ncols)
    with style():
        width = min(2.55 * ncols + 0.3, MAX_FIGURE_WIDTH_IN)
        fig = _new_figure(width, 2.4 * nrows + 1.0)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax, metric in zip(axes.flat, metrics):
            if not _draw_metric(ax, runs, metric, colours, spread, legend=False):
                ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color="#808080")
            ax.set_title(textwrap.fill(METRICS[metric][0], int(12 * width / ncols)))  # ~12 characters an inch
            _epoch_axis(ax)
            if metric in ("skip_count", "num_parametric"):
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_ylim(-0.3, max(ax.get_ylim()[1], 1.0) + 0.3)
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_axis_off()
        handles = []
        for label, group in _group(runs).items():
            n = f" (n={len(group)}, mean ± {'sd' if spread == 'std' else 'range'})" if len(group) > 1 else ""
            handles.append(Line2D([], [], color=colours[label], lw=2, label=f"{label}{n}"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3))
        fig.suptitle(title or "Comparison of runs")
    return fig


# ------------------------------------------------------------------------------------------ standard sets

def standard_figures(run: Any) -> Iterator[tuple[str, Figure]]:
    """``(name, figure)`` for every standard figure the run's data supports (made one at a time)."""
    run = as_run(run)
    yield "training_curves", plot_training_curves(run)
    yield "dominant_ops", plot_dominant_ops(run)
    for ct in run.space.cell_types:
        yield f"edge_weights_{ct}", plot_edge_weights(run, ct)
    yield "weight_heatmap", plot_weight_heatmap(run)
    yield "weight_histogram", plot_weight_histogram(run)
    yield "ies", plot_ies(run)
    yield "skip_count", plot_skip_counts(run)
    if run.diagnostics("discretization")[0]:
        yield "discretization_gap", plot_discretization_gap(run)
    if run.diagnostics("hessian_eigenvalue")[0]:
        yield "hessian_eigenvalue", plot_eigenvalues(run)
    if run.diagnostics("grad_correlation")[0]:
        yield "grad_correlation", plot_gradient_correlation(run)
    if run.diagnostics("op_weight_grads")[0]:
        yield "op_weight_grads", plot_op_weight_gradients(run)
    if run.diagnostics("landscape")[0]:
        yield "landscape", plot_landscape(run)
    genotype = run.final_genotype
    if run.space.topology == "nb201":
        yield "cell", draw_cell(genotype, title="Derived cell\n" + str(genotype).replace("|+|", "|+\n|"))
    else:
        for cell in ("normal", "reduce"):
            yield f"cell_{cell}", draw_cell(genotype, cell)


def write_standard_figures(run: Any, out_dir: str | Path | None = None,
                           formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write every standard figure of a run as ``out_dir/<name>.<fmt>`` (default ``RUN_DIR/figures``)."""
    run = as_run(run)
    if out_dir is None:
        if run.path is None:
            raise ValueError("the run has no directory; pass out_dir")
        out_dir = Path(run.path) / "figures"
    written: list[Path] = []
    for name, fig in standard_figures(run):
        written += save_figure(fig, Path(out_dir) / name, formats)
    return written


def write_comparison_figures(runs: Any, out_dir: str | Path, labels: Sequence[str] | None = None,
                             formats: Sequence[str] = ("png", "svg"), spread: str = "std") -> list[Path]:
    """Overlay several runs: the metric grid, training curves, and the recorded diagnostics."""
    runs = _runs(runs, labels)
    out_dir = Path(out_dir)
    figures: list[tuple[str, Figure]] = [("compare", compare_runs(runs, spread=spread)),
                                         ("compare_training_curves", plot_training_curves(runs, spread=spread)),
                                         ("compare_ies", plot_ies(runs, spread=spread)),
                                         ("compare_skip_count", plot_skip_counts(runs, spread=spread)),
                                         ("compare_weight_histogram", plot_weight_histogram(runs))]
    if any(r.diagnostics("discretization")[0] for r in runs):
        figures.append(("compare_discretization_gap", plot_discretization_gap(runs, spread=spread)))
    if any(r.diagnostics("hessian_eigenvalue")[0] for r in runs):
        figures.append(("compare_hessian_eigenvalue", plot_eigenvalues(runs, spread=spread)))
    if any(r.diagnostics("grad_correlation")[0] for r in runs) and len(runs) <= 4:
        figures.append(("compare_grad_correlation", plot_gradient_correlation(runs)))
    written: list[Path] = []
    for name, fig in figures:
        written += save_figure(fig, out_dir / name, formats)
    return written
