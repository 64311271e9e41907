"""The book's own pages: the landing page's story figure and the glossary."""
from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_story_figure_is_drawn_by_its_script_and_on_the_landing_page(tmp_path):
    script = ROOT / "book" / "figures" / "story.py"
    module = runpy.run_path(str(script))
    out = module["main"](tmp_path / "story.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    committed = ROOT / "_static" / "story.png"
    assert committed.is_file(), "run `python book/figures/story.py` and commit _static/story.png"
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "_static/story.png" in intro, "book/intro.md does not show the story figure"
    causes = [c[0] for c in module["CAUSES"]]
    assert {"Unfair advantage", "Discretization gap", "Residual benefit", "Information leakage"} <= set(causes)


def test_the_glossary_defines_each_term_and_links_it_to_a_chapter():
    text = (ROOT / "book" / "glossary.md").read_text()
    assert "book/glossary" in (ROOT / "_toc.yml").read_text()
    terms = ["collapse", "parameter-free", "skip-dominated", "regime", "IES", "drop", "regret", "gate vs share",
             "first/second order"]
    for term in terms:
        m = re.search(rf"^{re.escape(term)}\n: (.*?)(?=\n\S|\Z)", text, re.MULTILINE | re.DOTALL)
        assert m, f"the glossary does not define {term!r} (a definition list entry)"
        assert re.search(r"\{(?:ref|doc)\}`", m.group(1)), f"the glossary's {term!r} links to no chapter"
    assert "one-week course" in text.lower()
