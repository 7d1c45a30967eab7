"""Run All twice under nbval, and each chapter's seconds reported at the end of a test run.

`pytest --nbval --run-all-twice notebooks/` runs each notebook's cells as nbval does (every
stored output compared), then all of them again in the same kernel with outputs unchecked, as a
learner pressing Run All a second time: any cell that raises then fails the run. So one kernel
proves both promises, and a chapter is executed twice instead of three times.
"""

import re
from collections import defaultdict
from pathlib import Path

RUN_AGAIN = ", Run All again"
# Column names for tests that run a whole chapter, parametrized by its file name.
CHAPTER_RUNS = {"test_runs_top_to_bottom_and_checks_say_not_done_yet": "learner edition"}
# (chapter, what ran it) -> seconds, kernel start included.
_seconds: dict[tuple[str, str], float] = defaultdict(float)


def pytest_ignore_collect(collection_path, config):
    """A bare `pytest` runs tests/ without the browser tests: they need a built book, and
    Playwright's event loop must not share a process with DBOS's tests (`make test` runs them
    apart, as `pytest tests/browser`, which collects them)."""
    if "browser" in collection_path.parts and collection_path.is_relative_to(Path(__file__).parent / "tests"):
        if not any("browser" in str(arg) for arg in config.args):
            return True
    return None


def pytest_addoption(parser):
    parser.addoption(
        "--run-all-twice", action="store_true",
        help="nbval: after a notebook's cells, run them all again in the same kernel "
             "(outputs unchecked; a cell that raises fails)",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("run_all_twice"):
        return
    from nbval.plugin import IPyNbCell

    with_second_runs = []
    for position, item in enumerate(items):
        with_second_runs.append(item)
        following = items[position + 1] if position + 1 < len(items) else None
        last_of_its_notebook = (
            isinstance(item, IPyNbCell)
            and not (isinstance(following, IPyNbCell) and following.parent is item.parent)
        )
        if last_of_its_notebook:
            first_run = [i for i in items if isinstance(i, IPyNbCell) and i.parent is item.parent]
            with_second_runs.extend(_run_again(cell) for cell in first_run)
    items[:] = with_second_runs


def _run_again(first: "IPyNbCell") -> "IPyNbCell":
    """The same cell, in the same kernel (its parent holds it), its output not compared, except
    that it may print no warning the first run did not (a learner would see it in red)."""
    options = first.options.copy()
    options["check"] = False
    return _second_run_class(type(first)).from_parent(
        first.parent, name=first.name + RUN_AGAIN, cell_num=first.cell_num,
        cell=first.cell, options=options,
    )


# A log line's clock differs between runs; the rest of a warning must have been seen before.
_CLOCK = re.compile(r"\d{2}:\d{2}:\d{2}([.,]\d+)?")
_WARNING = re.compile(r"WARNING|Duplicate registration|Warning:")


def _warnings(outputs) -> set[str]:
    text = "\n".join(
        "".join(output.get("text", "")) if isinstance(output, dict) else str(output)
        for output in outputs
    )
    return {_CLOCK.sub("", line).strip() for line in text.splitlines() if _WARNING.search(line)}


_second_run_classes: dict[type, type] = {}


def _second_run_class(cell_class: type) -> type:
    if cell_class not in _second_run_classes:
        class SecondRun(cell_class):
            def runtest(self):
                super().runtest()
                new = _warnings(self.test_outputs or []) - _warnings(self.cell.outputs)
                if new:
                    self.raise_cell_error(
                        "Run All again printed warnings the first run did not",
                        "\n".join(sorted(new)))

        _second_run_classes[cell_class] = SecondRun
    return _second_run_classes[cell_class]


def pytest_runtest_logreport(report):
    path = report.location[0] if report.location else report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        run = "Run All again" if report.nodeid.endswith(RUN_AGAIN) else "nbval"
        _seconds[(Path(path).name, run)] += report.duration
        return
    # Tests that run a chapter, parametrized by it (the learner edition): [00_....ipynb]. Tests
    # that only read a chapter (tests/test_notebooks.py) are not timed here.
    chapter = re.search(r"\[([^\]]+\.ipynb)\]$", report.nodeid)
    test = report.nodeid.split("::")[-1].split("[")[0]
    if chapter and test in CHAPTER_RUNS:
        _seconds[(chapter.group(1), CHAPTER_RUNS[test])] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    chapters = sorted({chapter for chapter, _ in _seconds})
    runs = sorted({run for _, run in _seconds}, key=lambda run: (run != "nbval", run))
    terminalreporter.section("seconds per chapter (kernel start included)")
    terminalreporter.write_line("  ".join(f"{run:>15.15}" for run in runs) + "  chapter")
    for chapter in chapters:
        cells = "  ".join(
            f"{_seconds[(chapter, run)]:15.1f}" if (chapter, run) in _seconds else " " * 15
            for run in runs
        )
        terminalreporter.write_line(f"{cells}  {chapter}")
    totals = "  ".join(
        f"{sum(s for (_, r), s in _seconds.items() if r == run):15.1f}" for run in runs
    )
    terminalreporter.write_line(f"{totals}  total")
