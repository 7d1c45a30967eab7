"""The built site's files: every link between pages resolves, and each chapter's weight is known."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from .conftest import SCREENSHOTS, chapter_pages, toc_pages


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.srcs, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.srcs.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.srcs.append(attrs["href"])


def parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(errors="ignore"))
    return parser


def test_every_link_between_pages_resolves(book):
    parsed: dict[Path, _Links] = {}

    def links_of(path: Path) -> _Links:
        if path not in parsed:
            parsed[path] = parse(path)
        return parsed[path]

    broken = []
    for page in toc_pages():
        source = (book / page).resolve()
        links = links_of(source)
        for href in links.hrefs + links.srcs:
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "javascript:")):
                continue  # links to other sites are links, not requests; the browser tests count requests
            target = (source.parent / unquote(url.path)).resolve() if url.path else source
            if not target.exists():
                broken.append(f"{page}: {href}")
            elif url.fragment and target.suffix == ".html" and url.fragment not in links_of(target).ids:
                broken.append(f"{page}: {href} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def test_page_weight_is_reported(book):
    """Each chapter page: its HTML plus its own images; the shared assets are counted once."""
    shared: set[Path] = set()
    rows = []
    for page in chapter_pages():
        links = parse(book / page)
        own_images = 0
        for src in links.srcs:
            url = urlparse(src)
            if url.scheme:
                continue
            target = ((book / page).parent / unquote(url.path)).resolve()
            if "/_images/" in str(target):
                own_images += _size(target)
            else:
                shared.add(target)
        html = _size(book / page)
        rows.append((page, html, own_images))
    shared_bytes = sum(_size(path) for path in shared)
    lines = [f"{'page':<42} {'HTML':>9} {'images':>9} {'total':>9}"]
    for page, html, images in rows:
        lines.append(f"{page:<42} {html / 1024:8.0f}K {images / 1024:8.0f}K {(html + images) / 1024:8.0f}K")
    lines.append(f"{'shared assets (CSS, JS, fonts; once)':<42} {'':>9} {'':>9} {shared_bytes / 1024:8.0f}K")
    report = "\n".join(lines)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "page_weight.txt").write_text(report + "\n")
    print("\n" + report)
    # A budget that catches an accident (a stray data dump in an output), not normal growth.
    heavy = [page for page, html, images in rows if html + images > 5 * 1024 * 1024]
    assert not heavy, f"chapter pages over 5 MB: {heavy}"
