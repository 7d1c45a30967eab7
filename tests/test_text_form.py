"""Each chapter's text form (text/NN_topic.md) is in step with its notebook, so a change to a
chapter can be read, and reviewed, as a diff of text."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from text_form import path_for, text_form  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_text_form_is_in_step(notebook):
    text = path_for(notebook)
    assert text.exists(), f"{text.relative_to(ROOT)} is missing: run `make text`"
    assert text.read_text() == text_form(notebook), (
        f"{text.relative_to(ROOT)} is out of step with {notebook.name}: run `make text`")


def test_no_text_form_without_its_notebook():
    stems = {notebook.stem for notebook in NOTEBOOKS}
    orphans = [p.name for p in (ROOT / "text").glob("*.md") if p.stem not in stems]
    assert not orphans, f"text forms of chapters that no longer exist: {orphans}"


@pytest.mark.parametrize("notebook", NOTEBOOKS[:3], ids=lambda p: p.name)
def test_text_form_holds_every_cell_and_no_output(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    form = text_form(notebook)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert form.count("{code-cell} ipython3\n") == len(code)
    for cell in cells:
        assert "".join(cell["source"]).strip() in form
    assert "image/png" not in form and "widget-state" not in form and "execution_count" not in form
