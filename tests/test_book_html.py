r"""The built book, as a reader's browser sees it: every page of ``_toc.yml`` opened in headless Chromium.

Needs ``jupyter-book build .`` first (CI builds right before the tests); without ``_build/html`` the
tests are skipped with that reason. The browser is Debian's ``/usr/bin/chromium`` driven by Playwright
(no browser is ever downloaded) and every request that is not a local file is aborted, so the check runs
offline and a page that only works with the network fails here.

Per page: it loads, has a title and a heading, shows no error output (no traceback, no stderr that
reports an error or a warning, no docutils error message), and every internal link points at a file of
the build (and, for links into another page, at an anchor that page has). Chapter notebooks must also
show at least one figure.

As a reader sees it (offline):

* math is typeset: no TeX source (``\(``, ``\[``, ``$$``) is left in the visible text, and every math
  element holds MathJax's rendering (MathJax is served from the book's ``_static``, not a CDN);
* a chapter opens with prose, and its first visible code is the one-line import of ``dartslib.book``, not
  a screen of imports and helpers; no visible code cell repeats that setup;
* no table runs out of the text column (wide ones scroll inside it);
* no link or button points at a placeholder repository, Colab or Binder while the book has no home
  (``book_home`` of ``_config.yml`` is empty), and a chapter offers its ``.ipynb`` for download;
* where a chapter shows an explorer, its static small multiples come before the (offline: empty) widget.

Without a browser, over the HTML file of every page (``tests/page_checks.py``; each check is tried on a control
page that must fail it in ``tests/test_page_checks.py``): no unrendered ``$...$`` or LaTeX commands in the text,
no ``NaN`` in tables, no placeholders, no words about the project's own process, no widget output, no visible code
cell over 25 lines.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

import yaml

from book_toc import toc_files
import page_checks

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path(os.environ.get("DARTSLIB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ERROR_WORDS = re.compile(r"Traceback|Error\b|Exception\b|Warning\b")
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{")
BOILERPLATE = re.compile(r"from myst_nb import glue|def new_figure\b|def glue\s*\(|%matplotlib|%config InlineBackend")
# no public home yet (``book_home`` of _config.yml is empty): no link may need one
PLACEHOLDER = not (yaml.safe_load((ROOT / "_config.yml").read_text()).get("book_home") or "").strip()

# Text a reader sees, outside code and outside MathJax's own output (rendered elements only).
VISIBLE_PROSE_JS = """() => {
  const root = document.querySelector("main") || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const out = [];
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || el.closest("pre, code, script, style, textarea, mjx-container, .cell_input")) continue;
    if (!el.getClientRects().length) continue;
    out.push(walker.currentNode.textContent);
  }
  return out.join(" ");
}"""

# MathJax 3 typesets after the page's load event; wait for it (False: MathJax never started).
MATHJAX_DONE_JS = """async () => {
  if (!window.MathJax || !window.MathJax.startup || !window.MathJax.startup.promise) return false;
  await window.MathJax.startup.promise;
  return true;
}"""

# Tables whose visible box (their own, or that of the nearest ancestor that clips or scrolls sideways)
# runs past the right edge of the text column.
OVERFLOWING_TABLES_JS = """() => {
  const column = document.querySelector("article") || document.querySelector("main");
  const right = column.getBoundingClientRect().right + 1;
  const bad = [];
  for (const table of column.querySelectorAll("table")) {
    if (!table.getClientRects().length) continue;
    let box = table, el = table;
    while (el && el !== column) {
      if (["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX)) { box = el; break; }
      el = el.parentElement;
    }
    const r = box.getBoundingClientRect();
    if (r.right > right) bad.push(`${Math.round(r.right - right)}px: ${table.innerText.slice(0, 60)}`);
  }
  return bad;
}"""

# The code inputs a reader sees without opening a toggle, in page order, and whether prose comes first.
VISIBLE_CODE_JS = """() => {
  const inputs = [...document.querySelectorAll(".cell .cell_input")].filter(e => e.getClientRects().length);
  const para = [...document.querySelectorAll("article p, main p")].find(e => e.getClientRects().length);
  const first = inputs[0];
  const proseFirst = !first || (para && (para.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0);
  return {inputs: inputs.map(e => e.innerText), proseFirst: !!proseFirst};
}"""

# For every explorer (a cell output that says "gives a slider", as dartslib.book.explorer.Explorer does): are its
# small multiples shown, before that note, and no live widget (the slider is on request: explorer.widget())?
WIDGETS_JS = """() => {
  const WIDGET = 'script[type="application/vnd.jupyter.widget-view+json"], .jupyter-widgets';
  const before = (a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
  return [...document.querySelectorAll(".cell_output")]
    .map(o => [o, [...o.querySelectorAll("p, em")].find(e => e.textContent.includes("gives a slider"))])
    .filter(([o, note]) => note)
    .map(([o, note]) => {
      const img = [...o.querySelectorAll("img")].find(i => i.getClientRects().length);
      const widgets = [...o.querySelectorAll(WIDGET)];
      return !!img && before(img, note) && widgets.length === 0;
    });
}"""


def _toc_entries() -> list[str]:
    entries = [e.rsplit(".", 1)[0] if e.endswith((".md", ".ipynb")) else e for e in toc_files()]
    return list(dict.fromkeys(entries))


ENTRIES = _toc_entries()


def _is_notebook_chapter(entry: str) -> bool:
    return (ROOT / f"{entry}.ipynb").is_file()


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").is_file():
        pytest.skip("no built book in _build/html: run `jupyter-book build .` first (CI does)")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian's package) to run the page checks")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")

    def offline(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    yield page
    context.close()


def _anchors(html_file: Path, cache: dict[Path, set[str]]) -> set[str]:
    if html_file not in cache:
        text = html_file.read_text(errors="replace")
        cache[html_file] = set(re.findall(r"""\bid=["']([^"']+)["']""", text))
    return cache[html_file]


_ANCHOR_CACHE: dict[Path, set[str]] = {}


@pytest.mark.parametrize("entry", ENTRIES)
def test_page(page, entry):
    html_file = HTML / f"{entry}.html"
    assert html_file.is_file(), f"{entry} is in _toc.yml but {html_file.relative_to(ROOT)} was not built"
    response = page.goto(html_file.as_uri(), wait_until="load")
    assert response is None or response.ok, f"{entry}: failed to load"

    title = page.title()
    assert title.strip(), f"{entry}: the page has no <title>"
    headings = page.locator("main h1, article h1").all_inner_texts()
    assert any(h.strip() for h in headings), f"{entry}: no <h1> heading in the page"

    # error output: tracebacks, errors in stderr, docutils error messages, unresolved references
    tracebacks = page.locator(".output.traceback, .output.error, div.traceback").count()
    assert tracebacks == 0, f"{entry}: {tracebacks} error outputs on the page"
    for text in page.locator(".output.stderr").all_inner_texts():
        assert not ERROR_WORDS.search(text), f"{entry}: stderr output reports a problem:\n{text[:500]}"
    body = page.locator("main, article").first.inner_text()
    assert "Traceback (most recent call last)" not in body, f"{entry}: a traceback is printed on the page"
    messages = page.locator(".system-message, .problematic").all_inner_texts()
    assert not messages, f"{entry}: docutils errors or unresolved references on the page: {messages[:5]}"

    if _is_notebook_chapter(entry):
        figures = page.locator(".cell_output img, .cell_output svg, figure img, .output img").count()
        assert figures >= 1, f"{entry}: a chapter page without a single figure"

    # math: typeset offline, no TeX source left in the text
    typeset = page.evaluate(MATHJAX_DONE_JS)
    n_math = page.locator(".math").count()
    if n_math:
        assert typeset, f"{entry}: {n_math} math elements but MathJax did not start (is it loaded from a CDN?)"
        untypeset = page.locator(".math:not(:has(mjx-container))").count()
        assert untypeset == 0, f"{entry}: {untypeset} of {n_math} math elements were not typeset"
    prose = page.evaluate(VISIBLE_PROSE_JS)
    raw = sorted({prose[max(0, m.start() - 30):m.end() + 30] for m in RAW_TEX.finditer(prose)})
    assert not raw, f"{entry}: TeX source visible in the page text: {raw[:5]}"

    # the chapter opens with prose; the first visible code is the one-line import of the book's helpers
    if _is_notebook_chapter(entry):
        code = page.evaluate(VISIBLE_CODE_JS)
        assert code["proseFirst"], f"{entry}: the page opens with code, not with its text"
        assert code["inputs"], f"{entry}: no visible code at all"
        first = code["inputs"][0].strip()
        assert first.startswith("from dartslib.book import") and len(first.splitlines()) <= 12, \
            f"{entry}: the first visible code is not the one-line setup:\n{first[:400]}"
        setup = [c[:200] for c in code["inputs"] if BOILERPLATE.search(c)]
        assert not setup, f"{entry}: visible code cells repeat the book's setup boilerplate: {setup}"
        widgets = page.evaluate(WIDGETS_JS)
        assert all(widgets), f"{entry}: an explorer shows no static figure before its note, or a live widget ({widgets})"

    # wide tables stay inside the text column
    overflowing = page.evaluate(OVERFLOWING_TABLES_JS)
    assert not overflowing, f"{entry}: tables overflow the text column: {overflowing[:5]}"

    # buttons and links: nothing that needs the placeholder repository; chapters offer their .ipynb
    all_hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    if PLACEHOLDER:
        dead = sorted({h for h in all_hrefs if "REPLACE-WITH" in h or "colab.research.google.com" in h
                       or "mybinder.org" in h})
        assert not dead, f"{entry}: links to the placeholder repository or to launchers that need it: {dead}"
    if _is_notebook_chapter(entry):
        assert any(h.endswith(".ipynb") for h in all_hrefs), f"{entry}: no download link to the chapter's .ipynb"

    # internal links: every href that is not external points at a built file (and anchor)
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    broken = []
    for href in hrefs:
        parsed = urlparse(href)
        if parsed.scheme in ("http", "https", "mailto", "javascript", "data") or href.startswith("//"):
            continue
        target, fragment = urldefrag(href)
        if not target:  # same page
            if fragment and fragment not in _anchors(html_file, _ANCHOR_CACHE):
                broken.append(href)
            continue
        path = (html_file.parent / unquote(urlparse(target).path)).resolve()
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(href)
        elif fragment and path.suffix == ".html" and fragment not in _anchors(path, _ANCHOR_CACHE):
            broken.append(href)
    assert not broken, f"{entry}: internal links that do not resolve: {sorted(set(broken))}"


def test_every_toc_page_was_built():
    if not (HTML / "index.html").is_file():
        pytest.skip("no built book in _build/html: run `jupyter-book build .` first (CI does)")
    missing = [e for e in ENTRIES if not (HTML / f"{e}.html").is_file()]
    assert not missing, f"pages of _toc.yml missing from _build/html: {missing}"


@pytest.mark.parametrize("kind", sorted(page_checks.CHECKS))
@pytest.mark.parametrize("entry", ENTRIES)
def test_page_is_clean(entry, kind):
    """The reader-facing defects of ``page_checks`` on the built HTML of every page of ``_toc.yml``."""
    html_file = HTML / f"{entry}.html"
    if not (HTML / "index.html").is_file():
        pytest.skip("no built book in _build/html: run `jupyter-book build .` first (CI does)")
    assert html_file.is_file(), f"{entry} is in _toc.yml but was not built"
    findings = page_checks.CHECKS[kind](html_file.read_text(errors="replace"))
    assert not findings, f"{entry}: {kind}:\n" + "\n".join(findings[:10])
