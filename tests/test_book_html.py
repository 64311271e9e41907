"""The built book, as a reader's browser sees it: every page of ``_toc.yml`` opened in headless Chromium.

Needs ``jupyter-book build .`` first (CI builds right before the tests); without ``_build/html`` the
tests are skipped with that reason. The browser is Debian's ``/usr/bin/chromium`` driven by Playwright
(no browser is ever downloaded) and every request that is not a local file is aborted, so the check runs
offline and a page that only works with the network fails here.

Per page: it loads, has a title and a heading, shows no error output (no traceback, no stderr that
reports an error or a warning, no docutils error message), and every internal link points at a file of
the build (and, for links into another page, at an anchor that page has). Chapter notebooks must also
show at least one figure.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from book_toc import toc_files

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path(os.environ.get("DARTSLIB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ERROR_WORDS = re.compile(r"Traceback|Error\b|Exception\b|Warning\b")


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
