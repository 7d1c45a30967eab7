"""A Sphinx extension for the book's readers who do not see, or not well, or on a phone.

- Figures: every plot is shown with booktools.timeline.show_figure, which prints a line
  "Figure: <what it shows>" under it. Here that line becomes the image's alt text (myst-nb would
  otherwise leave the alt empty and Sphinx would fill it with the image's hashed file name), and
  the image links to itself, so a phone reader can open it full size.
- Static widgets: a widget on a web page is a snapshot of its state when the notebook ran. A note
  above each says its controls work only in a running notebook.
- sphinx-exercise gives every exercise and solution the same id (`exercise-content`,
  `solution-content`); here each gets its own, from its exercise's label.
- Every page gets a meta description: its first paragraph.
"""

from __future__ import annotations

import html
import posixpath

from docutils import nodes

CAPTION_PREFIX = "Figure: "  # booktools.timeline.CAPTION_PREFIX
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_WIDGET_NOTE = (
    "A snapshot of a live widget, as it was when the notebook ran: its buttons and menus "
    "work only in a running notebook (download the chapter and open it in JupyterLab)."
)


def _has_class(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Element) and name in node.get("classes", [])


def _captions(cell_output: nodes.Element) -> list[str]:
    lines = []
    for block in cell_output.findall(nodes.literal_block):
        for line in block.astext().splitlines():
            if line.startswith(CAPTION_PREFIX):
                lines.append(line[len(CAPTION_PREFIX):].strip())
                block["classes"].append("figure-caption")  # book.css wraps it
    return lines


def figures_and_widgets(app, doctree: nodes.document) -> None:
    for output in list(doctree.findall(lambda n: _has_class(n, "cell_output"))):
        images = [image for image in output.findall(nodes.image) if not image.get("alt")]
        for image, caption in zip(images, _captions(output)):
            image["alt"] = caption
            image["classes"].append("book-figure")
        for raw in list(output.findall(nodes.raw)):
            if WIDGET_VIEW in raw.astext():
                note = nodes.paragraph("", STATIC_WIDGET_NOTE, classes=["static-widget-note"])
                raw.parent.insert(raw.parent.index(raw), note)


def link_figures_full_size(app, doctree: nodes.document, docname: str) -> None:
    """Each figure links to its own file in _images/ (where Sphinx copies it, by file name)."""
    if app.builder.format != "html":
        return
    images = posixpath.relpath("_images", posixpath.dirname(docname) or ".")
    for image in list(doctree.findall(nodes.image)):
        if "book-figure" not in image["classes"] or isinstance(image.parent, nodes.reference):
            continue
        target = posixpath.join(images, posixpath.basename(image["uri"]))
        link = nodes.reference("", "", refuri=target, internal=True,
                               reftitle="Open the figure full size", classes=["figure-link"])
        image.replace_self(link)
        link.append(image)


def unique_exercise_ids(app, doctree: nodes.document, docname: str) -> None:
    for name in ("exercise-content", "solution-content"):
        for n, section in enumerate(doctree.findall(
                lambda node: isinstance(node, nodes.section) and name in node["ids"]), 1):
            owner = section.parent.get("ids", []) if section.parent is not None else []
            prefix = owner[0].split("/")[-1] if owner else f"{name.split('-')[0]}-{n}"
            section["ids"] = [f"{prefix}-content" if i == name else i for i in section["ids"]]


def meta_description(app, pagename, templatename, context, doctree) -> None:
    if doctree is None:
        return
    for paragraph in doctree.findall(nodes.paragraph):
        if any(isinstance(a, nodes.Admonition) or _has_class(a, "cell")
               for a in _ancestors(paragraph)):
            continue
        text = " ".join(paragraph.astext().split())
        if len(text) >= 40:
            if len(text) > 200:
                text = text[:197].rsplit(" ", 1)[0] + "…"
            context["metatags"] = context.get("metatags", "") + (
                f'\n    <meta name="description" content="{html.escape(text)}" />')
            return


def _ancestors(node: nodes.Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def setup(app):
    app.connect("doctree-read", figures_and_widgets)
    app.connect("doctree-resolved", link_figures_full_size)
    app.connect("doctree-resolved", unique_exercise_ids)
    app.connect("html-page-context", meta_description)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
