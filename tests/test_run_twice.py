"""Every chapter survives "Run All" twice in one kernel, as a learner re-running it would do."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_twice_in_one_kernel(notebook, tmp_path):
    # A private copy of the helpers (and of chapter 12's application), so this run's
    # scratch/ is its own.
    folder = tmp_path / "notebooks"
    for package in ("booktools", "order_service"):
        shutil.copytree(notebook.parent / package, folder / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=180, resources={"metadata": {"path": str(folder)}})
    with client.setup_kernel():
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    # Raises CellExecutionError, naming the cell, if anything fails.
                    client.execute_cell(cell, index)
