"""Verdicts computed from the committed runs by the rules of ``book/results/collapse/PROTOCOL.md``.

The book never writes "fewer", "reliably", "cures" or "ranked" by hand: each verdict it states about a
method is a :class:`Verdict` computed here from the committed searches -- the word the protocol allows, the
test's p-value (Holm-adjusted where several methods are compared with DARTS) and the interval -- and glued
into the prose. :func:`check_prose` reads the book's hand-written text for those words and reports every
sentence that claims more than the verdicts allow (``tests/test_verdicts.py`` runs it over every chapter).

The tests (PROTOCOL.md section 6), each a function here so a reader can re-run it:

* rates (skip-dominated: at least 4 of 6 edges ``skip_connect``): :func:`fisher_less` (Fisher's exact test,
  one-sided), :func:`clopper_pearson` intervals, :func:`binom_vs_chance` against a uniformly drawn cell;
* means (skip count, skip share, alpha lead): :func:`permutation_test` of the difference of means (exact up to
  10^6 relabellings, else 100,000 seeded draws), :func:`bootstrap_ci` (percentile, 10,000 resamples, seed 0);
* several methods against DARTS: :func:`holm`.

Usage::

    arms = load_arms("book/results/collapse/primary/native")     # {method: [Endpoints, ...]}
    table = compare_with_baseline(arms)                          # one MethodVerdict per method
    table["fairdarts"].rate.sentence                             # "fewer skip-dominated searches than DARTS ..."
"""
from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = ["SKIP", "NB201_OPS", "DOMINATED_AT", "MOVE_LEAD", "LEVEL", "chance_rate", "clopper_pearson",
           "bootstrap_ci", "permutation_test", "fisher_less", "binom_vs_chance", "holm", "Endpoints", "endpoints",
           "load_arms", "median_lead", "moves", "free_op", "PARAMETER_FREE_OPS", "Verdict", "MethodVerdict", "RegimeVerdict", "regime_verdict", "compare_with_baseline",
           "BOOK_NAMES", "CLAIM_WORDS", "check_prose", "fmt_p", "fmt_ci", "AccuracyCost", "accuracy_cost",
           "Evidence", "load_evidence", "load_retrained", "cost_of", "possessive", "PRIMARY_DIR", "CONFIRMATION_DIRS",
           "RETRAIN_DIR", "PRIMARY_METHODS", "AMENDED_ARMS", "PRIMARY_COMMAND", "evidence_figure", "cost_figure"]

SKIP = "skip_connect"
#: NB201's parameter-free ops: a cell with at least DOMINATED_AT of them is "parameter-free-dominated" (a
#: secondary, descriptive endpoint: chance gives it 0.54, so it is never tested)
PARAMETER_FREE_OPS: frozenset[str] = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"})
#: NB201's op order in dartslib (:mod:`dartslib.space.spaces`)
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: a search is skip-dominated when its derived cell has at least this many of 6 edges ``skip_connect``
DOMINATED_AT = 4
#: a method "moves" when its median alpha lead at the read epoch is at least this and above its epoch-1 value
MOVE_LEAD = 0.05
#: the level of every test, after Holm's correction
LEVEL = 0.05
#: "reliably collapses": skip-dominated in at least this share of at least :data:`DECISIVE_N` searches
DECISIVE_RATE = 0.70
DECISIVE_N = 20
#: "cures": the method's Clopper-Pearson upper bound for the skip-dominated rate is below this
CURE_UPPER = 0.20


# ------------------------------------------------------------------------------------------------ tests

def chance_rate(edges: int = 6, ops: int = 5, at_least: int = DOMINATED_AT) -> float:
    """P(at least ``at_least`` of ``edges`` edges are skip) for a cell drawn uniformly from ``ops`` ops:
    0.017 for NB201."""
    return float(stats.binom.sf(at_least - 1, edges, 1 / ops))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) ``level`` interval for a rate of ``k`` in ``n``."""
    if n == 0:
        return math.nan, math.nan
    a = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def bootstrap_ci(x: Sequence[float], y: Sequence[float] | None = None, stat=np.mean, reps: int = 10_000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(x)``, or of ``stat(x) - stat(y)`` when ``y`` is given (each group
    resampled on its own)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2 or (y is not None and len(y) < 2):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = stat(rng.choice(x, size=(reps, len(x)), replace=True), axis=1)
    if y is not None:
        y = np.asarray(y, dtype=float)
        values = values - stat(rng.choice(y, size=(reps, len(y)), replace=True), axis=1)
    a = (1 - level) / 2 * 100
    return float(np.percentile(values, a)), float(np.percentile(values, 100 - a))


def permutation_test(x: Sequence[float], y: Sequence[float], alternative: str = "less",
                     strata: tuple[Sequence[int], Sequence[int]] | None = None, exact_limit: int = 10**6,
                     draws: int = 100_000, seed: int = 0) -> float:
    """p-value of the difference of means ``mean(x) - mean(y)`` under relabelling (``alternative``: ``"less"``,
    ``"greater"`` or ``"two-sided"``). Exact when there are at most ``exact_limit`` relabellings, otherwise
    ``draws`` seeded Monte Carlo relabellings (p = (hits + 1) / (draws + 1)). With ``strata`` (a block label per
    element of ``x`` and of ``y``), labels are permuted within each block only (e.g. within one arithmetic)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    values = np.concatenate([x, y])
    is_x = np.r_[np.ones(len(x), bool), np.zeros(len(y), bool)]
    blocks = np.zeros(len(values), int) if strata is None else np.concatenate([np.asarray(s) for s in strata])
    observed = x.mean() - y.mean()

    def stat(mask: np.ndarray) -> np.ndarray:  # mask [..., N]: True where labelled x
        return (mask * values).sum(-1) / len(x) - (~mask * values).sum(-1) / len(y)

    def hits(d: np.ndarray) -> np.ndarray:
        tol = 1e-12 * max(1.0, abs(observed))
        if alternative == "less":
            return d <= observed + tol
        if alternative == "greater":
            return d >= observed - tol
        return np.abs(d) >= abs(observed) - tol

    groups = [np.flatnonzero(blocks == b) for b in np.unique(blocks)]
    counts = [math.comb(len(g), int(is_x[g].sum())) for g in groups]
    if math.prod(counts) <= exact_limit:
        per_block = [[np.isin(g, np.array(c)) for c in itertools.combinations(g, int(is_x[g].sum()))]
                     for g in groups]
        masks = []
        for combo in itertools.product(*per_block):
            m = np.zeros(len(values), bool)
            for g, sel in zip(groups, combo):
                m[g] = sel
            masks.append(m)
        d = stat(np.array(masks))
        return float(hits(d).mean())
    rng = np.random.default_rng(seed)
    x_sums = np.zeros(draws)   # per draw: the sum of the values relabelled x (the same draws as a mask would use)
    for g in groups:
        k = int(is_x[g].sum())
        order = rng.random((draws, len(g))).argsort(1)[:, :k]
        x_sums += values[g][order].sum(1)
    d = x_sums / len(x) - (values.sum() - x_sums) / len(y)
    return float((hits(d).sum() + 1) / (draws + 1))


def fisher_less(k1: int, n1: int, k0: int, n0: int) -> float:
    """Fisher's exact test, one-sided: is the rate ``k1/n1`` lower than ``k0/n0``?"""
    return float(stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="less")[1])


def binom_vs_chance(k: int, n: int, p0: float | None = None) -> float:
    """The exact one-sided binomial p of ``k`` skip-dominated searches in ``n`` against chance (:func:`chance_rate`)."""
    return float(stats.binomtest(k, n, chance_rate() if p0 is None else p0, alternative="greater").pvalue)


def holm(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (each capped at 1, monotone in the raw order)."""
    items = sorted(pvalues.items(), key=lambda kv: kv[1])
    m, out, running = len(items), {}, 0.0
    for i, (name, p) in enumerate(items):
        running = max(running, min(1.0, (m - i) * p))
        out[name] = running
    return out


def fmt_p(p: float) -> str:
    """A p-value as the book prints it: ``p = 0.031`` (two significant digits), ``p < 0.001`` below that."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def _bare_p(p: float) -> str:
    """A p-value for a table cell: ``0.031``, ``<0.001``."""
    return fmt_p(p).removeprefix("p = ").replace("p < ", "<")


def fmt_ci(ci: tuple[float, float], pct: bool = False, digits: int = 2) -> str:
    lo, hi = ci
    return f"{100 * lo:.0f}-{100 * hi:.0f} %" if pct else f"[{lo:.{digits}f}, {hi:.{digits}f}]"


# ------------------------------------------------------------------------------------------- endpoints

@dataclass(frozen=True)
class Endpoints:
    """The protocol's endpoints of one search, read at its last epoch (PROTOCOL.md section 2)."""

    method: str
    seed: int
    skips: int                 #: derived cell's skip_connect edges, of 6
    share: float               #: mean over edges of the skip op weight / the edge's summed op weights
    leads: tuple[float, ...]   #: per edge: largest alpha - runner-up (alpha units)
    leads_epoch1: tuple[float, ...]  #: the same after epoch 1: the random-walk reference
    max_weight: float          #: the largest op weight of any edge
    genotype: str
    block: str = ""            #: the arithmetic (CPU capability and fingerprint) that ran it

    @property
    def dominated(self) -> bool:
        return self.skips >= DOMINATED_AT

    @property
    def ops(self) -> list[str]:
        """The derived cell's op per edge."""
        from dartslib.book.results import cell_ops

        return cell_ops(self.genotype)

    @property
    def param_free(self) -> int:
        """Edges of the derived cell that are parameter-free (``none``, skip, average pooling)."""
        return sum(op in PARAMETER_FREE_OPS for op in self.ops)

    @property
    def lead(self) -> float:
        """The search's median alpha lead over its edges."""
        return float(np.median(self.leads))


def median_lead(runs: Sequence[Endpoints], epoch1: bool = False) -> float:
    """The median alpha lead over all edges of all ``runs`` (PROTOCOL.md section 2, endpoint 3)."""
    return float(np.median(np.concatenate([e.leads_epoch1 if epoch1 else e.leads for e in runs])))


def _edge_measures(line: Mapping) -> tuple[tuple[float, ...], float, float]:
    alphas = np.asarray(line["alphas"]["cell"], dtype=float)
    weights = np.asarray(line["op_weights"]["cell"], dtype=float)
    top2 = np.sort(alphas, axis=1)[:, -2:]
    share = weights[:, NB201_OPS.index(SKIP)] / weights.sum(1)
    return tuple(map(float, top2[:, 1] - top2[:, 0])), float(share.mean()), float(weights.max())


def endpoints(run_dir: str | Path) -> Endpoints | None:
    """The endpoints of the finished search in ``run_dir`` (``None`` while it has no ``result.json``)."""
    run_dir = Path(run_dir)
    if not (run_dir / "result.json").is_file():
        return None
    result = json.loads((run_dir / "result.json").read_text())
    history = [json.loads(s) for s in (run_dir / "history.jsonl").read_text().splitlines() if s.strip()]
    last, first = history[-1], history[0]
    leads, share, max_w = _edge_measures(last)
    leads1 = _edge_measures(first)[0]
    machine = result.get("machine") or {}
    block = f"{machine.get('cpu_capability', '?')}:{str(machine.get('arithmetic', '?'))[:8]}"
    method, _, seed = run_dir.name.split("__")
    genotype = last["genotype"]
    return Endpoints(method=method, seed=int(seed.removeprefix("seed")), skips=genotype.count(SKIP), share=share,
                     leads=leads, leads_epoch1=leads1, max_weight=max_w, genotype=genotype, block=block)


def load_arms(folder: str | Path, methods: Iterable[str] | None = None) -> dict[str, list[Endpoints]]:
    """``{method: [Endpoints by seed]}`` of the finished searches in a sweep folder."""
    arms: dict[str, list[Endpoints]] = {}
    for run in sorted(Path(folder).glob("*__*__seed*")):
        e = endpoints(run)
        if e is not None and (methods is None or e.method in methods):
            arms.setdefault(e.method, []).append(e)
    return {m: sorted(v, key=lambda e: e.seed) for m, v in arms.items()}


# --------------------------------------------------------------------------------------------- verdicts

#: how the book prints each preset
BOOK_NAMES: dict[str, str] = {"darts": "DARTS", "fairdarts": "FairDARTS", "darts-minus": "DARTS-",
                              "sp-darts": "SP-DARTS", "single-darts": "Single-DARTS",
                              "darts-gaussian": "darts-gaussian", "darts-noskip": "darts-noskip",
                              "single-darts-wd0": "Single-DARTS (alpha wd 0)",
                              "fairdarts-no-l01": "FairDARTS without L01",
                              "single-darts-softmax": "Single-DARTS with softmax"}


@dataclass(frozen=True)
class Verdict:
    """One verdict: the protocol's word for it, the (Holm-adjusted) p, the interval, and the sentence."""

    word: str           #: e.g. "fewer", "no difference shown", "cures", "undecided"
    p: float
    ci: tuple[float, float]
    sentence: str

    def __str__(self) -> str:
        return self.sentence


@dataclass(frozen=True)
class MethodVerdict:
    """A method against the baseline: rate and skip count (tests, Holm-adjusted), whether it moves, and the
    overall word ("cures", "fewer", "no difference shown" or "undecided")."""

    method: str
    n: int
    k: int
    k_free: int                #: searches with at least 4 parameter-free edges (descriptive)
    free_op: str               #: the parameter-free op the method derives most often
    rate_ci: tuple[float, float]
    mean_skips: float
    skips_ci: tuple[float, float]
    diff_skips_ci: tuple[float, float]
    share: float
    lead: float
    lead_epoch1: float
    moves: bool
    rate: Verdict
    skips: Verdict
    overall: Verdict

    @property
    def allowed(self) -> set[str]:
        """The claim words (:data:`CLAIM_WORDS`) the book may use of this method."""
        words = set()
        if self.rate.word == "fewer" or self.skips.word == "fewer":
            words.add("fewer")
        if self.overall.word == "cures":
            words |= {"cures", "fewer"}
        return words


@dataclass(frozen=True)
class RegimeVerdict:
    """Is first-order DARTS decisive in a setting (PROTOCOL.md section 4), on each arithmetic?"""

    arms: dict[str, tuple[int, int, tuple[float, float], float]]   #: block -> (k, n, CI, median lead)
    decisive: bool
    fisher_p: float
    verdict: Verdict


def regime_verdict(arms: Mapping[str, Sequence[Endpoints]]) -> RegimeVerdict:
    """The decisiveness rule of PROTOCOL.md section 4 over DARTS' searches on one or more arithmetics
    (``arms``: block label -> that block's searches): at least 70 % skip-dominated of at least 20 seeds on
    each, each rate inside the other's Clopper-Pearson 95 % interval, median alpha lead at least 0.05 on each."""
    info = {}
    for block, runs in arms.items():
        k, n = sum(e.dominated for e in runs), len(runs)
        info[block] = (k, n, clopper_pearson(k, n), median_lead(runs))
    ok = all(n >= DECISIVE_N and k / n >= DECISIVE_RATE and lead >= MOVE_LEAD for k, n, _, lead in info.values())
    for (ka, na, _, _), (_, _, (lo, hi), _) in itertools.permutations(info.values(), 2):
        ok = ok and lo <= ka / na <= hi
    fisher = math.nan
    if len(info) == 2:
        (k1, n1, *_), (k2, n2, *_) = info.values()
        fisher = float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1])
    parts = [f"{k}/{n} ({100 * k / n:.0f} %, 95 % CI {fmt_ci(ci, pct=True)}) on {b}" for b, (k, n, ci, _) in
             info.items()]
    word = "reliably collapses" if ok else "collapses in some searches"
    sentence = (f"first-order DARTS {'reliably collapses' if ok else 'is skip-dominated in'} "
                f"{'here: skip-dominated in ' if ok else ''}{' and '.join(parts)}")
    return RegimeVerdict(arms=info, decisive=ok, fisher_p=fisher,
                         verdict=Verdict(word, fisher, (math.nan, math.nan), sentence))


def free_op(runs: Sequence[Endpoints]) -> str:
    """The parameter-free op the searches derive most often (``"none"`` when they derive none)."""
    from collections import Counter

    counts = Counter(op for e in runs for op in e.ops if op in PARAMETER_FREE_OPS)
    return counts.most_common(1)[0][0] if counts else "none"


def moves(runs: Sequence[Endpoints]) -> bool:
    """PROTOCOL.md section 5's rule: the median alpha lead at the end is at least :data:`MOVE_LEAD` and above
    its epoch-1 value (a method that does not move is undecided)."""
    lead = median_lead(runs)
    return lead >= MOVE_LEAD and lead > median_lead(runs, epoch1=True)


def moves_sentence(runs: Sequence[Endpoints]) -> str:
    """Whether an arm's alphas move by the rule of PROTOCOL.md section 5, as a sentence (median lead at the end,
    at epoch 1, and the largest op weight of any edge)."""
    lead, lead1 = median_lead(runs), median_lead(runs, epoch1=True)
    largest = max(e.max_weight for e in runs)
    if moves(runs):
        return (f"its alphas move: the median lead of the top alpha is {lead:.3f} (epoch 1: {lead1:.3f}), above "
                f"the protocol's {MOVE_LEAD}; the largest op weight of any edge is {largest:.2f}")
    return (f"its alphas do not move by the protocol's rule: the median lead of the top alpha is {lead:.3f} "
            f"(epoch 1: {lead1:.3f}), below {MOVE_LEAD}, and the largest op weight of any edge is {largest:.2f}, so "
            f"each derived op is the argmax of near-equal alphas")


def compare_with_baseline(arms: Mapping[str, Sequence[Endpoints]], baseline: str = "darts",
                          decisive: bool = True) -> dict[str, MethodVerdict]:
    """Every method of ``arms`` against ``baseline`` by PROTOCOL.md sections 5-7: Fisher's exact test of the
    skip-dominated rate and the permutation test of the mean skip count (both one-sided, method < baseline,
    stratified by arithmetic when the arms mix two), each Holm-adjusted across the methods; whether the method
    moves; and the word. ``decisive``: whether the baseline is decisive in this regime (:func:`regime_verdict`),
    without which no method "cures"."""
    base = list(arms[baseline])
    kb, nb = sum(e.dominated for e in base), len(base)
    raw_rate, raw_skips, pre = {}, {}, {}
    for method, runs in arms.items():
        if method == baseline:
            continue
        runs = list(runs)
        k, n = sum(e.dominated for e in runs), len(runs)
        x, y = [e.skips for e in runs], [e.skips for e in base]
        blocks = sorted({e.block for e in runs + base})
        if len(blocks) > 1:
            strata = ([blocks.index(e.block) for e in runs], [blocks.index(e.block) for e in base])
            raw_rate[method] = permutation_test([e.dominated for e in runs], [e.dominated for e in base],
                                                strata=strata)
            raw_skips[method] = permutation_test(x, y, strata=strata)
        else:
            raw_rate[method] = fisher_less(k, n, kb, nb)
            raw_skips[method] = permutation_test(x, y)
        lead, lead1 = median_lead(runs), median_lead(runs, epoch1=True)
        pre[method] = (runs, k, n, x, y, lead, lead1)
    adj_rate, adj_skips = holm(raw_rate), holm(raw_skips)
    name0 = BOOK_NAMES.get(baseline, baseline)
    out = {}
    for method, (runs, k, n, x, y, lead, lead1) in pre.items():
        name = BOOK_NAMES.get(method, method)
        moving = moves(runs)
        ci = clopper_pearson(k, n)
        diff_ci = bootstrap_ci(x, y)
        p_r, p_s = adj_rate[method], adj_skips[method]
        if not moving:
            why = (f"its median alpha lead is {lead:.3f} (epoch 1: {lead1:.3f}; the protocol asks for at least "
                   f"{MOVE_LEAD} and above epoch 1)")
            rate = Verdict("undecided", p_r, ci, f"{name} is undecided, not ranked: {why}")
            skips = Verdict("undecided", p_s, diff_ci, rate.sentence)
            overall = rate
        else:
            rate_word = "fewer" if p_r < LEVEL else "no difference shown"
            skips_word = "fewer" if p_s < LEVEL else "no difference shown"
            rate = Verdict(rate_word, p_r, ci, (
                f"{name}: {k}/{n} skip-dominated (95 % CI {fmt_ci(ci, pct=True)}) against {possessive(name0)} {kb}/{nb}; "
                + ("fewer skip-dominated searches" if rate_word == "fewer" else "no difference in the rate shown")
                + f" (one-sided exact test, Holm-adjusted {fmt_p(p_r)})"))
            skips = Verdict(skips_word, p_s, diff_ci, (
                f"{name}: {np.mean(x):.2f} skips per cell against {possessive(name0)} {np.mean(y):.2f}, difference "
                f"{np.mean(x) - np.mean(y):+.2f} (95 % CI {fmt_ci(diff_ci)}); "
                + ("fewer skips" if skips_word == "fewer" else "no difference in skips shown")
                + f" (permutation test, Holm-adjusted {fmt_p(p_s)})"))
            cures = rate_word == "fewer" and ci[1] < CURE_UPPER and decisive
            word = "cures" if cures else "fewer" if "fewer" in (rate_word, skips_word) else "no difference shown"
            k_free = sum(e.param_free >= DOMINATED_AT for e in runs)
            moved = (f", but {k_free}/{n} of its cells have at least {DOMINATED_AT} of 6 parameter-free edges, "
                     f"mostly `{free_op(runs)}`: the collapse moves to another parameter-free op"
                     if k_free * 2 >= n and free_op(runs) != SKIP else "")
            overall = Verdict(word, p_r, ci, (
                f"{name} cures the skip collapse here: {k}/{n} skip-dominated (upper 95 % bound {100 * ci[1]:.0f} %, "
                f"Holm {fmt_p(p_r)}){moved}" if cures else
                f"{name} gives fewer {'skip-dominated searches' if rate_word == 'fewer' else 'skips'} than "
                f"{name0} ({'rate' if rate_word == 'fewer' else 'skips'} Holm "
                f"{fmt_p(p_r if rate_word == 'fewer' else p_s)}), "
                + (f"but no cure can be claimed, since {name0} is not decisive in this setting ({k}/{n} "
                   f"skip-dominated, upper 95 % bound {100 * ci[1]:.0f} %)"
                   if rate_word == "fewer" and ci[1] < CURE_UPPER and not decisive else
                   f"but does not cure it ({k}/{n} skip-dominated, upper 95 % bound {100 * ci[1]:.0f} %)")
                if word == "fewer" else
                f"no difference from {name0} shown for {name} ({k}/{n} skip-dominated; Holm {fmt_p(p_r)} for "
                f"the rate, {fmt_p(p_s)} for skips)"))
        out[method] = MethodVerdict(
            method=method, n=n, k=k, k_free=sum(e.param_free >= DOMINATED_AT for e in runs), free_op=free_op(runs),
            rate_ci=ci, mean_skips=float(np.mean(x)), skips_ci=bootstrap_ci(x),
            diff_skips_ci=diff_ci, share=float(np.mean([e.share for e in runs])), lead=lead, lead_epoch1=lead1,
            moves=moving, rate=rate, skips=skips, overall=overall)
    return out


# ------------------------------------------------------------------------------------------ prose check

#: claim words the protocol controls (PROTOCOL.md section 7), as regular expressions
CLAIM_WORDS: dict[str, str] = {"fewer": r"\bfewer\b", "reliably": r"\breliabl[ey]\b", "cures": r"\bcur(?:e|es|ed)\b",
                               "ranked": r"\brank(?:s|ed)?\b|\bbetter than\b"}
_NEGATION = re.compile(r"\b(?:not|no|never|nor|cannot|can't|without|neither|undecided|unless|whether|only if|"
                       r"may|might|would|could|claims?|claimed|asks?|argues|reads|papers?|reports?|reported)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*])")
_GLUE = re.compile(r"\{glue(?::text)?\}`[^`]*`")


def _methods_in(sentence: str) -> list[str]:
    found = []
    for method, name in sorted(BOOK_NAMES.items(), key=lambda kv: -len(kv[1])):
        pattern = re.escape(name) + (r"(?![\w-])" if not name.endswith("-") else r"(?!\w)")
        if re.search(pattern, sentence) and not any(name in BOOK_NAMES[f] for f in found if f != method):
            found.append(method)
    return found


def check_prose(text: str, verdicts: Mapping[str, MethodVerdict], decisive: bool,
                where: str = "") -> list[str]:
    """Every sentence of hand-written ``text`` that uses a claim word the verdicts do not allow.

    A sentence is checked when it names a fix (one of :data:`BOOK_NAMES` other than DARTS) and uses a word of
    :data:`CLAIM_WORDS` without a negation or hedge (``not``, ``no``, ``whether``, the paper ``reports`` ...):
    "fewer"/"cures" must be in the fix's :attr:`MethodVerdict.allowed`, "ranked"/"better than" is never allowed
    (no test between two fixes is run), and "reliably" about DARTS needs ``decisive``. Text inside glue roles
    (computed by this module) is not checked. Returns ``"WHERE: word 'W' for METHOD: SENTENCE"`` lines."""
    problems = []
    text = _GLUE.sub("", text)
    paragraphs = [p for p in re.split(r"\n\s*\n|\n(?=#)|\n(?=\s*[-*] )|\n(?=\s*\d+\. )", text) if p.strip()]
    for sentence in (s for p in paragraphs for s in _SENTENCE.split(p)):
        if sentence.strip().endswith("?"):
            continue
        words = [w for w, rx in CLAIM_WORDS.items() if re.search(rx, sentence, re.I)]
        if not words or _NEGATION.search(sentence):
            continue
        methods = _methods_in(sentence)
        fixes = [m for m in methods if m != "darts"]
        for word in words:
            if word == "reliably" and not fixes:
                if not decisive and "collaps" in sentence.lower():
                    problems.append(f"{where}: 'reliably' without a decisive regime: {sentence.strip()[:160]}")
                continue
            if word == "reliably":
                word = "cures"
            for m in fixes:
                v = verdicts.get(m)
                if word == "ranked" or v is None or word not in v.allowed:
                    problems.append(f"{where}: word '{word}' for {BOOK_NAMES.get(m, m)} not supported "
                                    f"({'no run' if v is None else v.overall.word}): {sentence.strip()[:160]}")
    return problems


# ------------------------------------------------------------------------------------- accuracy cost

@dataclass(frozen=True)
class AccuracyCost:
    """Does a skip cost retrained accuracy, and beyond what the cell's parameter count explains?

    Over the distinct derived cells (each the mean over its training seeds): the least-squares slope of test
    accuracy on the skip count (points per skip), alone and with log(parameters) as a covariate, each with a
    percentile bootstrap 95 % interval over cells (10,000 resamples, seed 0) and a two-sided permutation p
    (Freedman-Lane: the residuals of the model without the skip count permuted; 10,000 seeded draws)."""

    cells: int
    seeds_per_cell: int
    slope: float
    slope_ci: tuple[float, float]
    slope_p: float
    adjusted: float
    adjusted_ci: tuple[float, float]
    adjusted_p: float
    verdict: Verdict


def _ols_slope(y: np.ndarray, x: np.ndarray, covariate: np.ndarray | None) -> np.ndarray:
    """Slope of ``y`` on ``x`` (batched over a leading axis), with an intercept and optional covariate."""
    cols = [np.ones_like(x), x] + ([covariate] if covariate is not None else [])
    design = np.stack(cols, axis=-1)                                   # [..., n, p]
    if design.ndim == 2:
        return np.linalg.lstsq(design, y, rcond=None)[0][1]
    gram = np.einsum("bnp,bnq->bpq", design, design)
    rhs = np.einsum("bnp,bn->bp", design, y)
    return np.linalg.solve(gram + 1e-9 * np.eye(gram.shape[-1]), rhs[..., None])[:, 1, 0]


def accuracy_cost(acc: Sequence[float], skips: Sequence[float], parameters: Sequence[float], seeds_per_cell: int,
                  reps: int = 10_000, seed: int = 0, what: str = "skip") -> AccuracyCost:
    """:class:`AccuracyCost` from per-cell mean accuracies, skip counts and parameter counts."""
    y, x, logp = (np.asarray(v, dtype=float) for v in (acc, skips, parameters))
    logp = np.log(logp)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(reps, len(y)))
    perm = np.argsort(rng.random((reps, len(y))), axis=1)
    out = {}
    for key, cov in (("slope", None), ("adjusted", logp)):
        observed = float(_ols_slope(y, x, cov))
        boot = _ols_slope(y[idx], x[idx], None if cov is None else cov[idx])
        # Freedman and Lane (1983): permute the residuals of the model without the skip count
        reduced = np.stack([np.ones_like(y)] + ([cov] if cov is not None else []), axis=-1)
        fitted = reduced @ np.linalg.lstsq(reduced, y, rcond=None)[0]
        y_null = fitted + (y - fitted)[perm]
        null = _ols_slope(y_null, np.broadcast_to(x, (reps, len(y))), None if cov is None else
                          np.broadcast_to(cov, (reps, len(y))))
        p = float((np.sum(np.abs(null) >= abs(observed) - 1e-12) + 1) / (reps + 1))
        out[key] = (observed, (float(np.nanpercentile(boot, 2.5)), float(np.nanpercentile(boot, 97.5))), p)
    (s, sci, sp), (a, aci, ap) = out["slope"], out["adjusted"]
    costs = ap < LEVEL and aci[1] < 0
    word = "costs accuracy beyond its parameter count" if costs else "no cost beyond the parameter count shown"
    sentence = (f"per {what} in the derived cell, retrained accuracy changes by {s:+.2f} points (95 % CI "
                f"{fmt_ci(sci)}, {fmt_p(sp)}); with log(parameters) as a covariate, by {a:+.2f} points (95 % CI "
                f"{fmt_ci(aci)}, {fmt_p(ap)}): "
                + ("the collapse costs accuracy beyond what its parameter count explains" if costs else
                   "no cost of the collapse beyond what its parameter count explains is shown"))
    return AccuracyCost(cells=len(y), seeds_per_cell=seeds_per_cell, slope=s, slope_ci=sci, slope_p=sp,
                        adjusted=a, adjusted_ci=aci, adjusted_p=ap, verdict=Verdict(word, ap, aci, sentence))


@dataclass(frozen=True)
class ControlComparison:
    """A control against the arm it controls for (PROTOCOL.md, amendments): the difference of the mean skip
    count and of the mean parameter-free edge count (control minus parent), each with its bootstrap 95 % interval
    and two-sided permutation p. Descriptive: no claim word is derived from it."""

    control: str
    parent: str
    diff_skips: float
    diff_skips_ci: tuple[float, float]
    p_skips: float
    diff_free: float
    diff_free_ci: tuple[float, float]
    p_free: float

    @property
    def sentence(self) -> str:
        c, p = BOOK_NAMES.get(self.control, self.control), BOOK_NAMES.get(self.parent, self.parent)
        return (f"{c} against {p}: {self.diff_skips:+.2f} skips per cell (95 % CI {fmt_ci(self.diff_skips_ci)}, "
                f"two-sided permutation {fmt_p(self.p_skips)}) and {self.diff_free:+.2f} parameter-free edges "
                f"(95 % CI {fmt_ci(self.diff_free_ci)}, {fmt_p(self.p_free)})")


def compare_with_parent(control: str, runs: Sequence[Endpoints], parent: str,
                        parent_runs: Sequence[Endpoints]) -> ControlComparison:
    """:class:`ControlComparison` of a control's searches (``runs``) with its parent arm's (``parent_runs``)."""
    x, y = [e.skips for e in runs], [e.skips for e in parent_runs]
    fx, fy = [e.param_free for e in runs], [e.param_free for e in parent_runs]
    return ControlComparison(control=control, parent=parent, diff_skips=float(np.mean(x) - np.mean(y)),
                             diff_skips_ci=bootstrap_ci(x, y), p_skips=permutation_test(x, y, "two-sided"),
                             diff_free=float(np.mean(fx) - np.mean(fy)), diff_free_ci=bootstrap_ci(fx, fy),
                             p_free=permutation_test(fx, fy, "two-sided"))


# ------------------------------------------------------------------------------------- the evidence

#: where the committed evidence lives under the results root (``book/results/collapse``)
PRIMARY_DIR = "primary/native"
CONFIRMATION_DIRS: dict[str, str] = {"AVX-512": "scan/const-alr3e-3-e20/native",
                                     "AVX2": "scan/const-alr3e-3-e20/avx2"}
RETRAIN_DIR = "primary/retrain"
#: the primary arm's command (``book/results/collapse/primary/run.sh``), per method
PRIMARY_COMMAND = ("OMP_NUM_THREADS=1 python -m dartslib sweep --methods METHOD --spaces nb201 --seeds 100,...,119 "
                   "--scale toy --out book/results/collapse/primary/native --jobs 1 --batch-seeds --set C=8 "
                   "--set cells_per_stage=5 --set image_size=8 --set batch_size=64 --set epochs=20 "
                   "--set arch_lr=0.003 --set lr_schedule=constant --set lr=0.025 --set arch_weight_decay=0.001 "
                   "--set max_steps_per_epoch=12")
PRIMARY_METHODS: tuple[str, ...] = ("darts", "fairdarts", "darts-minus", "sp-darts", "single-darts")
#: arms added by PROTOCOL.md's amendments: name -> (folder under the results root, the preset it ran)
AMENDED_ARMS: dict[str, tuple[str, str]] = {"single-darts-wd0": ("primary/single-darts-wd0", "single-darts")}
#: the second arm (PROTOCOL.md, amendments): each method at its own paper's architecture lr and batch
SECOND_ARM_DIR = "primary/paper-lr/native"
#: the second arm's command (``primary/run_arm2.sh``): the primary command without ``--set arch_lr``, with the
#: paper's batch (64; FairDARTS 128) and Single-DARTS at alpha weight decay 0
SECOND_ARM_COMMAND = ("OMP_NUM_THREADS=1 python -m dartslib sweep --methods METHOD --spaces nb201 --seeds 100,...,119 "
                      "--scale toy --out book/results/collapse/primary/paper-lr/native --jobs 1 --batch-seeds "
                      "--set C=8 --set cells_per_stage=5 --set image_size=8 --set batch_size=64 (FairDARTS: 128) "
                      "--set epochs=20 --set lr_schedule=constant --set lr=0.025 --set arch_weight_decay=0.001 "
                      "(Single-DARTS: 0) --set max_steps_per_epoch=12")
#: the controls (PROTOCOL.md, amendments): name -> (folder under the results root, the preset it ran, the arm it
#: controls for)
CONTROL_ARMS: dict[str, tuple[str, str, str]] = {
    "fairdarts-no-l01": ("primary/controls/fairdarts-no-l01", "fairdarts", "fairdarts"),
    "single-darts-softmax": ("primary/controls/single-darts-softmax", "single-darts-softmax", "single-darts-wd0")}


def possessive(name: str) -> str:
    """``DARTS'``, ``FairDARTS'``, ``SP-DARTS'``: the book's possessive of a method name."""
    return name + ("'" if name.endswith("S") or name.endswith("s") else "'s")


def arm_table(arms: Mapping[str, Sequence[Endpoints]], verdicts: Mapping[str, MethodVerdict],
              order: Sequence[str], baseline: str = "darts") -> list[dict]:
    """One row per method of an arm (the baseline first, then ``order``): the endpoints with intervals, the
    tests (Holm-adjusted) and the verdict, formatted for the book."""
    base = list(arms[baseline])
    kb = sum(e.dominated for e in base)
    rows = [{"method": BOOK_NAMES.get(baseline, baseline), "seeds": len(base),
             "skip-dominated": f"{kb}/{len(base)} ({fmt_ci(clopper_pearson(kb, len(base)), pct=True)})",
             "skips (of 6)": f"{np.mean([e.skips for e in base]):.2f} {fmt_ci(bootstrap_ci([e.skips for e in base]))}",
             "param-free-dominated": f"{sum(e.param_free >= DOMINATED_AT for e in base)}/{len(base)} "
                                     f"({free_op(base)})",
             "skip share": f"{np.mean([e.share for e in base]):.3f}",
             "alpha lead (epoch 1)": f"{median_lead(base):.3f} ({median_lead(base, True):.3f})",
             "Holm p: rate / skips": "", "verdict": "the baseline"}]
    for m in order:
        v = verdicts.get(m)
        if v is None:
            continue
        rows.append({"method": BOOK_NAMES.get(m, m), "seeds": v.n,
                     "skip-dominated": f"{v.k}/{v.n} ({fmt_ci(v.rate_ci, pct=True)})",
                     "skips (of 6)": f"{v.mean_skips:.2f} {fmt_ci(v.skips_ci)}",
                     "param-free-dominated": f"{v.k_free}/{v.n} ({v.free_op})",
                     "skip share": f"{v.share:.3f}",
                     "alpha lead (epoch 1)": f"{v.lead:.3f} ({v.lead_epoch1:.3f})",
                     "Holm p: rate / skips": f"{_bare_p(v.rate.p)} / {_bare_p(v.skips.p)}",
                     "verdict": v.overall.word})
    return rows


@dataclass
class Evidence:
    """The committed evidence of PROTOCOL.md, with every verdict computed: the regime's decisiveness on two
    arithmetics, each method against DARTS in the primary arm, and the accuracy cost of a skip."""

    root: Path
    regime: RegimeVerdict
    confirmation: dict[str, list[Endpoints]]
    arms: dict[str, list[Endpoints]]
    methods: dict[str, MethodVerdict]
    cost: AccuracyCost | None
    cost_free: AccuracyCost | None = None
    retrained: list[dict] = field(default_factory=list)
    #: the second arm (each paper's arch lr and batch): its DARTS' decisiveness, its searches, its verdicts
    second_regime: RegimeVerdict | None = None
    second_arms: dict[str, list[Endpoints]] = field(default_factory=dict)
    second: dict[str, MethodVerdict] = field(default_factory=dict)
    #: the controls: their searches, their verdicts against the primary arm's DARTS, and against their parent arm
    control_arms: dict[str, list[Endpoints]] = field(default_factory=dict)
    controls: dict[str, MethodVerdict] = field(default_factory=dict)
    control_parents: dict[str, ControlComparison] = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per method of the primary arm (DARTS first): the endpoints with intervals, the tests
        (Holm-adjusted) and the verdict, formatted for the book."""
        return arm_table(self.arms, self.methods, [*PRIMARY_METHODS[1:], *AMENDED_ARMS])

    def second_table(self) -> list[dict]:
        """:meth:`table` for the second arm (each paper's arch lr and batch; DARTS at 3e-4 the baseline)."""
        return arm_table(self.second_arms, self.second, list(PRIMARY_METHODS[1:])) if self.second_arms else []

    def control_table(self) -> list[dict]:
        """:meth:`table` for the controls against the primary arm's DARTS, with the comparison with the
        parent arm (difference in mean skips, two-sided p)."""
        if not self.controls:
            return []
        rows = arm_table({"darts": self.arms["darts"], **self.control_arms}, self.controls, list(self.controls))
        for row, name in zip(rows[1:], self.controls):
            c = self.control_parents.get(name)
            row["vs its parent: skips"] = (f"{c.diff_skips:+.2f} {fmt_ci(c.diff_skips_ci)}, {fmt_p(c.p_skips)} "
                                           f"(vs {BOOK_NAMES[c.parent]})" if c else "")
        rows[0]["vs its parent: skips"] = ""
        return rows

    def figure(self, width: float = 7.0):
        """The primary arm at a glance (:func:`evidence_figure`)."""
        return evidence_figure(self, width)

    def cost_figure(self, width: float = 6.0):
        """Retrained accuracy against the parameter count (:func:`cost_figure`)."""
        return cost_figure(self, width)

    def second_figure(self, width: float = 7.0):
        """The second arm and the controls at a glance (:func:`arm_figure`): DARTS and every method at its own
        paper's arch lr, then the two controls beside the primary arm's DARTS."""
        arms = {f"{m} (paper lr)": runs for m, runs in self.second_arms.items()}
        arms.update({"darts (primary)": self.arms["darts"], **self.control_arms})
        names = {f"{m} (paper lr)": f"{BOOK_NAMES[m]}, paper lr" for m in self.second_arms}
        names["darts (primary)"] = "DARTS, primary arm"
        return arm_figure(arms, list(arms), width, names=names)

    def regime_table(self) -> list[dict]:
        """One row per arithmetic of the confirmation runs: skip-dominated rate with its interval, the exact
        binomial p against chance, mean skips with its bootstrap interval, the median alpha lead (epoch 1) and
        the largest op weight of any edge."""
        rows = []
        for block, runs in self.confirmation.items():
            k, n = sum(e.dominated for e in runs), len(runs)
            skips = [e.skips for e in runs]
            rows.append({"arithmetic": block, "seeds": n,
                         "skip-dominated": f"{k}/{n} ({fmt_ci(clopper_pearson(k, n), pct=True)})",
                         "vs chance (1.7 %)": fmt_p(binom_vs_chance(k, n)),
                         "skips (of 6)": f"{np.mean(skips):.2f} {fmt_ci(bootstrap_ci(skips))}",
                         "skips per seed": "".join(map(str, skips)),
                         "alpha lead (epoch 1)": f"{median_lead(runs):.3f} ({median_lead(runs, True):.3f})",
                         "largest weight": f"{max(e.max_weight for e in runs):.2f}"})
        return rows

    def glue_values(self) -> dict[str, str]:
        """Every verdict a chapter glues, by key (``verdict_...``): sentences, words, rates and p-values."""
        g: dict[str, str] = {}
        r = self.regime
        g["verdict_regime"] = r.verdict.sentence
        g["verdict_regime_word"] = r.verdict.word
        for block, (k, n, ci, lead) in r.arms.items():
            key = "avx512" if block == "AVX-512" else block.lower().replace("-", "")
            g[f"verdict_regime_{key}"] = f"{k}/{n} ({100 * k / n:.0f} %, 95 % CI {fmt_ci(ci, pct=True)})"
            g[f"verdict_regime_{key}_lead"] = f"{lead:.3f}"
        g["verdict_regime_fisher"] = fmt_p(r.fisher_p)
        base = self.arms["darts"]
        kb = sum(e.dominated for e in base)
        g["verdict_darts_rate"] = f"{kb}/{len(base)}"
        g["verdict_darts_skips"] = f"{np.mean([e.skips for e in base]):.2f}"
        for m, v in self.methods.items():
            key = m.replace("-", "")
            g[f"verdict_{key}"] = v.overall.sentence
            g[f"verdict_{key}_word"] = v.overall.word
            g[f"verdict_{key}_rate"] = v.rate.sentence
            g[f"verdict_{key}_skips"] = v.skips.sentence
            g[f"verdict_{key}_k"] = f"{v.k}/{v.n}"
            g[f"verdict_{key}_lead"] = f"{v.lead:.3f}"
        g["verdict_list"] = "; ".join(v.overall.sentence for v in self.methods.values())
        if self.second_regime is not None:
            g["verdict_paperlr_regime"] = self.second_regime.verdict.sentence
            g["verdict_paperlr_regime_word"] = self.second_regime.verdict.word
            base2 = self.second_arms["darts"]
            g["verdict_paperlr_darts_rate"] = f"{sum(e.dominated for e in base2)}/{len(base2)}"
            g["verdict_paperlr_darts_lead"] = f"{median_lead(base2):.3f}"
            g["verdict_paperlr_darts_moves"] = moves_sentence(base2)
            for m, v in self.second.items():
                key = m.replace("-", "")
                g[f"verdict_paperlr_{key}"] = v.overall.sentence
                g[f"verdict_paperlr_{key}_word"] = v.overall.word
                g[f"verdict_paperlr_{key}_lead"] = f"{v.lead:.3f}"
            g["verdict_paperlr_list"] = "; ".join(v.overall.sentence for v in self.second.values())
        for m, v in self.controls.items():
            key = m.replace("-", "")
            g[f"verdict_control_{key}"] = v.overall.sentence
            g[f"verdict_control_{key}_word"] = v.overall.word
            g[f"verdict_control_{key}_k"] = f"{v.k}/{v.n}"
            if m in self.control_parents:
                g[f"verdict_control_{key}_parent"] = self.control_parents[m].sentence
        if self.cost is not None:
            g["verdict_cost"] = self.cost.verdict.sentence
            g["verdict_cost_word"] = self.cost.verdict.word
            g["verdict_cost_cells"] = str(self.cost.cells)
            g["verdict_cost_free"] = self.cost_free.verdict.sentence if self.cost_free else g["verdict_cost"]
        else:
            g["verdict_cost_free"] = "no derived cell has five retrainings in this checkout"
            g["verdict_cost"] = g["verdict_cost_word"] = "no derived cell has five retrainings in this checkout"
            g["verdict_cost_cells"] = "0"
        return g

    def markdown(self) -> str:
        """The verdict section that ``SUMMARY.md`` carries (written by ``summarize.py``, checked by the tests)."""
        lines = ["## Verdicts of the primary arm (computed by `dartslib.book.verdicts`)", "",
                 f"Regime: {self.regime.verdict.sentence} (Fisher's exact test between the arithmetics, "
                 f"{fmt_p(self.regime.fisher_p)}).", "",
                 f"Primary arm: `{PRIMARY_COMMAND}`.", ""]
        rows = self.table()
        lines.append("| " + " | ".join(rows[0]) + " |")
        lines.append("|" + "---|" * len(rows[0]))
        lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows]
        lines.append("")
        lines += [f"- {v.overall.sentence}." for v in self.methods.values()]
        if self.cost is not None:
            lines += ["", f"Retrained on digits-hard ({self.cost.cells} derived cells, {self.cost.seeds_per_cell} "
                      f"training seeds each): {self.cost.verdict.sentence}."]
            if self.cost_free is not None:
                lines += ["", f"The same per parameter-free edge: {self.cost_free.verdict.sentence}."]
        for title, rows, sentences, intro in (
                ("## The second arm: each paper's architecture lr and batch", self.second_table(),
                 [v.overall.sentence for v in self.second.values()],
                 [f"Baseline: DARTS at its own arch lr 3e-4, where {self.second_regime.verdict.sentence}; "
                  f"{moves_sentence(self.second_arms['darts'])}." if self.second_regime else "", "",
                  f"Command: `{SECOND_ARM_COMMAND}`."]),
                ("## Controls (against the primary arm's DARTS, and against their parent arm)", self.control_table(),
                 [v.overall.sentence for v in self.controls.values()]
                 + [c.sentence for c in self.control_parents.values()],
                 ["Commands: `primary/run_arm2.sh fairdarts-no-l01` and `primary/run_arm2.sh single-darts-softmax`."])):
            if not rows:
                continue
            lines += ["", title, "", *intro, ""]
            lines.append("| " + " | ".join(rows[0]) + " |")
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows]
            lines.append("")
            lines += [f"- {t}." for t in sentences]
        return "\n".join(lines) + "\n"


def _cell_ops(genotype: str) -> list[str]:
    from dartslib.book.results import cell_ops

    return cell_ops(genotype)


def load_retrained(folder: str | Path) -> list[dict]:
    """One dict per retraining in ``folder`` (``CELL__seedS/result.json``): cell, seed, genotype, test_acc,
    parameters, skips."""
    rows = []
    for path in sorted(Path(folder).glob("*__seed*/result.json")):
        r = json.loads(path.read_text())
        cell, seed = path.parent.name.rsplit("__seed", 1)
        rows.append({"cell": cell, "seed": int(seed), "genotype": r["genotype"], "test_acc": float(r["test_acc"]),
                     "parameters": int(r["parameters"]), "skips": r["genotype"].count(SKIP),
                     "param_free": sum(op in PARAMETER_FREE_OPS for op in _cell_ops(r["genotype"]))})
    return rows


def cost_of(rows: Sequence[dict], derived: Iterable[str], min_seeds: int = 5,
            by: str = "skips") -> AccuracyCost | None:
    """:func:`accuracy_cost` over the cells in ``derived`` (genotypes) that have ``min_seeds`` retrainings, per
    skip (``by="skips"``) or per parameter-free edge (``by="param_free"``)."""
    derived = set(derived)
    by_cell: dict[str, list[dict]] = {}
    for r in rows:
        if r["genotype"] in derived:
            by_cell.setdefault(r["genotype"], []).append(r)
    cells = [v for v in by_cell.values() if len(v) >= min_seeds]
    if len(cells) < 5:
        return None
    counts = [c[0][by] for c in cells]
    return accuracy_cost([np.mean([r["test_acc"] for r in c]) for c in cells], counts,
                         [c[0]["parameters"] for c in cells], seeds_per_cell=min(len(c) for c in cells),
                         what="skip" if by == "skips" else "parameter-free edge")


def load_evidence(root: str | Path | None = None) -> Evidence:
    """The committed evidence under ``root`` (default: :func:`dartslib.book.results.find_results`)."""
    if root is None:
        from dartslib.book.results import find_results
        root = find_results()
    root = Path(root)
    confirmation = {b: load_arms(root / d).get("darts", []) for b, d in CONFIRMATION_DIRS.items()}
    found = load_arms(root / PRIMARY_DIR, PRIMARY_METHODS)
    arms = {m: found[m] for m in PRIMARY_METHODS if m in found}
    for name, (folder, preset) in AMENDED_ARMS.items():
        runs = load_arms(root / folder, [preset]).get(preset)
        if runs:
            arms[name] = runs
    if "darts" not in arms:
        raise FileNotFoundError(f"{root / PRIMARY_DIR}: no finished DARTS searches of the primary arm")
    regime = regime_verdict(confirmation)
    methods = compare_with_baseline(arms, decisive=regime.decisive)
    retrained = load_retrained(root / RETRAIN_DIR)
    derived = {e.genotype for runs in arms.values() for e in runs}
    found2 = load_arms(root / SECOND_ARM_DIR, PRIMARY_METHODS)
    second_arms = {m: found2[m] for m in PRIMARY_METHODS if m in found2}
    second_regime, second = None, {}
    if "darts" in second_arms:
        second_regime = regime_verdict({"AVX-512": second_arms["darts"]})
        second = compare_with_baseline(second_arms, decisive=second_regime.decisive)
    control_arms = {}
    for name, (folder, preset, _) in CONTROL_ARMS.items():
        runs = load_arms(root / folder, [preset]).get(preset)
        if runs:
            control_arms[name] = runs
    controls = compare_with_baseline({"darts": arms["darts"], **control_arms}, decisive=regime.decisive) \
        if control_arms else {}
    parents = {name: compare_with_parent(name, runs, CONTROL_ARMS[name][2], arms[CONTROL_ARMS[name][2]])
               for name, runs in control_arms.items() if CONTROL_ARMS[name][2] in arms}
    return Evidence(root=root, regime=regime, confirmation=confirmation, arms=arms, methods=methods,
                    cost=cost_of(retrained, derived), cost_free=cost_of(retrained, derived, by="param_free"),
                    retrained=retrained, second_regime=second_regime, second_arms=second_arms, second=second,
                    control_arms=control_arms, controls=controls, control_parents=parents)


# ------------------------------------------------------------------------------------------- figures

def evidence_figure(ev: Evidence, width: float = 7.0):
    """The primary arm at a glance (:func:`arm_figure` over DARTS and the ranked methods)."""
    return arm_figure(ev.arms, [m for m in PRIMARY_METHODS if m in ev.arms], width)


def arm_figure(arms: Mapping[str, Sequence[Endpoints]], methods: Sequence[str], width: float = 7.0,
               names: Mapping[str, str] | None = None):
    """An arm at a glance, three panels over ``methods`` (top to bottom): the skip count of every search
    (dots, jittered within the method's row only) with the mean and its bootstrap 95 % interval; the
    skip-dominated rate with its Clopper-Pearson 95 % interval; the median alpha lead at the end against
    epoch 1 (the random-walk reference) and the 0.05 a method must reach to be ranked. ``names``: the row
    labels (default :data:`BOOK_NAMES`); a row's colour is its method's (the label's first word)."""
    from matplotlib.figure import Figure

    from dartslib.viz.style import method_color, style

    names = dict(names or {})
    y = np.arange(len(methods))[::-1]
    with style():
        fig = Figure(figsize=(width, 0.55 * len(methods) + 1.6), layout="constrained")
        ax_skips, ax_rate, ax_lead = fig.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [1.4, 1, 1]})
        rng = np.random.default_rng(0)
        for yi, m in zip(y, methods):
            runs, color = arms[m], method_color(m.split(" ")[0])
            skips = np.array([e.skips for e in runs], dtype=float)
            ax_skips.scatter(skips, yi + rng.uniform(-0.25, 0.25, len(skips)), s=14, color=color, alpha=0.6, lw=0)
            lo, hi = bootstrap_ci(skips)
            ax_skips.errorbar(skips.mean(), yi, xerr=[[skips.mean() - lo], [hi - skips.mean()]], fmt="D",
                              color="black", ms=4, capsize=3, lw=1.2)
            k, n = sum(e.dominated for e in runs), len(runs)
            lo, hi = clopper_pearson(k, n)
            ax_rate.errorbar(100 * k / n, yi, xerr=[[100 * (k / n - lo)], [100 * (hi - k / n)]], fmt="o",
                             color=color, ms=6, capsize=3, lw=1.5)
            lead, lead1 = median_lead(runs), median_lead(runs, epoch1=True)
            ax_lead.plot([lead1, lead], [yi, yi], color=color, lw=1.5)
            ax_lead.scatter([lead1], [yi], s=18, facecolor="white", edgecolor=color, zorder=3)
            ax_lead.scatter([lead], [yi], s=24, color=color, zorder=3)
        ax_skips.axvline(1.2, color="#888", ls=":", lw=1)
        ax_skips.axvline(DOMINATED_AT - 0.5, color="#555", ls="--", lw=0.8)
        ax_skips.set(yticks=y, yticklabels=[names.get(m, BOOK_NAMES.get(m, m)) for m in methods], xlim=(-0.4, 6.4),
                     xlabel="skips in the derived cell (of 6)", title="skip count per search")
        ax_rate.axvline(100 * chance_rate(), color="#888", ls=":", lw=1)
        ax_rate.set(xlim=(-3, 103), xlabel="skip-dominated (%)", title="rate, 95 % CI")
        ax_lead.axvline(MOVE_LEAD, color="#555", ls="--", lw=0.8)
        ax_lead.set(xlabel="median alpha lead", title="moves? (open: epoch 1)")
        ax_lead.set_xlim(left=0)
    return fig


def cost_figure(ev: Evidence, width: float = 6.0):
    """Retrained accuracy on digits-hard against the parameter count (log axis), one point per derived cell
    (the mean over its training seeds, with its range), coloured by its skip count; the two controls marked."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from dartslib.viz.style import style

    by_cell: dict[str, list[dict]] = {}
    for r in ev.retrained:
        by_cell.setdefault(r["cell"], []).append(r)
    cmap = colormaps["viridis_r"]
    with style():
        fig = Figure(figsize=(width, 3.6), layout="constrained")
        ax = fig.subplots()
        for cell, rows in by_cell.items():
            acc = np.array([r["test_acc"] for r in rows])
            params, skips = rows[0]["parameters"], rows[0]["skips"]
            control = cell.startswith("ctrl-")
            ax.errorbar(params, acc.mean(), yerr=[[acc.mean() - acc.min()], [acc.max() - acc.mean()]],
                        fmt="s" if control else "o", ms=6 if control else 4, color=cmap(skips / 6), lw=0.8,
                        mec="black" if control else "none", alpha=0.9)
            if control:
                ax.annotate("all conv3" if "conv" in cell else "all skip", (params, acc.mean()),
                            xytext=(6, -4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set(xlabel="parameters of the retrained network (log scale)", ylabel="test accuracy (%)",
               title="derived cells retrained on digits-hard (mean and range over seeds)")
        sm = _scalar_mappable(cmap)
        fig.colorbar(sm, ax=ax, label="skips in the cell", ticks=range(7))
    return fig


def _scalar_mappable(cmap):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    return ScalarMappable(norm=Normalize(0, 6), cmap=cmap)
