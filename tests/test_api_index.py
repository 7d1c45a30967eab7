"""book/api_index.md has a line for every public name of the installed dbos, and tells the truth.

The names are built here from the installed package (the module's `__all__`, and the public
attributes of `DBOS`, `DBOSClient`, `WorkflowHandle` and `Queue`; an `_async` twin counts with its
sync name), so a DBOS upgrade that adds a name fails the first test until the page has a line for
it (`scripts/api_index.py` rewrites the page). A linked name must be used by a code cell of the
section it links to; a name that is left out must say why.
"""

import json
import re
from pathlib import Path

import dbos
from dbos import DBOS, DBOSClient, Queue, WorkflowHandle

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "api_index.md"
CLASSES = {"DBOS": DBOS, "DBOSClient": DBOSClient, "WorkflowHandle": WorkflowHandle,
           "Queue": Queue}
LABEL = re.compile(r"^\((ch\d\d-[\w-]+)\)=\s*$", re.M)
# Sections that only survey calls (chapter 1's table of calls tried in a cell): never the link.
SURVEYS = {"ch01-in-a-cell"}
REF = re.compile(r"\{ref\}`[^`<]+<([\w-]+)>`")


def public_names() -> set[str]:
    names = {name.removesuffix("_async") for name in dbos.__all__}
    for owner, cls in CLASSES.items():
        names |= {f"{owner}.{attr.removesuffix('_async')}" for attr in dir(cls)
                  if not attr.startswith("_")}
    return names


def rows() -> dict[str, str]:
    return dict(re.findall(r"^\| `([\w.]+)` \| (.*) \|$", PAGE.read_text(), re.M))


def section_code() -> dict[str, str]:
    """Each labelled section's code: the code cells from its label's cell to the next label's."""
    code: dict[str, list[str]] = {}
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        current = None
        for cell in json.loads(notebook.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                for label in LABEL.findall(text):
                    current = code.setdefault(label, [])
            elif current is not None:
                current.append(text)
    return {label: "\n".join(cells) for label, cells in code.items()}


def uses(name: str, code: str) -> bool:
    """The module's names as words (`error` as `error as ...` or `error.`); DBOS's through
    `DBOS.`; the others' as attributes of some object that is not DBOS (a client, a handle, a
    queue)."""
    if "." not in name:  # `error`, the module, is also everyone's variable: `error.` or aliased
        used = r"(?=\s+as\s|\.)" if name == "error" else ""
        return re.search(rf"\b{re.escape(name)}\b{used}", code) is not None
    owner, attr = name.split(".")
    before = r"\bDBOS" if owner == "DBOS" else r"(?<!\bDBOS)"
    return re.search(rf"{before}\.{re.escape(attr)}(_async)?\b", code) is not None


def test_every_public_name_has_a_line_and_nothing_else_does():
    on_page = set(rows())
    assert sorted(public_names() - on_page) == [], "public names of dbos missing from the page"
    assert sorted(on_page - public_names()) == [], "lines for names dbos does not have"


def test_each_link_is_to_a_section_whose_cells_use_the_name():
    code = section_code()
    for name, where in rows().items():
        labels = REF.findall(where)
        for label in labels:
            assert label in code, f"{name}: no section labelled {label}"
            assert uses(name, code[label]), f"{name}: no code cell of {label} uses it"


def test_a_name_left_out_is_run_by_no_cell():
    """The page is rewritten when a chapter starts running a name (scripts/api_index.py)."""
    code = {label: text for label, text in section_code().items() if label not in SURVEYS}
    for name, where in rows().items():
        if where.startswith("left out: "):
            running = [label for label, text in code.items() if uses(name, text)]
            assert not running, f"{name} is run in {running}: link it (scripts/api_index.py)"


def test_each_name_left_out_says_why():
    for name, where in rows().items():
        if not REF.search(where):
            assert where.startswith("left out: ") and len(where.split()) >= 4, (
                f"{name}: neither a link to a section nor a reason")


def test_the_counts_are_those_of_the_lines():
    all_rows = rows()
    run = sum(bool(REF.search(where)) for where in all_rows.values())
    counts = re.search(r"\*\*(\d+) names: (\d+) run by a cell \((\d+) %\), (\d+) left out\.\*\*",
                       PAGE.read_text())
    assert counts, "the page states its counts"
    assert [int(n) for n in counts.groups()] == [
        len(all_rows), run, round(100 * run / len(all_rows)), len(all_rows) - run]
