r"""Reader-facing defects of a page, as pure functions over its HTML (and over the sources the page is built from).

Each ``check_*`` function takes the HTML of one built page (a string) and returns a list of findings, short
excerpts that say what is wrong and where; an empty list is a clean page. Nothing here needs a browser or a
build: ``tests/test_book_html.py`` runs the checks over every page of ``_build/html`` when a build exists, and
``tests/test_page_checks.py`` runs each check on a control page that must fail it (always, no build needed).

The checks, one kind of defect each:

* :func:`check_unrendered_math`: ``$...$`` or a LaTeX command (``\times``, ``\text{``) left in the text a
  reader sees (outside code and outside the math elements MathJax typesets);
* :func:`check_nan_in_tables`: ``NaN``/``nan``/``<NA>`` in a table cell (HTML tables and text tables in outputs);
* :func:`check_placeholders`: ``REPLACE-WITH-...`` anywhere in the page (text, links, code);
* :func:`check_process_words`: words about the project's own process ("issue 13", "an earlier build",
  "landed", "not committed yet", ...) in what a reader sees;
* :func:`check_widget_output`: progress-bar or other widget output (widget-view JSON, ``HBox(children=...``);
* :func:`check_long_visible_code`: a code cell a reader sees without opening a toggle that has more than
  :data:`MAX_VISIBLE_LINES` lines;
* :func:`check_figure_widths`: a chapter's figure so wide that the page shrinks it and its smallest text
  (:data:`dartslib.viz.style.BOOK_RC`'s 9 pt) displays below :data:`dartslib.viz.style.MIN_DISPLAY_PT`.

:func:`source_findings` applies the same word, placeholder and long-cell rules to a notebook's or a
Markdown page's source, so they are caught without a build (and in a build that came from a cache), and
:func:`figure_source_findings` the figure-size rules (no figure wider than
:data:`~dartslib.viz.style.MAX_FIGURE_WIDTH_IN`, no font size below 9 pt) to a notebook's code.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from dartslib.viz.style import (BOOK_RC, FIGURE_DPI, MAX_FIGURE_WIDTH_IN, MIN_DISPLAY_PT, displayed_font_pt)

MAX_VISIBLE_LINES = 25
"""The longest code cell a reader may see without opening a toggle (the book aims at 15)."""

PROCESS_WORDS = re.compile(
    r"\bissues? #?\d+\b|\b(?:an |the )?(?:earlier|previous|older|last) build\b|\blanded\b|"
    r"\bnot committed yet\b|\bno committed run yet\b|\bthis replaces what this chapter could say before\b|"
    r"\b(?:pull request|PR) #?\d+\b|\bwas (?:never )?(?:merged|re-?run since)\b",
    re.IGNORECASE)
"""Words about how the book was made rather than about DARTS: they mean nothing to a reader."""

PLACEHOLDER = re.compile(r"REPLACE-WITH[-A-Z_]*|\bTODO\b|\bFIXME\b|\bXXX\b|lorem ipsum", re.IGNORECASE)

# `$...$` with something that looks like math inside, and LaTeX commands; in prose, a reader sees neither
RAW_DOLLAR_MATH = re.compile(r"(?<![\w$\\])\$(?!\s)[^$\n]{1,80}?(?<!\s)\$(?![\w$])")
RAW_LATEX = re.compile(r"\\(?:[a-zA-Z]{2,}(?![a-zA-Z])|[(\[\])]|[_^{}])|\$\$")
# words that follow a backslash in ordinary text and are no TeX (Windows paths are not in this book)
_NOT_TEX = {"n", "t"}

NAN_CELL = re.compile(r"(?<![\w.])(?:nan|NaN|NAN|<NA>|NaT)(?![\w.])")

WIDGET_OUTPUT = re.compile(r"application/vnd\.jupyter\.widget-view\+json|application/vnd\.jupyter\.widget-state\+json|"
                           r"\bHBox\(children=|\bFloatProgress\(|\bIntProgress\(|\"model_id\"\s*:")

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
         "wbr"}
# elements whose text is not prose: code, scripts, and the math MathJax typesets (its source is TeX on purpose)
_NOT_PROSE_TAGS = {"script", "style", "pre", "code", "textarea", "mjx-container", "svg", "math", "head", "title"}
_NOT_PROSE_CLASSES = {"math", "cell_input", "highlight", "MathJax", "katex", "headerlink", "toctree-wrapper"}


@dataclass
class Node:
    """An element of the page: tag, attributes, children (nodes and text), parent."""

    tag: str
    attrs: dict[str, str]
    parent: "Node | None" = None
    children: list["Node | str"] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1]))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    """The page as a tree of :class:`Node` (Python's own ``html.parser``; forgiving about unclosed tags)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _main(root: Node) -> Node:
    """The page's content: ``<main>`` (or ``<article>``), without the navigation, header and footer."""
    for tag in ("main", "article"):
        for node in root.iter():
            if node.tag == tag:
                return node
    return root


def _excluded(node: Node, tags: set[str], classes: set[str]) -> bool:
    return node.tag in tags or bool(node.classes & classes) or node.attrs.get("aria-hidden") == "true"


def _texts(node: Node, tags: set[str], classes: set[str], hidden_code: bool = True):
    """The text pieces under ``node``, skipping whole subtrees of the excluded tags/classes (and, with
    ``hidden_code=False``, the code inputs behind a toggle)."""
    if _excluded(node, tags, classes):
        return
    if not hidden_code and "cell_input" in node.classes and _hidden_cell(node):
        return
    for c in node.children:
        if isinstance(c, str):
            yield c
        else:
            yield from _texts(c, tags, classes, hidden_code)


def prose_text(html: str) -> str:
    """What a reader reads as text on the page: ``<main>`` without code, scripts and typeset math."""
    return " ".join(_texts(_main(parse(html)), _NOT_PROSE_TAGS, _NOT_PROSE_CLASSES))


def _excerpt(text: str, m: re.Match, width: int = 40) -> str:
    return " ".join(text[max(0, m.start() - width):m.end() + width].split())


def _hidden_cell(node: Node) -> bool:
    """Whether a code input is out of sight: in a ``<details>`` toggle or in a cell tagged hide-input/hide-cell."""
    for a in node.ancestors():
        if a.tag == "details":
            return True
        if "cell" in a.classes and a.classes & {"tag_hide-input", "tag_hide-cell", "tag_remove-input",
                                                "tag_remove-cell"}:
            return True
    return False


# ------------------------------------------------------------------------------------------ the checks

def check_unrendered_math(html: str) -> list[str]:
    """``$...$`` or LaTeX commands in the text a reader sees (math elements and code excluded)."""
    text = prose_text(html)
    out = [f"literal $...$: {_excerpt(text, m)}" for m in RAW_DOLLAR_MATH.finditer(text)]
    for m in RAW_LATEX.finditer(text):
        word = m.group(0)[1:]
        if word in _NOT_TEX:
            continue
        out.append(f"LaTeX command {m.group(0)!r}: {_excerpt(text, m)}")
    return out


def check_nan_in_tables(html: str) -> list[str]:
    """``NaN``/``nan`` in a table cell: an HTML table, or a text table printed by a cell."""
    root = _main(parse(html))
    out = []
    for node in root.iter():
        if node.tag in ("td", "th"):
            cell = " ".join(node.text().split())
            if NAN_CELL.search(cell):
                row = node.parent.text() if node.parent is not None else cell
                out.append(f"table cell {cell!r} in row: {' '.join(row.split())[:80]}")
        elif node.tag == "pre" and any("cell_output" in a.classes or "output" in a.classes for a in node.ancestors()):
            for line in node.text().splitlines():
                if NAN_CELL.search(line) and len(line.split()) >= 2:
                    out.append(f"text table line: {line.strip()[:80]}")
    return out


def check_placeholders(html: str) -> list[str]:
    """A placeholder anywhere in the page's content: text, code, link targets (``REPLACE-WITH-OWNER``, TODO)."""
    out = []
    text = " ".join(_texts(_main(parse(html)), {"script", "style"}, set()))
    out += [f"placeholder: {_excerpt(text, m)}" for m in PLACEHOLDER.finditer(text)]
    for m in re.finditer(r"""(?:href|src)=["']([^"']*REPLACE-WITH[^"']*)["']""", html):
        out.append(f"placeholder link: {m.group(1)}")
    return out


def check_process_words(html: str) -> list[str]:
    """Words about the project's own process in the text and the visible code and outputs of the page."""
    text = " ".join(_texts(_main(parse(html)), {"script", "style", "mjx-container"}, {"headerlink"}, False))
    return [f"process words {m.group(0)!r}: {_excerpt(text, m)}" for m in PROCESS_WORDS.finditer(text)]


def check_widget_output(html: str) -> list[str]:
    """Widget output in the page: a progress bar's widget JSON or its text form (``HBox(children=...)``)."""
    return [f"widget output: {_excerpt(html, m, 60)}" for m in WIDGET_OUTPUT.finditer(html)]


def check_long_visible_code(html: str, limit: int = MAX_VISIBLE_LINES) -> list[str]:
    """Code cells a reader sees without opening a toggle, with more than ``limit`` lines."""
    out = []
    for node in _main(parse(html)).iter():
        if "cell_input" not in node.classes or _hidden_cell(node):
            continue
        code = "\n".join(p.text() for p in node.iter() if p.tag == "pre").rstrip("\n")
        n = len(code.splitlines())
        if n > limit:
            out.append(f"visible code cell of {n} lines (at most {limit}): {code.splitlines()[0][:70]}")
    return out


SMALLEST_RC_PT = min(v for k, v in BOOK_RC.items() if k.endswith(("size", "fontsize")) and isinstance(v, (int, float)))
"""The smallest font size the book's style sets (tick labels and legends): what a figure's smallest text is."""

_CSS_WIDTH = re.compile(r"(?:^|;)\s*width:\s*([0-9.]+)px")


def check_figure_widths(html: str) -> list[str]:
    """Figures of cell outputs that the page shrinks so far that their smallest text (:data:`SMALLEST_RC_PT`)
    displays below :data:`~dartslib.viz.style.MIN_DISPLAY_PT`.

    A chapter's figure is a retina PNG whose ``<img>`` has the style width ``png_px / 2`` = the saved figure's
    width in inches times ``figure.dpi`` (:data:`~dartslib.viz.style.FIGURE_DPI`); the text column shrinks a wider
    one (:func:`~dartslib.viz.style.displayed_font_pt`). Images without a pixel width are not checked."""
    out = []
    for node in _main(parse(html)).iter():
        if node.tag != "img" or not any("cell_output" in a.classes for a in node.ancestors()):
            continue
        m = _CSS_WIDTH.search(node.attrs.get("style", "")) or re.fullmatch(r"([0-9.]+)(?:px)?",
                                                                            node.attrs.get("width", ""))
        if not m:
            continue
        width_in = float(m.group(1)) / FIGURE_DPI
        shown = displayed_font_pt(width_in, SMALLEST_RC_PT)
        if shown < MIN_DISPLAY_PT - 1e-9:
            out.append(f"figure {width_in:.2f} in wide (saved): its {SMALLEST_RC_PT:g}-pt text displays at "
                       f"{shown:.1f} pt: {node.attrs.get('src', '')[-40:]}")
    return out


CHECKS = {
    "unrendered math": check_unrendered_math,
    "NaN in tables": check_nan_in_tables,
    "placeholders": check_placeholders,
    "process words": check_process_words,
    "widget output": check_widget_output,
    "long visible code": check_long_visible_code,
    "figure widths": check_figure_widths,
}
"""Every page check, by the kind of defect it finds."""


# ------------------------------------------------------------------------------------------ sources

_HIDDEN_TAGS = {"remove-input", "remove-cell", "hide-input", "hide-cell"}
_MYST_COMMENT = re.compile(r"^\s*%.*$", re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def source_findings(path: Path) -> list[str]:
    """The word, placeholder and long-visible-cell rules on a notebook's or a Markdown page's source.

    In a notebook, Markdown cells and the code of cells a reader sees count for the words and placeholders
    (code that runs hidden may say what it likes in comments, but not in what it prints: that is checked on
    the built page); a visible code cell has at most :data:`MAX_VISIBLE_LINES` lines and calls no ``glue``. MyST and HTML comments
    are not shown and do not count."""
    out: list[str] = []

    def words(text: str, where: str) -> None:
        text = _HTML_COMMENT.sub("", _MYST_COMMENT.sub("", text))
        out.extend(f"{where}: process words {_excerpt(text, m)!r}" for m in PROCESS_WORDS.finditer(text))
        out.extend(f"{where}: placeholder {_excerpt(text, m)!r}" for m in PLACEHOLDER.finditer(text))

    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            source = _cell_source(cell)
            tags = set(cell.get("metadata", {}).get("tags", []))
            if cell["cell_type"] == "markdown":
                words(source, f"{path.name} cell {i}")
            elif cell["cell_type"] == "code" and not tags & _HIDDEN_TAGS:
                words(source, f"{path.name} cell {i}")
                if re.search(r"^\s*glue\(", source, re.MULTILINE):
                    out.append(f"{path.name} cell {i}: a visible code cell calls glue() (bookkeeping: move it to a "
                               "remove-input cell)")
                n = len(source.rstrip("\n").splitlines())
                if n > MAX_VISIBLE_LINES:
                    out.append(f"{path.name} cell {i}: visible code cell of {n} lines (at most {MAX_VISIBLE_LINES}; "
                               "move bookkeeping to a remove-input cell or to dartslib.book)")
    else:
        words(path.read_text(), path.name)
    return out


# ------------------------------------------------------------------------------------------ figure sizes in sources

_FIGURE_WIDTH = re.compile(r"\b(?:new_figure\(\s*|figsize\s*=\s*\(\s*)([0-9]+(?:\.[0-9]*)?)\s*[,)]")
_FONT_SIZE = re.compile(r"\b(?:fontsize|labelsize|title_fontsize)\s*=\s*(?:([0-9]+(?:\.[0-9]*)?)|"
                        r"[\"'](xx-small|x-small|small|smaller)[\"'])")


def figure_source_findings(path: Path) -> list[str]:
    """The figure-size rules on a notebook's code cells: a figure whose width is written as a number (``new_figure(W,
    ...)``, ``figsize=(W, ...)``) is at most :data:`~dartslib.viz.style.MAX_FIGURE_WIDTH_IN` wide, and a font size
    written in a cell (``fontsize=``, ``labelsize=``, ``"small"``) is at least 9 pt, so that nothing displays below
    :data:`~dartslib.viz.style.MIN_DISPLAY_PT` on the page (widths computed at run time are checked on the built
    page by :func:`check_figure_widths`)."""
    out: list[str] = []
    cells = json.loads(path.read_text())["cells"] if path.suffix == ".ipynb" else [
        {"cell_type": "code", "source": path.read_text()}]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for line in _cell_source(cell).splitlines():
            code = line.split("#", 1)[0]
            for m in _FIGURE_WIDTH.finditer(code):
                if float(m.group(1)) > MAX_FIGURE_WIDTH_IN + 1e-9:
                    out.append(f"{path.name} cell {i}: a figure {m.group(1)} in wide (at most {MAX_FIGURE_WIDTH_IN:g}; "
                               f"put panels in two rows): {line.strip()[:80]}")
            for m in _FONT_SIZE.finditer(code):
                if m.group(2) or float(m.group(1)) < SMALLEST_RC_PT:
                    out.append(f"{path.name} cell {i}: font size below {SMALLEST_RC_PT:g} pt (leave sizes to the "
                               f"book's style): {line.strip()[:80]}")
    return out
