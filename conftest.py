"""Report how long each notebook took under nbval, at the end of `make test`."""

from collections import defaultdict
from pathlib import Path

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.location[0] if report.location else report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("notebook timings (seconds, kernel start included)")
    for path, seconds in sorted(_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f}  {Path(path).name}")
    terminalreporter.write_line(f"{sum(_seconds.values()):7.1f}  total")
