"""Fixtures for testing the built book in Debian's Chromium, driven by Playwright.

The book is tested twice over: opened from file:// (as a reader who downloads it would) and served
on 127.0.0.1 (as a web host would). Every request a page makes is recorded.
"""

import functools
import http.server
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # make test passes its own
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def toc_pages() -> list[str]:
    """Every page of the book, as paths relative to _build/html, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f"{name}.html" for name in files]


def chapter_pages() -> list[str]:
    return [page for page in toc_pages() if page.startswith("notebooks/")]


@pytest.fixture(scope="session")
def book() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail("no built book in _build/html: run `make book` first (`make test` does)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(book):
    handler = functools.partial(_QuietHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("file", "data", "blob", "about") or parsed.hostname == "127.0.0.1"


@dataclass
class PageVisit:
    """What a page did while it loaded: every request, and every problem."""

    page: object
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def remote(self) -> list[str]:
        return [url for url in self.requests if not is_local(url)]


@pytest.fixture
def visit(browser):
    """visit(url) opens a page in a fresh context and records what it requests."""
    contexts = []

    def open_page(url: str, color_scheme: str = "light") -> PageVisit:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        record = PageVisit(page)
        page.on("request", lambda request: record.requests.append(request.url))
        page.on("requestfailed", lambda request: record.failed.append(request.url))
        page.on("response", lambda r: r.status >= 400 and record.failed.append(f"{r.status} {r.url}"))
        page.on("console", lambda msg: msg.type == "error" and record.console_errors.append(msg.text))
        page.on("pageerror", lambda error: record.console_errors.append(str(error)))
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        return record

    yield open_page
    for context in contexts:
        context.close()


def shot_name(page: str, suffix: str = "") -> str:
    return page.replace("/", "_").replace(".html", "") + suffix + ".png"
