"""Sentences the chapters glue into their prose about the committed real-supernet runs, every number computed.

Each function takes :meth:`dartslib.book.results.CollapseResults.table` (one row per search: ``method``,
``seed``, ``genotype``, ``param_free``, ``skips``, ...) and returns Markdown for ``{glue:md}``. A chapter glues
what these return; it states no number about the runs by hand.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import pandas as pd

from dartslib.book.results import PARAMETER_FREE, cell_ops
from dartslib.book.summaries import mean_sd, method_mean_sd, of_method

__all__ = ["COLLAPSED_AT", "collapse_sentence", "level_sentence", "single_level_verdict", "method_bullet",
           "main_free_op", "config_switches", "PAPER_PM", "paper_pm"]

#: a NAS-Bench-201 cell (6 edges) "collapses" when at least this many edges are parameter-free
COLLAPSED_AT = 4
#: chapter 8's ``mean ± sd``: kept on one line, the unit after the sd, one seed named
PAPER_PM = dict(na="not measured", sep="\u00a0±\u00a0", one="{} (one seed)")


def paper_pm(values: Any, digits: int = 1, unit: str = "") -> str:
    """Chapter 8's ``mean ± sd`` over seeds (sample sd) with ``digits`` places and ``unit`` after the sd, the
    value alone with ``" (one seed)"`` for one seed, ``"not measured"`` for none (:func:`mean_sd`)."""
    return mean_sd(values, f"{{:.{digits}f}}", unit=unit, **PAPER_PM)


def collapse_sentence(table: pd.DataFrame, method: str, half: int = 3) -> str:
    """Chapter 8's sentence on a method's runs: how many seeds collapse (more than ``half`` parameter-free
    edges), the parameter-free edges and skips (mean ± sd), and the most frequent op of the derived cells."""
    rows = of_method(table, method)
    if len(rows) == 0:
        return "not in the committed runs yet"
    ops = pd.Series([op for g in rows["genotype"] for op in cell_ops(g)]).value_counts()
    return (f"{int((rows['param_free'] > half).sum())} of {len(rows)} seeds collapse (parameter-free edges "
            f"{paper_pm(rows['param_free'])} of 6, skips {paper_pm(rows['skips'])}; most frequent op "
            f"{ops.index[0]}, {ops.iloc[0]} of {ops.sum()} edges)")


def level_sentence(table: pd.DataFrame, method: str, gc_columns: Sequence[str]) -> str:
    """Chapter 6's sentence on a method's runs: skips and parameter-free edges, seeds collapsed, the first
    epoch past half the edges, and (where measured) the gradient correlation of Eq. (6) bi-level against two
    training batches (``gc_columns[:2]``)."""
    t = table[table["method"] == method]
    if t.empty:
        return (f"`{method}`: no run in the committed results (the command above makes them; "
                f"`python -m dartslib sweep` resumes)")
    n = len(t)
    collapsed = int((t["param_free"] >= COLLAPSED_AT).sum())
    first = t["first_over_half"].dropna()
    skips = f"{t['skips'].mean():.1f} ± {t['skips'].std(ddof=1):.1f}" if n > 1 else f"{t['skips'].iloc[0]:.0f}"
    text = (f"`{method}` ({n} seed{'s' if n > 1 else ''}): {skips} skips and {t['param_free'].mean():.1f} "
            f"parameter-free edges of 6 in the derived cell, {collapsed} of {n} seeds with at least 4 "
            f"parameter-free edges")
    text += (f", first past half the edges at epoch {first.mean():.1f} on average ({len(first)} of {n} seeds)"
             if len(first) else ", never past half the edges")
    gc = list(gc_columns)
    if len(gc) >= 2 and t[gc[:2]].notna().all(axis=1).any():
        m = t.dropna(subset=gc[:2])
        text += (f"; on the trained final supernet ({len(m)} seed{'s' if len(m) != 1 else ''}) the mean cosine of "
                 f"Eq. (6) is {m[gc[0]].mean():.3f} bi-level against {m[gc[1]].mean():.3f} for two batches of "
                 f"the training half, the same-subset term the larger in {int((m[gc[1]] > m[gc[0]]).sum())} of "
                 f"{len(m)} runs")
    else:
        text += "; its gradient correlation on the trained supernet is not measured in the committed runs"
    return text + "."


def single_level_verdict(table: pd.DataFrame, test_sentence: str) -> str:
    """Chapter 6's verdict on single-level search in the committed runs: ``single-darts`` against ``darts``
    in derived skips (mean difference, seed-to-seed spread), then ``test_sentence``, the 20-seed test's
    sentence (:class:`dartslib.book.verdicts.Evidence`), and the confound of the preset."""
    d = table[table["method"] == "darts"]
    s = table[table["method"] == "single-darts"]
    if d.empty or s.empty:
        return ("Until both `darts` and `single-darts` runs are committed, the real-supernet comparison of the "
                "two updates cannot be made; what is there is shown above.")
    diff = d["skips"].mean() - s["skips"].mean()
    confound = (" `single-darts` changes two things at once, the update and sigmoid gates for the softmax "
                "(chapter 2 found the gates to matter on their own), so this does not isolate the update.")
    if min(len(d), len(s)) < 3:
        return (f"With {len(s)} `single-darts` and {len(d)} `darts` seed(s) in the committed runs the comparison is "
                f"preliminary: single-level search derived {-diff:+.1f} skips relative to bi-level DARTS "
                f"(mean over the seeds there are)." + confound)
    spread = max(d["skips"].std(ddof=1), s["skips"].std(ddof=1))
    return (f"In these five runs single-level search derived {-diff:+.1f} skips relative to bi-level DARTS on "
            f"average (seed-to-seed spread {spread:.1f}), at its own weight learning rate and with 690 steps "
            f"against 360: five seeds cannot test that. The 20-seed test: {test_sentence}." + confound)


def method_bullet(table: pd.DataFrame, method: str, columns: Mapping[str, str], drops: Sequence[str],
                  decimals: Mapping[str, int]) -> str:
    """Chapter 7's Markdown bullet of a method's numbers (only those that exist for it): parameter-free edges,
    seeds collapsed, skips, the parameter-free ops derived, IES, the drops of ``drops`` and the retrained
    accuracies, each ``mean ± sd`` over the seeds with ``decimals[column]`` places (1 otherwise) and ``(k)``
    when only k of the method's seeds have it; ``columns`` names the columns shown (``column -> label``)."""
    rows = of_method(table, method)
    n = len(rows)

    def pm(column: str) -> str:
        return method_mean_sd(table, method, column, f"{{:.{decimals.get(column, 1)}f}}", na="-", expected=n)

    parts = [f"{pm('param_free')} parameter-free edges ({int((rows['param_free'] >= COLLAPSED_AT).sum())} of {n} "
             f"seeds at 4 or more), {pm('skips')} skips"]
    free_ops = Counter(op for g in rows.genotype for op in cell_ops(g) if op in PARAMETER_FREE)
    if free_ops:
        parts.append("parameter-free ops derived: " + ", ".join(f"`{op}` {k}" for op, k in free_ops.most_common()))
    parts.append(f"IES {pm('ies')}")
    for d in drops:
        if rows[d].notna().any():
            parts.append(f"{columns[d]} {pm(d)}")
    for c in ("retrained_acc", "retrained_acc_hard"):
        if c in columns and rows[c].notna().any():
            parts.append(f"{columns[c]} {pm(c)}")
    return f"- **{method}** ({n} seed{'s' * (n > 1)}): " + "; ".join(parts) + "."


def main_free_op(table: pd.DataFrame, method: str) -> str:
    """The parameter-free op other than the skip that a method's derived cells hold most often (``"none"``
    when they hold none): the collapse a skip count hides."""
    ops = Counter(op for g in table.loc[table.method == method, "genotype"] for op in cell_ops(g)
                  if op in PARAMETER_FREE and op != "skip_connect")
    return ops.most_common(1)[0][0] if ops else "none"


def config_switches(cfg: Any) -> str:
    """A search config's method switches that chapter 8's settings table has no column for
    (``"zero_one_loss=l01, t_sp=0.001"``): the zero-one loss, the auxiliary skip, SP-DARTS' ``t_sp``."""
    switches = {"zero_one_loss": cfg.zero_one_loss, "aux_skip": cfg.aux_skip,
                "t_sp": cfg.t_sp if cfg.op_weights == "sparse-smooth" else None}
    return ", ".join(f"{k}={v}" for k, v in switches.items() if v)
