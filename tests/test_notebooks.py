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
