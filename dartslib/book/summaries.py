"""Summaries over seeds and the tables that show them: what the book's chapters print and glue about a set of runs.

One statistic, :func:`mean_spread` (the mean over seeds and a documented spread around it), one formatter,
:func:`mean_sd` (``"mean ± spread"`` as the prose and the tables show it), and the glue and table helpers built
on them (:func:`glue_mean_sd`, :func:`mean_sd_table`, :func:`show_table`, :func:`method_mean_sd`). The spread
is named where it is used:

* ``"sd"`` (the default): the sample standard deviation over seeds (``ddof=1``), how much a seed varies;
* ``"sem"``: the standard error of the mean, ``sd / sqrt(n)``;
* ``"t"``: the half-width of the Student-t ``level`` interval of the mean, ``t_{(1+level)/2, n-1} * sem``;
* ``"bootstrap"`` is not symmetric: :func:`mean_interval` gives it as ``(low, high)``
  (:func:`dartslib.book.verdicts.bootstrap_ci`, percentile, 10,000 resamples, seed 0).

Missing values (NaN) are left out everywhere; a spread of one value is NaN.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from dartslib.book.paste import glue
from dartslib.book.verdicts import bootstrap_ci

__all__ = ["SPREADS", "finite", "mean_spread", "mean_interval", "mean_sd", "glue_mean_sd", "snap_zero",
           "show_table", "mean_sd_table", "group_stats", "of_method", "method_mean_sd", "welch_difference"]

#: the spreads :func:`mean_spread` computes (see the module docstring)
SPREADS: tuple[str, ...] = ("sd", "sem", "t")


def finite(values: Any) -> np.ndarray:
    """``values`` (a list, an array, a tensor, a Series) as a flat float64 array ``(n,)`` without its NaNs."""
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def mean_spread(values: Any, spread: str = "sd", level: float = 0.95) -> tuple[float, float]:
    """The mean of ``values`` ``(n,)`` over seeds and its ``spread`` (``"sd"``, ``"sem"`` or ``"t"``: the module
    docstring); ``(nan, nan)`` for no value, ``(x, nan)`` for one."""
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {', '.join(SPREADS)}, got {spread!r}")
    x = finite(values)
    if len(x) == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    if len(x) == 1:
        return mean, math.nan
    sd = float(x.std(ddof=1))
    if spread == "sd":
        return mean, sd
    sem = sd / math.sqrt(len(x))
    if spread == "sem":
        return mean, sem
    return mean, float(stats.t.ppf((1 + level) / 2, len(x) - 1)) * sem


def mean_interval(values: Any, method: str = "t", level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` ``(n,)`` and its ``level`` interval, by ``method`` ``"t"``
    (Student's t, symmetric: :func:`mean_spread`) or ``"bootstrap"`` (percentile bootstrap,
    :func:`dartslib.book.verdicts.bootstrap_ci`); NaN bounds for fewer than two values."""
    x = finite(values)
    if method == "t":
        mean, half = mean_spread(x, "t", level)
        return mean, mean - half, mean + half
    if method == "bootstrap":
        low, high = bootstrap_ci(x, level=level)
        return (float(x.mean()) if len(x) else math.nan), low, high
    raise ValueError(f"method must be 't' or 'bootstrap', got {method!r}")


def mean_sd(values: Any, fmt: str = "{:.2f}", na: str = "–", *, spread: str = "sd", level: float = 0.95,
            sep: str = " ± ", unit: str = "", one: str = "{}", expected: int | None = None) -> str:
    """``"mean ± sd"`` of ``values`` over seeds, as the book prints it (missing values left out).

    Args:
        values: ``(n,)``, one value per seed.
        fmt: the format of the mean and of the spread (``"{:.1f}"``).
        na: the text for no value at all.
        spread: what follows the ``±``: ``"sd"`` (sample standard deviation), ``"sem"`` or ``"t"``
            (:func:`mean_spread`).
        sep: between the mean and the spread (``"\u00a0±\u00a0"`` keeps them on one line).
        unit: after the whole (``" points"``: ``"1.2 ± 0.3 points"``).
        one: the template of a single value, its formatted text with the unit at ``{}``
            (``"{} (1 seed)"``); a single value has no spread.
        expected: the number of seeds there should be; when fewer have a value, ``" (n)"`` follows.

    Returns:
        e.g. ``"1.50 ± 0.71"``.
    """
    x = finite(values)
    if len(x) == 0:
        return na
    mean, half = mean_spread(x, spread, level)
    text = one.format(fmt.format(mean) + unit) if len(x) == 1 else f"{fmt.format(mean)}{sep}{fmt.format(half)}{unit}"
    return text + (f" ({len(x)})" if expected is not None and len(x) < expected else "")


def glue_mean_sd(mean_key: str, sd_key: str, values: Any, spread: str = "sd") -> tuple[float, float]:
    """Glue the mean of ``values`` ``(n,)`` over seeds as ``mean_key`` and its ``spread`` (sample sd by default:
    :func:`mean_spread`) as ``sd_key``, both floats and not displayed; returns them."""
    mean, half = mean_spread(values, spread)
    glue(mean_key, mean, display=False)
    glue(sd_key, half, display=False)
    return mean, half


def snap_zero(value: float, tol: float = 5e-4) -> float:
    """``value``, or 0.0 when ``|value| < tol``: rounding noise (an all-zero output's score, ``-1e-7``) printed
    as ``0.000`` rather than ``-0.000``. ``tol`` is half the last printed digit (``5e-4`` for 3 decimals)."""
    return 0.0 if abs(value) < tol else float(value)


def show_table(df: pd.DataFrame, formats: Mapping[str, str] | None = None, rename: Mapping[str, str] | None = None,
               decimals: int = 2, na: str = "–", index: bool = False, caption: str | None = None) -> Any:
    """A table as the book shows it: numbers formatted, a missing value as a dash (never ``NaN``), no index.

    Args:
        df: the table.
        formats: ``column -> format`` (``"{:.1f}"``, ``"{:.0f}%"``); other float columns get ``decimals`` places.
        rename: ``column -> header`` (with the unit: ``{"acc": "accuracy (%)"}``), applied after formatting.
        na: what a missing value shows.
        index: show the index.
        caption: a caption above the table.

    Returns:
        a pandas ``Styler``; a cell that ends with it shows the table.
    """
    formats = dict(formats or {})
    for column in df.columns:
        if column not in formats and pd.api.types.is_float_dtype(df[column]):
            formats[column] = f"{{:.{decimals}f}}"
    styler = df.style.format(formats, na_rep=na)
    styler = styler.format_index(lambda c: (rename or {}).get(c, c), axis="columns")
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


def mean_sd_table(df: pd.DataFrame, by: str, columns: Mapping[str, str], seeds: bool = True,
                  na: str = "–") -> Any:
    """Per group of ``by`` (a method, an arm): ``mean ± sd`` over its rows (seeds) of each column.

    Args:
        df: one row per seed.
        by: the column that names the group.
        columns: ``column -> format`` of the mean and sd (``{"drop": "{:.1f}"}``), in the order shown.
        seeds: add a column with the number of rows per group.
        na: what a column that a group never measured shows.

    Returns:
        the table, formatted (:func:`show_table`).
    """
    rows = []
    for group, part in df.groupby(by, sort=False):
        row = {by: group}
        if seeds:
            row["seeds"] = len(part)
        row.update({c: mean_sd(part[c], fmt, na) for c, fmt in columns.items()})
        rows.append(row)
    return show_table(pd.DataFrame(rows), na=na)


def group_stats(df: pd.DataFrame, by: str, value: str, first: Sequence[str] = ()) -> pd.DataFrame:
    """Per group of ``by``: the ``mean``, the sample ``std`` (ddof=1) and the count ``n`` of ``value`` over the
    group's rows, and the group's first entry of each column of ``first`` (a property the rows share, such as a
    cell's parameter count). One row per group, indexed by ``by``, sorted."""
    g = df.groupby(by)
    out = pd.DataFrame({"mean": g[value].mean(), "std": g[value].std(), "n": g[value].size()})
    for column in first:
        out[column] = g[column].first()
    return out


def of_method(table: pd.DataFrame, method: str) -> pd.DataFrame:
    """The rows of ``table`` (one per run, a ``method`` column) of ``method``; an empty table stays empty."""
    return table[table["method"] == method] if len(table) else table


def method_mean_sd(table: pd.DataFrame, method: str, column: str, fmt: str = "{:.2f}", **kwargs: Any) -> str:
    """:func:`mean_sd` of ``column`` over the runs of ``method`` in ``table`` (one row per run); ``kwargs`` go to
    :func:`mean_sd` (``na``, ``expected``, ...)."""
    return mean_sd(table.loc[table["method"] == method, column], fmt, **kwargs)


def welch_difference(x: Any, y: Any, level: float = 0.95) -> tuple[float, float, float, float]:
    """``mean(x) - mean(y)`` with Welch's t interval at ``level`` and its two-sided p-value
    (:func:`scipy.stats.ttest_ind` with ``equal_var=False``): ``(difference, low, high, p)``."""
    x, y = finite(x), finite(y)
    test = stats.ttest_ind(x, y, equal_var=False)
    ci = test.confidence_interval(level)
    return float(x.mean() - y.mean()), float(ci.low), float(ci.high), float(test.pvalue)
