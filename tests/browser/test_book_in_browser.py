"""The published book, tested in a real browser the way readers use it."""

import json

import pytest

from .conftest import SCREENSHOTS, chapter_pages, shot_name, toc_pages

REQUEST_LOG = {}


@pytest.mark.parametrize("page", toc_pages())
@pytest.mark.parametrize("origin", ["file", "http"])
def test_page_loads_cleanly_and_stays_on_this_machine(page, origin, book, server, visit):
    base = book.as_uri() if origin == "file" else server
    record = visit(f"{base}/{page}")
    REQUEST_LOG[f"{origin}:{page}"] = {"requests": len(record.requests), "remote": record.remote}
    assert record.remote == [], f"{page} requested other hosts: {record.remote}"
    assert record.failed == [], f"{page}: failed requests {record.failed}"
    assert record.console_errors == [], f"{page}: console errors {record.console_errors}"
    if origin == "file":
        record.page.screenshot(path=SCREENSHOTS / shot_name(page), full_page=False)


@pytest.fixture(scope="module", autouse=True)
def request_log():
    """After this module's tests, whichever ran: a record of every page's requests (no test
    depends on another having filled it)."""
    yield
    if REQUEST_LOG:
        (SCREENSHOTS / "requests.json").write_text(json.dumps(REQUEST_LOG, indent=1))
        total = sum(entry["requests"] for entry in REQUEST_LOG.values())
        print(f"\n{len(REQUEST_LOG)} page loads, {total} requests, none left the machine")


def test_sidebar_reaches_every_chapter(book, visit):
    record = visit((book / "book" / "index.html").as_uri())
    links = record.page.eval_on_selector_all(
        "nav.bd-docs-nav a.reference.internal", "els => els.map(a => a.href)"
    )
    reached = {link.split("/_build/html/")[-1].split("#")[0] for link in links}
    missing = [page for page in toc_pages()[1:] if page not in reached]
    assert not missing, f"sidebar does not link to {missing}"


def test_search_finds_the_chapter_about_a_topic(book, server, visit):
    record = visit(f"{server}/search.html?q=launch")
    page = record.page
    page.wait_for_selector("#search-results ul.search li", timeout=10_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(a => a.href)")
    assert any("notebooks/01_lifecycle.html" in hit for hit in hits), hits


WIDEST_LINE_OF_SCROLLING_CODE = """pres => pres
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.split("\\n").reduce((a, b) => a.length >= b.length ? a : b))"""


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_furniture_works(page, book, visit):
    record = visit((book / page).as_uri())
    p = record.page
    # The reader can download the notebook. A local build names no repository, so it has no
    # repository, issue or Binder button leading nowhere (the publish workflow adds them:
    # tests/test_repository.py).
    hrefs = p.eval_on_selector_all("a", "els => els.map(a => a.getAttribute('href'))")
    notebook = page.removeprefix("notebooks/").replace(".html", ".ipynb")
    assert f"../_sources/notebooks/{notebook}" in hrefs, "no download-notebook link"
    dead = [h for h in hrefs if h and ("mybinder.org" in h or "github.com" in h)]
    assert not dead, f"buttons to a repository this build does not name: {dead}"
    downloaded = (book / "_sources" / "notebooks" / notebook)
    assert downloaded.exists(), "the download link points at a missing file"
    # Code cells have a copy button.
    assert p.locator("button.copybtn").count() > 0, "no copy buttons"
    # Every image (plots) has loaded with a real size.
    sizes = p.eval_on_selector_all("article img", "imgs => imgs.map(i => i.naturalWidth)")
    assert all(width > 0 for width in sizes), f"{page}: an image did not render"
    # Solutions are hidden until the reader asks, and open on a click.
    solutions = p.locator("div.solution.dropdown")
    assert solutions.count() > 0, "no exercise solutions on the page"
    first = solutions.first
    content = first.locator("section, div.cell").first
    assert not content.is_visible(), "the solution is visible before it was asked for"
    first.locator("button.toggle-button").click()
    content.wait_for(state="visible", timeout=5_000)
    # In a 1280-pixel-wide window, code fits the column: no code cell scrolls sideways.
    too_wide = p.eval_on_selector_all("div.cell_input pre", WIDEST_LINE_OF_SCROLLING_CODE)
    assert not too_wide, f"{page}: code wider than the column: {too_wide[:3]}"
    # Widgets, where a chapter has them, render to something visible.
    for widget in p.locator("div.jupyter-widgets").all():
        assert widget.bounding_box() and widget.bounding_box()["height"] > 0, "empty widget"


def contrast(page) -> float:
    """WCAG contrast ratio between the article's text and the page background."""
    return page.evaluate("""() => {
        const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => {
            const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const text = lum(rgb(getComputedStyle(document.querySelector("article p")).color));
        const back = lum(rgb(getComputedStyle(document.body).backgroundColor));
        return (Math.max(text, back) + 0.05) / (Math.min(text, back) + 0.05);
    }""")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_both_themes_are_readable(theme, book, visit):
    page = chapter_pages()[0]
    record = visit((book / page).as_uri(), color_scheme=theme)
    p = record.page
    p.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    p.evaluate(f"localStorage.setItem('theme', '{theme}')")
    assert p.evaluate("document.documentElement.dataset.theme") == theme
    ratio = contrast(p)
    p.screenshot(path=SCREENSHOTS / shot_name(page, f"-{theme}"))
    assert ratio >= 7, f"text contrast {ratio:.1f}:1 in the {theme} theme"
