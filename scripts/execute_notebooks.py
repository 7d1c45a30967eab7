"""Execute chapters in place, so their stored outputs are what the code does today.

    python scripts/execute_notebooks.py notebooks/02_workflows.ipynb [...]   (make execute NB=...)

Each notebook runs top to bottom in a fresh kernel from notebooks/, as nbval and the book run it,
and is saved with its outputs, a kernelspec (so JupyterLab does not open it as modified) and no
per-cell timing metadata (so a re-run changes only what the code printed), and its text form
(text/NN_topic.md, scripts/text_form.py) is rewritten. A cell that raises stops the run and
leaves the notebook on disk untouched.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from text_form import write as write_text_form

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = KERNELSPEC
    started = time.monotonic()
    # shutdown_kernel="immediate": chapters end with DBOS running, whose listener thread makes a
    # graceful shutdown wait about 1 s more.
    NotebookClient(nb, timeout=180, kernel_name="python3", record_timing=False,
                   shutdown_kernel="immediate",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.monotonic() - started
    nbformat.write(nb, path)
    write_text_form(path)  # text/NN_topic.md: the chapter as a reviewable diff
    return seconds


if __name__ == "__main__":
    paths = [Path(arg) for arg in sys.argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for path in paths:
        print(f"{execute(path.resolve()):6.1f} s  {path}", flush=True)
