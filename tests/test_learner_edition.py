"""The learner edition keeps the exercises, loses the solutions, and still runs top to bottom."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
from learner_edition import make_learner_edition  # noqa: E402


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return make_learner_edition(tmp_path_factory.mktemp("learner"))


def test_every_chapter_is_in_it(edition):
    assert [p.name for p in edition] == CHAPTERS


def test_it_stands_alone(edition):
    """A participant gets the commands, the pinned packages and the pages the chapters link to."""
    folder = edition[0].parent.parent
    readme = (folder / "README.md").read_text()
    assert "pip install -r requirements.txt" in readme and "jupyter lab" in readme
    pins = [line for line in (folder / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    book_pins = (ROOT / "requirements.txt").read_text().splitlines()
    assert any(pin.startswith("dbos==") for pin in pins)
    assert any(pin.startswith("jupyterlab-myst==") for pin in pins)
    assert all(pin in book_pins for pin in pins), "the hand-out pins what the book pins"
    assert not any(pin.startswith(("jupyter-book", "nbval", "playwright")) for pin in pins)
    for path in edition:
        for link in re.findall(r"\]\((\.\./book/[\w-]+\.md)\)", path.read_text()):
            assert (path.parent / link).exists(), f"{path.name} links to {link}, not in the hand-out"


def test_solutions_are_gone_and_exercises_stay(edition):
    for path in edition:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
        tags = [tag for cell in nb.cells for tag in cell.metadata.get("tags", [])]
        assert "solution" not in tags and "{solution-start}" not in text, path.name
        assert "starter" in tags and "{exercise}" in text, f"{path.name} lost its exercises"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


# Each chapter's one run in make test besides strict nbval's (conftest.py reports its seconds).
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_runs_top_to_bottom_and_checks_say_not_done_yet(edition, chapter):
    path = next(p for p in edition if p.name == chapter)
    nb = nbformat.read(path, as_version=4)
    # "immediate": chapters end with DBOS running, and a graceful shutdown waits about 1 s
    # for its listener thread; nothing is left to save by then.
    NotebookClient(nb, timeout=180, shutdown_kernel="immediate",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    checks = [
        "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        for cell in nb.cells
        if cell.cell_type == "code" and any(line.startswith(("check_", "await check_"))
                                            for line in cell.source.splitlines())
    ]
    assert checks, f"{path.name}: no check cells"
    for output in checks:
        assert "Not done yet" in output, f"{path.name}: a check said {output!r} to an empty exercise"
