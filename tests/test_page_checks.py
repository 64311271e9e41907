"""The page checks of ``tests/page_checks.py``, each on a control page that must fail it, and on a clean page
that must pass them all. These run always: no build is needed (``tests/test_book_html.py`` runs the same
checks on every built page when ``_build/html`` exists). The sources of the book get the word, placeholder and
long-visible-cell rules here too, so CI catches them even when the build came from a cache."""
from __future__ import annotations

from pathlib import Path

import pytest

import page_checks as pc

ROOT = Path(__file__).resolve().parents[1]


def page(body: str) -> str:
    """A page in the layout of a Jupyter Book 1.x build (sphinx-book-theme), with ``body`` as its article."""
    return f"""<!DOCTYPE html><html><head><title>t</title>
<script src="_static/mathjax/tex-chtml.js"></script></head><body>
<nav class="bd-docs-nav"><a href="#">$nav$ issue 3</a></nav>
<main id="main-content" class="bd-main" role="main"><article class="bd-article">
<section id="t"><h1>Title<a class="headerlink" href="#t">#</a></h1>
{body}
</section></article></main><footer>REPLACE nothing</footer></body></html>"""


def figure_output(css_width_px: int, attribute: bool = False) -> str:
    """A cell's figure as the build writes it: a retina PNG whose <img> gets half its pixel width."""
    size = f'width="{css_width_px}"' if attribute else f'style="width: {css_width_px}px; height: 211px;"'
    return ('<div class="cell docutils container"><div class="cell_output docutils container">'
            f'<img alt="_images/f97e.png" src="_images/f97e.png" {size} /></div></div>')


def code_cell(lines: int, tags: str = "", toggle: bool = False) -> str:
    code = "\n".join(f'<span class="n">x{i}</span> <span class="o">=</span> <span class="mi">{i}</span>'
                     for i in range(lines))
    pre = (f'<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>{code}\n'
           '</pre></div></div>')
    inner = f'<div class="cell_input docutils container">{pre}</div>'
    if toggle:
        inner = f'<details class="hide above-input"><summary>Show code cell source</summary>{inner}</details>'
    return (f'<div class="cell {tags} docutils container">{inner}'
            '<div class="cell_output docutils container"></div></div>')


CLEAN = page("""
<p>The skip weight ends at <span class="math notranslate nohighlight">\\(\\beta = 0.42\\)</span> after 3 epochs;
it costs $5 of nothing (a dollar sign alone is text).</p>
<div class="math notranslate nohighlight">\\[\\frac{a}{b}\\]</div>
<p>Code is code: <code class="docutils literal notranslate"><span class="pre">$x$</span> \\times 12</code>.</p>
""" + code_cell(25) + code_cell(60, toggle=True) + code_cell(60, tags="tag_hide-input", toggle=True) + """
<div class="cell docutils container"><div class="cell_output docutils container">
<div class="output text_html"><table class="dataframe"><thead><tr><th>method</th><th>acc (%)</th></tr></thead>
<tbody><tr><td>DARTS</td><td>93.1</td></tr><tr><td>Nanda's variant</td><td>—</td></tr></tbody></table></div>
<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>
searches: 100%|##########| 8/8
</pre></div></div></div></div>
""" + figure_output(611) + figure_output(820) + """
<p><img alt="the story" src="_static/story.png" style="width: 100%;" /></p>
""")

CONTROLS = {
    "unrendered math": [
        page("<p>A supernet with $c = 3$ cells.</p>"),
        page('<p>See <a href="#x">the run at 3\\times10^{-3}</a>.</p>'),
        page("<p>The loss L_{0\\text{-}1} of FairDARTS.</p>"),
        page("<p>An inline \\(x\\) that MathJax never saw, as plain text.</p>"),
    ],
    "NaN in tables": [
        page("<table><tr><th>drop</th></tr><tr><td>NaN</td></tr></table>"),
        page("<table><tr><td>sp-darts</td><td>nan</td></tr></table>"),
        page('<div class="cell_output docutils container"><div class="output text_plain"><pre>'
             "method   drop\ndarts    0.12\nsp-darts  NaN\n</pre></div></div>"),
    ],
    "placeholders": [
        page("<p>Clone https://github.com/REPLACE-WITH-OWNER/dartslib first.</p>"),
        page('<p><a href="https://github.com/REPLACE-WITH-OWNER/dartslib">the repository</a></p>'),
        page('<div class="highlight"><pre>pip install "dartslib @ git+https://github.com/REPLACE-WITH-OWNER/x"'
             '</pre></div>'),
    ],
    "process words": [
        page("<p>This is the regime of issue 13.</p>"),
        page("<p>An earlier build showed a different number.</p>"),
        page("<p>Once the fix landed, the runs changed.</p>"),
        page("<p>The SP-DARTS runs are not committed yet.</p>"),
        page("<p>This replaces what this chapter could say before.</p>"),
    ],
    "widget output": [
        page('<div class="cell_output docutils container"><script type="application/vnd.jupyter.widget-view+json">'
             '{"version_major": 2, "version_minor": 0, "model_id": "ec9d"}</script></div>'),
        page('<div class="cell_output docutils container"><div class="output text_plain"><pre>'
             "HBox(children=(FloatProgress(value=0.0, max=8.0), HTML(value='')))</pre></div></div>"),
    ],
    "long visible code": [
        page(code_cell(26)),
        page(code_cell(122, tags="tag_some-other-tag")),
    ],
    "figure widths": [
        page(figure_output(1011)),   # a 10-in figure: shrunk to 790 px, its 9-pt ticks show at 7.3 pt
        page(figure_output(851, attribute=True)),
    ],
}


def test_the_clean_page_passes_every_check():
    found = {kind: check(CLEAN) for kind, check in pc.CHECKS.items()}
    assert not any(found.values()), found


@pytest.mark.parametrize("kind,i", [(k, i) for k, pages in CONTROLS.items() for i in range(len(pages))])
def test_each_control_page_fails_its_check(kind, i):
    findings = pc.CHECKS[kind](CONTROLS[kind][i])
    assert findings, f"the {kind!r} check passes its control page {i}, which has that defect"


def test_every_check_has_a_control():
    assert set(CONTROLS) == set(pc.CHECKS)


def test_text_outside_the_article_is_not_the_page():
    """Navigation and footer (the same on every page) are not checked per page: the article is."""
    assert not pc.check_unrendered_math(page("<p>fine</p>"))
    assert not pc.check_process_words(page("<p>fine</p>"))


# ------------------------------------------------------------------------------------------ sources

def _write_notebook(path: Path, cells: list[tuple[str, str, list[str]]]) -> Path:
    import json

    nb = {"cells": [{"cell_type": t, "metadata": {"tags": tags}, "source": s,
                     **({"outputs": [], "execution_count": None} if t == "code" else {})} for t, s, tags in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_source_rules_on_control_sources(tmp_path):
    long_visible = _write_notebook(tmp_path / "a.ipynb", [("code", "x = 1\n" * 26, [])])
    long_hidden = _write_notebook(tmp_path / "b.ipynb", [("code", "x = 1\n" * 80, ["remove-input"])])
    words = _write_notebook(tmp_path / "c.ipynb",
                            [("markdown", "The regime of issue 13, as an earlier build had it.", [])])
    hidden_words = _write_notebook(tmp_path / "d.ipynb", [("code", "# issue 13's regime\nx = 1", ["remove-input"])])
    visible_glue = _write_notebook(tmp_path / "e.ipynb", [("code", "x = 1\nglue('x', x, display=False)", [])])
    hidden_glue = _write_notebook(tmp_path / "f.ipynb", [("code", "glue('x', 1, display=False)", ["remove-input"])])
    assert pc.source_findings(visible_glue) and not pc.source_findings(hidden_glue)
    md = tmp_path / "p.md"
    md.write_text("Clone https://github.com/REPLACE-WITH-OWNER/dartslib.\n")
    comment = tmp_path / "q.md"
    comment.write_text("% issue 13 asked for this\n<!-- not committed yet -->\nText.\n")
    assert pc.source_findings(long_visible) and pc.source_findings(words) and pc.source_findings(md)
    assert not pc.source_findings(long_hidden) and not pc.source_findings(hidden_words)
    assert not pc.source_findings(comment)


def test_figure_source_rules_on_control_sources(tmp_path):
    wide = _write_notebook(tmp_path / "a.ipynb", [("code", "with plots.style():\n    fig = new_figure(10.5, 3)", [])])
    figsize = _write_notebook(tmp_path / "b.ipynb", [("code", "fig = Figure(figsize=(9.6, 2.8))", [])])
    small = _write_notebook(tmp_path / "c.ipynb", [("code", 'ax.legend(loc="upper left", fontsize=7)', [])])
    ticks = _write_notebook(tmp_path / "d.ipynb", [("code", 'ax.tick_params(axis="x", labelsize=6.5)', [])])
    named = _write_notebook(tmp_path / "e.ipynb", [("code", 'ax.text(0, 0, "x", fontsize="small")', [])])
    fine = _write_notebook(tmp_path / "f.ipynb", [
        ("code", "fig = new_figure(8.0, 3)\nsns.stripplot(x, size=3)\nax.text(0, 0, 'x', fontsize=9)\n"
                 "fig = new_figure(2.1 * len(runs), 2)  # computed: the page check sees it", []),
        ("markdown", "A figure 10 in wide: `new_figure(10.5, 3)` (prose, not code).", [])])
    for control in (wide, figsize, small, ticks, named):
        assert pc.figure_source_findings(control), control.name
    assert not pc.figure_source_findings(fine)


@pytest.mark.parametrize("path", sorted((ROOT / "nbs").glob("*.ipynb")), ids=lambda p: p.name)
def test_chapter_figures_are_at_most_the_page_width_and_no_font_is_below_9_pt(path):
    findings = pc.figure_source_findings(path)
    assert not findings, "\n".join(findings)


SOURCES = sorted((ROOT / "nbs").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_book_sources_have_no_process_words_placeholders_or_long_visible_cells(path):
    findings = pc.source_findings(path)
    assert not findings, "\n".join(findings)
