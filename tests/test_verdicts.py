"""dartslib.book.verdicts: the protocol's tests, the verdicts computed from the committed runs, and the check
that the book's prose claims no more than they allow (issue 22 part 6). Each check has a control that fails."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dartslib.book import verdicts as V

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results" / "collapse"


def nb201(skips: int) -> str:
    """An NB201 cell with ``skips`` skip edges and 3x3 convolutions elsewhere."""
    ops = ["skip_connect"] * skips + ["nor_conv_3x3"] * (6 - skips)
    return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"


def fake(method: str, skips: list[int], lead: float = 0.2, block: str = "A") -> list[V.Endpoints]:
    return [V.Endpoints(method=method, seed=i, skips=s, share=0.2, leads=(lead,) * 6, leads_epoch1=(0.01,) * 6,
                        max_weight=0.3, genotype=nb201(s), block=block) for i, s in enumerate(skips)]


# ------------------------------------------------------------------------------------------ the tests

def test_permutation_test_is_exact_and_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 6, 6), rng.integers(0, 6, 7)
    ref = stats.permutation_test((x, y), lambda a, b, axis: a.mean(axis) - b.mean(axis), alternative="less",
                                 n_resamples=np.inf, vectorized=True).pvalue
    assert V.permutation_test(x, y) == pytest.approx(ref, abs=1e-12)
    # Monte Carlo above the exact limit: close to the exact value
    assert V.permutation_test(x, y, exact_limit=10) == pytest.approx(ref, abs=0.01)
    # control: a shift of the data moves p
    assert V.permutation_test(x - 3, y) < ref


def test_stratified_permutation_respects_blocks() -> None:
    # method only on block 1, baseline only on block 0: within-block relabelling cannot separate them
    x, y = [0, 0, 0, 0], [5, 5, 5, 5]
    assert V.permutation_test(x, y, strata=([1] * 4, [0] * 4)) == 1.0
    # control: unstratified, the same data are significant
    assert V.permutation_test(x, y) < 0.05


def test_holm_and_clopper_pearson() -> None:
    assert V.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == {"a": 0.03, "c": 0.06, "b": 0.06}
    lo, hi = V.clopper_pearson(14, 20)
    ref = stats.binomtest(14, 20).proportion_ci(method="exact")
    assert (lo, hi) == pytest.approx((ref.low, ref.high))
    assert V.clopper_pearson(0, 20)[0] == 0.0 and V.clopper_pearson(20, 20)[1] == 1.0
    assert V.chance_rate() == pytest.approx(0.01696, abs=1e-5)


def test_accuracy_cost_separates_a_parameter_effect_from_a_skip_effect() -> None:
    rng = np.random.default_rng(0)
    skips = rng.integers(0, 7, 40)
    params = np.exp(10 - 0.3 * skips + rng.normal(0, 0.2, 40))
    by_params = 80 + 3 * np.log(params) + rng.normal(0, 1, 40)
    only_params = V.accuracy_cost(by_params, skips, params, 5)
    assert only_params.slope_ci[1] < 0                 # skips look costly ...
    assert only_params.verdict.word == "no cost beyond the parameter count shown"   # ... but only by parameters
    # control: a real cost per skip is found beyond the covariate
    real = V.accuracy_cost(by_params - 2 * skips, skips, params, 5)
    assert real.verdict.word == "costs accuracy beyond its parameter count"
    assert real.adjusted_ci[0] < -2 < real.adjusted_ci[1]


# ------------------------------------------------------------------------------------ the verdicts

def test_compare_with_baseline_words() -> None:
    arms = {"darts": fake("darts", [5] * 16 + [2] * 4), "fairdarts": fake("fairdarts", [0] * 20),
            "sp-darts": fake("sp-darts", [5] * 15 + [2] * 5), "single-darts": fake("single-darts", [1] * 20, 0.01)}
    v = V.compare_with_baseline(arms)
    assert v["fairdarts"].overall.word == "cures" and {"cures", "fewer"} <= v["fairdarts"].allowed
    assert v["sp-darts"].overall.word == "no difference shown" and not v["sp-darts"].allowed
    assert v["single-darts"].overall.word == "undecided" and not v["single-darts"].moves
    # control: without a decisive baseline nothing "cures", but "fewer" stays
    w = V.compare_with_baseline(arms, decisive=False)
    assert w["fairdarts"].overall.word == "fewer" and "cures" not in w["fairdarts"].allowed


def test_regime_verdict_on_the_committed_confirmation() -> None:
    confirmation = {b: V.load_arms(RESULTS / d)["darts"] for b, d in V.CONFIRMATION_DIRS.items()}
    r = V.regime_verdict(confirmation)
    assert r.decisive and r.verdict.word == "reliably collapses"
    assert all(n >= 20 and k / n >= 0.7 for k, n, _, _ in r.arms.values())
    # controls: 19 seeds, or one arithmetic below 70 %, are not decisive
    assert not V.regime_verdict({b: runs[:19] for b, runs in confirmation.items()}).decisive
    low = dict(confirmation, AVX2=fake("darts", [5] * 10 + [1] * 10))
    assert not V.regime_verdict(low).decisive


def test_regime_verdict_reads_the_runs_as_regime_scan_does() -> None:
    """The module and book/results/collapse/regime_scan.py read the same endpoints from the same files."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("regime_scan", RESULTS / "regime_scan.py")
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    folder = RESULTS / V.CONFIRMATION_DIRS["AVX2"]
    row = scan.row(folder, "darts", None)
    runs = V.load_arms(folder)["darts"]
    assert row["k"] == sum(e.dominated for e in runs) and row["n"] == len(runs)
    assert row["lead"] == pytest.approx(V.median_lead(runs))
    assert row["skips"] == pytest.approx(np.mean([e.skips for e in runs]))


# ---------------------------------------------------------------------------------- prose vs statistics

def book_texts() -> list[tuple[str, str]]:
    texts = []
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "markdown":
                texts.append((f"{nb.name} cell {i}", "".join(cell["source"])))
    for md in [*sorted((ROOT / "book").glob("*.md")), ROOT / "README.md", *sorted(RESULTS.glob("*.md"))]:
        texts.append((str(md.relative_to(ROOT)), md.read_text()))
    return texts


@pytest.fixture(scope="module")
def evidence() -> V.Evidence:
    if not (RESULTS / V.PRIMARY_DIR).is_dir():
        pytest.skip("no committed primary arm")
    return V.load_evidence(RESULTS)


def test_the_book_claims_no_more_than_the_verdicts_allow(evidence: V.Evidence) -> None:
    problems = [p for where, text in book_texts()
                for p in V.check_prose(text, evidence.methods, evidence.regime.decisive, where)]
    assert problems == []


def test_prose_check_catches_a_planted_disagreement(evidence: V.Evidence) -> None:
    undecided_or_not = [m for m, v in evidence.methods.items() if "fewer" not in v.allowed]
    supported = [m for m, v in evidence.methods.items() if "fewer" in v.allowed]
    for m in undecided_or_not:
        name = V.BOOK_NAMES[m]
        assert V.check_prose(f"{name} gives fewer skips than DARTS.", evidence.methods, True)
        assert V.check_prose(f"In this regime {name} reliably prevents the collapse.", evidence.methods, True)
    for m in supported:
        name = V.BOOK_NAMES[m]
        assert not V.check_prose(f"{name} gives fewer skips than DARTS.", evidence.methods, True)
        assert not V.check_prose(f"{name} does not rank above SP-DARTS.", evidence.methods, True)
        assert V.check_prose(f"{name} ranks above DARTS-.", evidence.methods, True)
    # a glued verdict is the module's own words: not checked again
    assert not V.check_prose("{glue:text}`verdict_spdarts` and more.", evidence.methods, True)
    # "reliably collapses" needs the decisive regime
    assert V.check_prose("DARTS reliably collapses here.", evidence.methods, False)
    assert not V.check_prose("DARTS reliably collapses here.", evidence.methods, True)


def test_every_glued_verdict_is_computed(evidence: V.Evidence) -> None:
    """Each ``verdict_*`` key the book glues exists in the computed verdicts (none typed by hand), and
    SUMMARY.md's verdict section is the module's own output for the committed runs."""
    values = evidence.glue_values()
    used = {k for _, text in book_texts() for k in re.findall(r"\{glue:(?:text|md)\}`(verdict_\w+)", text)}
    assert used <= set(values), sorted(used - set(values))
    summary = (RESULTS / "SUMMARY.md").read_text()
    assert evidence.markdown() in summary
    # control: a planted change of one word is a disagreement
    planted = summary.replace(" cures ", " fewer ", 1) if " cures " in summary else summary.replace(
        "no difference", "fewer", 1)
    assert evidence.markdown() not in planted


def test_no_ranked_method_is_undecided_without_saying_so(evidence: V.Evidence) -> None:
    for m, v in evidence.methods.items():
        if v.lead < V.MOVE_LEAD:
            assert v.overall.word == "undecided"
        else:
            assert v.overall.word != "undecided" or v.lead <= v.lead_epoch1


def test_the_built_pages_claim_no_more_than_the_verdicts_allow(evidence: V.Evidence) -> None:
    """The same check on the text a reader sees in the built book (CI builds it first), which includes the
    prose that chapters assemble in Python and glue."""
    import sys
    sys.path.insert(0, str(ROOT / "tests"))
    import page_checks
    html = ROOT / "_build" / "html"
    pages = sorted(html.glob("nbs/*.html"))  # the chapters (the API page quotes docstrings, not verdicts)
    if not pages:
        pytest.skip("no built book in _build/html: run `jupyter-book build .` first (CI does)")
    problems = [p for page in pages for p in V.check_prose(page_checks.prose_text(page.read_text(errors="replace")),
                                                            evidence.methods, evidence.regime.decisive,
                                                            str(page.relative_to(html)))]
    assert problems == []


def test_a_control_against_its_parent_is_two_sided_and_descriptive() -> None:
    parent = fake("fairdarts", [0] * 10)
    more = fake("fairdarts", [3] * 10)
    c = V.compare_with_parent("fairdarts-no-l01", more, "fairdarts", parent)
    assert c.diff_skips == pytest.approx(3.0)
    assert c.p_skips < 1e-3 and c.diff_skips_ci[0] > 0
    # two-sided: the mirror image gives the same p
    mirror = V.compare_with_parent("fairdarts", parent, "fairdarts-no-l01", more)
    assert mirror.p_skips == pytest.approx(c.p_skips) and mirror.diff_skips == pytest.approx(-3.0)
    # control: the same searches under both labels show no difference
    same = V.compare_with_parent("fairdarts-no-l01", parent, "fairdarts", parent)
    assert same.p_skips == 1.0 and same.diff_skips == 0.0
    assert "two-sided permutation" in c.sentence and "FairDARTS without L01" in c.sentence


def test_the_second_arm_and_the_controls_reach_the_glue_and_summary(tmp_path) -> None:
    ev = V.load_evidence()
    ev.second_arms = {"darts": fake("darts", [1, 2, 1, 0] * 5, lead=0.01), "sp-darts": fake("sp-darts", [1] * 20)}
    ev.second_regime = V.regime_verdict({"AVX-512": ev.second_arms["darts"]})
    ev.second = V.compare_with_baseline(ev.second_arms, decisive=ev.second_regime.decisive)
    ev.control_arms = {"fairdarts-no-l01": fake("fairdarts", [4] * 20)}
    ev.controls = V.compare_with_baseline({"darts": ev.arms["darts"], **ev.control_arms}, decisive=True)
    ev.control_parents = {"fairdarts-no-l01": V.compare_with_parent("fairdarts-no-l01", ev.control_arms[
        "fairdarts-no-l01"], "fairdarts", ev.arms["fairdarts"])}
    g = ev.glue_values()
    assert not ev.second_regime.decisive  # 0/20 skip-dominated and alphas that do not move
    assert g["verdict_paperlr_regime_word"] == "collapses in some searches"
    assert g["verdict_paperlr_darts_rate"] == "0/20"
    assert "verdict_paperlr_spdarts" in g and "verdict_control_fairdartsnol01_parent" in g
    # a control with 4 skips in every search has no fewer than DARTS
    assert g["verdict_control_fairdartsnol01_word"] == "no difference shown"
    md = ev.markdown()
    assert "## The second arm" in md and "## Controls" in md and "FairDARTS without L01" in md
    assert [r["method"] for r in ev.second_table()] == ["DARTS", "SP-DARTS"]
    assert ev.control_table()[1]["vs its parent: skips"].startswith("+")


def test_the_moves_sentence_follows_the_rule() -> None:
    assert V.moves_sentence(fake("darts", [4] * 5, lead=0.2)).startswith("its alphas move")
    # control: a lead below 0.05 is not a move
    assert V.moves_sentence(fake("darts", [4] * 5, lead=0.01)).startswith("its alphas do not move")
