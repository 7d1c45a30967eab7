"""Where a chapter's seconds go: kernel start, DBOS launch/destroy, child processes, waits.

    python scripts/profile_notebooks.py [--cells FILE.json] [notebooks/02_workflows.ipynb ...]
    (default: every chapter; --cells writes every cell's time, for a closer look)

Runs each notebook once in a fresh kernel, as nbval does (nothing is saved), with DBOS.launch,
DBOS.destroy, booktools' child-process start and the cells' own time.sleep / asyncio.sleep
timed from inside the kernel. Prints one line per chapter and then every cell over 2 s, which
the chapter's text must justify.
"""

import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

SLOW_CELL = 2.0

# Runs in the kernel before the chapter's first cell. Sleeps are counted (as slept, on any thread)
# when code written in a cell calls them, as a workflow's deliberate wait does; not DBOS's own
# pollers nor subprocess's waits. Sleeps on several threads overlap, so they can add up to more
# than the chapter's time. run_script is timed whole (a child's interpreter start, `import dbos`,
# its launch() and its work).
INSTRUMENT = r'''
import asyncio as _asyncio, sys as _sys, time as _time
from collections import defaultdict as _defaultdict
import dbos as _dbos
import booktools as _booktools, booktools.processes as _processes
_profile = _defaultdict(float)

def _timed(name, function):
    def timed(*args, **kwargs):
        started = _time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _profile[name] += _time.perf_counter() - started
            _profile[name + " (count)"] += 1
    return timed

for _name, _key in (("launch", "launch"), ("destroy", "destroy"), ("sleep", "DBOS.sleep")):
    setattr(_dbos.DBOS, _name, classmethod(_timed(_key, getattr(_dbos.DBOS, _name).__func__)))
_processes._start = _timed("child start", _processes._start)
_run_script = _timed("run_script", _processes.run_script)
for _namespace in (_processes.__dict__, _booktools.__dict__, get_ipython().user_ns):
    if "run_script" in _namespace:
        _namespace["run_script"] = _run_script

def _called_from_a_cell():
    return "ipykernel_" in _sys._getframe(2).f_code.co_filename
_sleep, _async_sleep = _time.sleep, _asyncio.sleep
def _cell_sleep(seconds):
    if not _called_from_a_cell():
        return _sleep(seconds)
    started = _time.perf_counter()
    _sleep(seconds)
    _profile["sleep"] += _time.perf_counter() - started
async def _cell_async_sleep(seconds, *args, **kwargs):
    if not _called_from_a_cell():
        return await _async_sleep(seconds, *args, **kwargs)
    started = _time.perf_counter()
    result = await _async_sleep(seconds, *args, **kwargs)
    _profile["sleep"] += _time.perf_counter() - started
    return result
_time.sleep, _asyncio.sleep = _cell_sleep, _cell_async_sleep
'''
REPORT = "import json as _json; print(_json.dumps(_profile))"


def profile(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, new_code_cell(INSTRUMENT))
    nb.cells.append(new_code_cell(REPORT))
    client = NotebookClient(nb, timeout=180, kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    with client.setup_kernel():
        kernel_start = time.monotonic() - started
        cells = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell_started = time.monotonic()
            client.execute_cell(cell, index)
            cells.append((index, time.monotonic() - cell_started, cell.source))
    total = time.monotonic() - started
    measured = json.loads(nb.cells[-1].outputs[0]["text"])
    return {"total": total, "kernel start": kernel_start, **measured, "cells": cells,
            "slow cells": [(i - 1, s, src) for i, s, src in cells if s > SLOW_CELL]}  # 0: ours


if __name__ == "__main__":
    args = sys.argv[1:]
    cells_file = None
    if args[:1] == ["--cells"]:
        cells_file, args = Path(args[1]), args[2:]
    paths = [Path(arg) for arg in args] or sorted(Path("notebooks").glob("*.ipynb"))
    every_cell = {}
    # sleep: the cells' own time.sleep/asyncio.sleep; DBOS.sleep: durable sleeps in the kernel.
    columns = ["total", "kernel start", "launch", "destroy", "run_script", "sleep", "DBOS.sleep"]
    print(f"{'chapter':<32}" + "".join(f"{c:>13}" for c in columns) + "  launches children")
    slow = []
    for path in paths:
        result = profile(path.resolve())
        print(f"{path.name:<32}" + "".join(f"{result.get(c, 0):13.1f}" for c in columns)
              + f"  {result.get('launch (count)', 0):8.0f} {result.get('child start (count)', 0):8.0f}",
              flush=True)
        slow += [(path.name, *cell) for cell in result["slow cells"]]
        every_cell[path.name] = [(index - 1, round(seconds, 3), source)  # chapter's numbering
                                 for index, seconds, source in result["cells"][1:-1]]
    if cells_file:
        cells_file.write_text(json.dumps(every_cell, indent=1))
    print(f"\ncells over {SLOW_CELL:.0f} s:")
    for name, index, seconds, source in slow:
        print(f"{seconds:6.1f}  {name} cell {index}: {source.splitlines()[0][:70]}")
