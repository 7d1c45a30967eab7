"""Every reader: axe-core on every page in light and dark mode, alt text, keyboard, phones.

axe-core comes from npm, like the widget JavaScript (npm pack, a pinned version, into _build/):
the book itself never loads it. Violations that come from the theme, not from the book's own
content, CSS or widgets, are listed in THEME with the upstream reason. Every other violation
of impact moderate, serious or critical fails the test; a minor one is reported (printed, and in
_build/screenshots/axe.json) without failing it.
"""

import json
import re
import subprocess
import tarfile
import tempfile
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import ROOT, SCREENSHOTS, chapter_pages, toc_pages

AXE = "axe-core@4.14.1"
AXE_JS = ROOT / "_build" / "axe-core" / "axe.min.js"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                         "best-practice"]},
    "resultTypes": ["violations"],
}

# (rule, a class of the element or of its ancestor in axe's selector) -> why it is the
# theme's, upstream.
THEME = {
    ("label-content-name-mismatch", "search-button__button"):
        "pydata-sphinx-theme 0.17's search buttons are labelled 'Search' but show the keyboard "
        "shortcut ('Ctrl+K') as text too, which axe wants in the name; the theme's template "
        "(components/search-button-field.html), tracked in pydata/pydata-sphinx-theme#1428",
    ("label-content-name-mismatch", "theme-switch-button"):
        "pydata-sphinx-theme's light/dark switch is labelled 'Color mode' while its icons carry "
        "other titles (pydata/pydata-sphinx-theme#1924 added them; tracked in #1428)",
    ("region", "sidebar-primary-item"):
        "sphinx-book-theme puts the book's title (the logo link) in a sidebar div outside any "
        "landmark (landmarks: pydata/pydata-sphinx-theme#1454, tracked in #1428)",
}

FAILING_IMPACTS = ("moderate", "serious", "critical")
RESULTS: dict = {}


@pytest.fixture(scope="session")
def axe_js() -> str:
    """axe-core's browser script, fetched once from npm (npm pack) into _build/axe-core/."""
    if not AXE_JS.exists():
        AXE_JS.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", "--silent", AXE], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)
            with tarfile.open(next(Path(tmp).glob("axe-core-*.tgz"))) as tgz:
                AXE_JS.write_bytes(tgz.extractfile("package/axe.min.js").read())
                (AXE_JS.parent / "LICENSE").write_bytes(tgz.extractfile("package/LICENSE").read())
    return AXE_JS.read_text()


def theme_reason(rule: str, node: dict) -> str | None:
    where = str(node["target"]) + node["html"][:300]
    for (theme_rule, fragment), reason in THEME.items():
        if rule == theme_rule and fragment in where:
            return reason
    return None


def run_axe(page, axe_js: str) -> list[dict]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=axe_js)
    return page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]


@pytest.mark.parametrize("page_name", toc_pages())
def test_axe_finds_nothing_of_the_books_own_in_light_and_dark(page_name, book, server, browser,
                                                               axe_js):
    """One load per page: axe in light mode, then in dark (the theme's data-theme, and the
    system setting the book follows by default). axe's colour-contrast rule takes most of
    the time (about 2 s on a chapter page, each mode)."""
    started = time.monotonic()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    try:
        page = context.new_page()
        page.goto(f"{server}/{page_name}", wait_until="load")
        if page.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
            page.wait_for_selector(".jupyter-widgets", timeout=10_000)  # rendered widgets
            page.wait_for_load_state("networkidle")
        ours = []
        for mode in ("light", "dark"):
            if mode == "dark":
                page.emulate_media(color_scheme="dark")
                page.evaluate("document.documentElement.dataset.theme = 'dark'")
                # The theme fades colours over a moment: measure them after the fade.
                page.evaluate("() => Promise.all(document.getAnimations().map(a => a.finished))")
            assert page.evaluate("document.documentElement.dataset.theme") == mode
            for violation in run_axe(page, axe_js):
                for node in violation["nodes"]:
                    reason = theme_reason(violation["id"], node)
                    RESULTS.setdefault(mode, []).append(
                        (page_name, violation["id"], violation["impact"], bool(reason)))
                    if not reason:
                        line = (f"{mode}: {violation['id']} ({violation['impact']}) "
                                f"{node['target']}: {node['html'][:160]}")
                        if violation["impact"] in FAILING_IMPACTS:
                            ours.append(line)
                        else:
                            print(f"\n{page_name}: minor, not failing: {line}")
    finally:
        context.close()
    RESULTS.setdefault("seconds", []).append(time.monotonic() - started)
    assert not ours, f"{page_name}: {len(ours)} violations of the book's own:\n" + "\n".join(ours)


def test_axe_report_is_written(book):
    """Counts by mode, rule and impact, theme's and book's, for the closing notes (runs after
    the pages)."""
    report = {}
    for mode in ("light", "dark"):
        counts = Counter((rule, impact, "theme" if theme else "book")
                         for _, rule, impact, theme in RESULTS.get(mode, []))
        report[mode] = {f"{rule} ({impact}, {owner})": n
                        for (rule, impact, owner), n in sorted(counts.items())}
    report["pages"] = len(RESULTS.get("seconds", []))
    report["seconds"] = round(sum(RESULTS.get("seconds", [])), 1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "axe.json").write_text(json.dumps(report, indent=1))
    print("\naxe-core:", json.dumps(report, indent=1))
    book_owned = [r for mode in ("light", "dark") for r in RESULTS.get(mode, [])
                  if not r[3] and r[2] in FAILING_IMPACTS]
    assert not book_owned


# --- The built HTML, read as text --------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.ids, self.meta = [], [], {}
        self._article = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if tag == "meta" and attrs.get("name"):
            self.meta[attrs["name"]] = attrs.get("content", "")


def parsed(book: Path, page: str) -> _Page:
    parser = _Page()
    parser.feed((book / page).read_text())
    return parser


HASH_LIKE = re.compile(r"[0-9a-f]{16,}|\.(png|jpe?g|svg|gif)$", re.IGNORECASE)


@pytest.mark.parametrize("page", chapter_pages())
def test_every_figure_says_what_it_shows(page, book):
    """Alt text from the figure's "Figure: ..." line (book/ext/book_a11y.py), never the
    image's hashed file name, and each figure opens full size."""
    for image in parsed(book, page).images:
        if "_images/" not in image.get("src", ""):
            continue  # the theme's logo and icons
        alt = (image.get("alt") or "").strip()
        describes = bool(alt) and not HASH_LIKE.search(alt) and len(alt.split()) >= 8
        assert describes, (
            f"{page}: a figure without a description ({image.get('src')}: alt={alt!r}); show it "
            "with booktools.timeline.show_figure(fig, description)")


@pytest.mark.parametrize("page", toc_pages())
def test_ids_are_unique_and_the_page_is_described(page, book):
    html = parsed(book, page)
    duplicates = [i for i, n in Counter(html.ids).items() if n > 1]
    assert not duplicates, f"{page}: duplicate ids {duplicates}"
    assert len(html.meta.get("description", "")) >= 40, f"{page}: no meta description"


# --- Keyboard, screen readers, phones ---------------------------------------------------

def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name)


def test_solution_toggles_are_named_and_show_their_focus(book, visit):
    record = visit((book / "notebooks" / "04_queues.html").as_uri())
    p = record.page
    buttons = p.locator("div.solution.dropdown button.toggle-button")
    assert buttons.count() > 0
    names = buttons.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
    assert all(re.fullmatch(r"Click to show: Solution to .+", name or "") for name in names), names
    assert len(set(names)) == len(names), f"two toggles share a name: {names}"
    first = buttons.first
    first.scroll_into_view_if_needed()
    first.focus()
    p.keyboard.press("Shift+Tab")
    p.keyboard.press("Tab")  # focus from the keyboard, as a keyboard reader's is
    assert p.evaluate("document.activeElement.getAttribute('aria-label')") == names[0]
    outline = first.evaluate("b => { const s = getComputedStyle(b); "
                             "return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
    assert outline[0] != "none" and outline[1] >= 2, f"no visible focus: {outline}"
    assert first.get_attribute("aria-expanded") == "false"
    shoot(p, "a11y-focused-solution-toggle.png")
    p.keyboard.press("Enter")
    assert first.get_attribute("aria-expanded") == "true"
    assert first.get_attribute("aria-label").startswith("Click to hide: Solution to ")


def test_copy_button_keeps_focus_and_says_it_copied(book, visit):
    record = visit((book / "notebooks" / "01_lifecycle.html").as_uri())
    p = record.page
    button = p.locator("button.copybtn").first
    button.scroll_into_view_if_needed()
    button.focus()
    p.keyboard.press("Enter")
    p.wait_for_function("() => { const r = document.querySelector('[aria-live]');"
                        " return r && r.textContent.trim().length > 0; }", timeout=5_000)
    said = p.evaluate("document.querySelector('.book-sr-only[aria-live]').textContent")
    assert said in ("Copied!", "Failed to copy"), said
    assert p.evaluate("document.activeElement.classList.contains('copybtn')"), \
        "focus left the copy button"


@pytest.mark.parametrize("page", ["notebooks/02_workflows.html", "notebooks/06_client.html"])
def test_static_widgets_say_they_work_only_in_a_notebook(page, book, visit):
    record = visit((book / page).as_uri(), color_scheme="dark")
    p = record.page
    widgets = p.locator("div.cell_output script[type='application/vnd.jupyter.widget-view+json']")
    notes = p.locator("p.static-widget-note")
    assert notes.count() == widgets.count() > 0
    assert "only in a running notebook" in notes.first.inner_text()
    p.wait_for_selector(".jupyter-widgets button")
    p.wait_for_function(  # book.js takes them out of the tab order once they have rendered
        "() => [...document.querySelectorAll('.jupyter-widgets button, .jupyter-widgets select')]"
        ".every(e => e.tabIndex < 0)", timeout=5_000)
    assert p.evaluate("document.documentElement.dataset.theme") == "dark"
    p.locator(".jupyter-widgets").first.scroll_into_view_if_needed()
    shoot(p, "a11y-dark-widget-" + page.split("/")[-1].replace(".html", ".png"))


def test_a_phone_reads_chapter_4_and_the_instructor_guide(book, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        p = context.new_page()
        for page in ("notebooks/04_queues.html", "book/instructor_guide.html"):
            p.goto((book / page).as_uri(), wait_until="load")
            p.wait_for_load_state("networkidle")
            wide = p.evaluate("document.scrollingElement.scrollWidth")
            assert wide <= 390, f"{page} scrolls sideways at 390 px ({wide} px wide)"
        p.goto((book / "notebooks" / "04_queues.html").as_uri(), wait_until="load")
        p.wait_for_load_state("networkidle")
        p.wait_for_selector(".jupyter-widgets button")
        p.wait_for_timeout(300)  # book.js measures the widgets once they have rendered
        links = p.eval_on_selector_all("a.figure-link", "as => as.map(a => a.href)")
        assert links and all(link.endswith(".png") for link in links), "figures do not open"
        # The inspector's table is wider than a phone: it scrolls, says so, takes the keyboard.
        tables = p.locator(".widget-html-content.book-scrolls")
        assert tables.count() > 0, "the widget table neither fits nor is marked as scrolling"
        assert tables.first.get_attribute("tabindex") == "0"
        p.locator("a.figure-link").first.scroll_into_view_if_needed()
        shoot(p, "a11y-phone-chapter-4-figure.png")
        tables.first.scroll_into_view_if_needed()
        shoot(p, "a11y-phone-chapter-4-widget.png")
    finally:
        context.close()
