"""The book's sources: notebooks committed without outputs, a parameters cell first, a table of contents
whose every entry exists.

Notebooks are executed by ``jupyter-book build .`` (into its cache), never in the repository: a committed
output would be stale the moment the library changes, and would make every diff unreadable.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from book_toc import toc_files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("nbs/*.ipynb"), *ROOT.glob("book/*.ipynb")])
SOURCE_SUFFIXES = (".ipynb", ".md")


def _resolve(entry: str) -> Path | None:
    base = ROOT / entry
    if base.suffix in SOURCE_SUFFIXES and base.is_file():
        return base
    matches = [base.with_name(base.name + s) for s in SOURCE_SUFFIXES if base.with_name(base.name + s).is_file()]
    return matches[0] if len(matches) == 1 else None


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found in nbs/ or book/"


@pytest.mark.parametrize("entry", toc_files())
def test_toc_entry_exists(entry):
    path = _resolve(entry)
    assert path is not None, f"_toc.yml names {entry!r}, but no single {entry}.ipynb or {entry}.md exists"


def test_toc_has_no_duplicates():
    files = toc_files()
    assert len(files) == len(set(files)), f"_toc.yml lists a file twice: {files}"


def test_every_notebook_is_in_the_toc():
    listed = {_resolve(entry) for entry in toc_files()}
    missing = [str(nb.relative_to(ROOT)) for nb in NOTEBOOKS if nb not in listed]
    assert not missing, f"notebooks missing from _toc.yml (they would never be built): {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.relative_to(ROOT)}: code cells {dirty} have outputs or execution counts; "
                       f"clear them before committing (jupyter nbconvert --clear-output --inplace {path.name})")
    widgets = nb.metadata.get("widgets")
    assert not widgets, f"{path.relative_to(ROOT)} stores widget state in its metadata; clear it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_starts_with_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells, f"{path.relative_to(ROOT)} is empty"
    first = nb.cells[0]
    assert first.cell_type == "code", f"{path.relative_to(ROOT)}: the first cell must be the parameters code cell"
    assert "parameters" in first.metadata.get("tags", []), \
        f"{path.relative_to(ROOT)}: the first cell must be tagged 'parameters'"
    assert re.search(r"""os\.environ\.get\(\s*["']DARTSLIB_SCALE["']\s*,\s*["']toy["']\s*\)""", first.source), \
        f"{path.relative_to(ROOT)}: the parameters cell must read SCALE from DARTSLIB_SCALE (default 'toy')"
    assert re.search(r"^SCALE\s*=", first.source, re.M), f"{path.relative_to(ROOT)}: the parameters cell must set SCALE"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_is_valid_and_has_a_title(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    titles = [c for c in nb.cells if c.cell_type == "markdown" and re.search(r"^#\s+\S", c.source, re.M)]
    assert titles, f"{path.relative_to(ROOT)} has no '# Title' markdown cell"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", \
        f"{path.relative_to(ROOT)}: kernelspec must be python3 (what the book build and Colab start)"


def test_bibliography_covers_every_citation():
    """Every {cite}`key` on a page of the book is an entry of book/references.bib."""
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    cited: dict[str, set[str]] = {}
    for entry in toc_files():
        path = _resolve(entry)
        if path is None:
            continue
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        else:
            text = path.read_text()
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in group.split(","):
                cited.setdefault(key.strip(), set()).add(entry)
    unknown = {k: sorted(v) for k, v in cited.items() if k not in keys}
    assert not unknown, f"cited but not in book/references.bib: {unknown}"


BOILERPLATE = re.compile(r"from myst_nb import glue|def new_figure\b|def glue\s*\(|^%matplotlib|^%config InlineBackend|"
                         r"time\.perf_counter\(\) - START", re.M)
CHAPTERS = [nb for nb in NOTEBOOKS if nb.parent.name == "nbs"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[str(p.relative_to(ROOT)) for p in CHAPTERS])
def test_chapter_setup_is_one_import_of_the_book_helpers(path):
    """After the parameters cell, a chapter's first code cell is the one-line import of dartslib.book (and the
    chapter's start), not a screen of imports, a glue fallback and figure helpers; no cell repeats those."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[1].source.strip().splitlines()
    assert setup and setup[0].startswith("from dartslib.book import *"), \
        f"{path.relative_to(ROOT)}: the first code cell after the parameters must start with `from dartslib.book import *`"
    assert any(line.startswith("chapter = start_chapter(") for line in setup), \
        f"{path.relative_to(ROOT)}: the setup cell must start the chapter (`chapter = start_chapter(NAME, SCALE)`)"
    assert len(setup) <= 12, f"{path.relative_to(ROOT)}: the setup cell has {len(setup)} lines; move helpers to dartslib.book"
    repeated = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and BOILERPLATE.search(c.source)]
    assert not repeated, (f"{path.relative_to(ROOT)}: cells {repeated} repeat the book's setup (glue fallback, "
                          f"new_figure, magics, timer), which lives in dartslib.book")
    assert "chapter.finish()" in "\n".join(c.source for c in code), \
        f"{path.relative_to(ROOT)}: no `chapter.finish()` cell, so `total_minutes` (the cost box) is never glued"


def test_book_helpers_exist_and_export_what_chapters_use():
    import dartslib.book as book

    for name in ("glue", "new_figure", "start_chapter", "np", "pd", "torch", "plots", "make_config", "search"):
        assert name in book.__all__, f"dartslib.book does not export {name}"


def test_no_button_needs_a_repository_until_the_book_has_a_home():
    """While _config.yml's ``book_home`` is empty, every button that needs a repository is off (Colab, Binder,
    JupyterHub, Deepnote, Thebe, repository, issues, edit) and the Preface's install command is a generic one;
    the download button stays on. Setting ``book_home`` turns the buttons and the command on (_ext/book_home.py)."""
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import book_home
    finally:
        sys.path.pop(0)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "book_home" in config, "_config.yml: the one switch `book_home` is missing"
    assert (config.get("sphinx", {}).get("local_extensions") or {}).get("book_home") == "_ext"
    assert "REPLACE-WITH" not in (ROOT / "_config.yml").read_text(), "_config.yml holds a placeholder URL"
    home = book_home.home_of(ROOT / "_config.yml")
    launch = config.get("launch_buttons", {}) or {}
    on = {k: v for k, v in launch.items() if k.endswith("_url") and v}
    assert not on, f"_config.yml launch_buttons are set by book_home, not by hand: {on}"
    assert not launch.get("thebe"), "_config.yml: thebe needs a real repository on Binder"
    html = config.get("html", {}) or {}
    buttons = {k: html.get(k) for k in ("use_repository_button", "use_issues_button", "use_edit_page_button")}
    assert not any(buttons.values()), f"_config.yml: buttons are set by book_home, not by hand: {buttons}"
    assert html.get("use_download_button", True), "_config.yml: keep the download button (the .ipynb of a chapter)"
    off, on_ = book_home.settings(""), book_home.settings("https://github.com/someone/dartslib")
    assert not any(v for k, v in off["theme"]["launch_buttons"].items() if k.endswith("_url"))
    assert not off["theme"]["use_repository_button"] and "git+" not in off["substitutions"]["install_from_repository"]
    assert on_["theme"]["launch_buttons"]["colab_url"] and on_["theme"]["use_repository_button"]
    assert "git+https://github.com/someone/dartslib" in on_["substitutions"]["install_from_repository"]
    if not home:
        preface = (ROOT / "book" / "preface.md").read_text()
        assert "{{ install_from_repository }}" in preface and "git+" not in preface


def test_math_is_served_with_the_book():
    """MathJax comes from the book's own _static (sphinx-mathjax-offline), not from a CDN."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config.get("sphinx", {}) or {}
    assert "sphinx-mathjax-offline" in (sphinx.get("extra_extensions") or []), \
        "_config.yml: add sphinx-mathjax-offline to sphinx.extra_extensions (math offline)"
    path = (sphinx.get("config") or {}).get("mathjax_path", "")
    assert "://" not in path and not path.startswith("//"), \
        f"_config.yml: mathjax_path must be a local path under _static (or unset), not {path!r}"
