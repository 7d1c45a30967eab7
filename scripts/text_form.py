"""Each chapter as text, so a change to a chapter reads as a diff.

    python scripts/text_form.py            write text/NN_topic.md for every chapter (make text)

A notebook is JSON with outputs, images and widget state; its text form is its cells only, in
MyST Markdown's notebook format (what Jupyter Book reads as a notebook too): markdown cells as they
are, code cells in `{code-cell}` fences with their tags, cells apart by `+++`. `make execute`
rewrites it with the notebook; tests/test_text_form.py fails when one is out of step.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT / "text"

HEADER = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3 (ipykernel), language: python, name: python3}
---
<!-- The text form of notebooks/%s, written by scripts/text_form.py: edit the notebook. -->
"""


def text_form(notebook: Path) -> str:
    parts = [HEADER % notebook.name]
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"]).rstrip("\n")
        if cell["cell_type"] == "markdown":
            parts.append(f"+++\n\n{source}\n" if len(parts) > 1 else f"{source}\n")
        elif cell["cell_type"] == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            options = f":tags: [{', '.join(tags)}]\n\n" if tags else ""
            fence = "````" if "```" in source else "```"
            parts.append(f"{fence}{{code-cell}} ipython3\n{options}{source}\n{fence}\n")
    return "\n".join(parts)


def path_for(notebook: Path) -> Path:
    return TEXT / f"{notebook.stem}.md"


def write(notebook: Path) -> Path:
    TEXT.mkdir(exist_ok=True)
    target = path_for(notebook)
    target.write_text(text_form(notebook))
    return target


if __name__ == "__main__":
    notebooks = [Path(a).resolve() for a in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for notebook in notebooks:
        print(write(notebook).relative_to(ROOT))
