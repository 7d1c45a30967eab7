"""Flakes counted: the notebooks under strict nbval N times per backend, on a busy machine.

    python scripts/soak.py --runs 10 [--backends sqlite,postgres] [notebooks/02_workflows.ipynb ...]
    (make soak N=10 [NB="notebooks/02_workflows.ipynb ..."])

Two busy loops take the machine's cores for the whole soak (a CI runner or a laptop is rarely
idle, and timing-dependent output shows up under load first). Each run is a fresh
`pytest --nbval` with the suite's sanitizer; on Postgres each run gets its own throwaway server
(scripts/with_postgres.sh). At the end it prints, per backend, how many runs failed and how
often each cell failed. Exit status 1 if any cell failed.
"""

import argparse
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBVAL = [sys.executable, "-m", "pytest", "--nbval", "-q", "-rfE", "-p", "no:cacheprovider",
         "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "--nbval-cell-timeout=120"]
BUSY_LOOPS = 2
# pytest's short summary: "FAILED notebooks/02_workflows.ipynb::Cell 5 - ..."
FAILED_CELL = re.compile(r"^(?:FAILED|ERROR) (\S+\.ipynb::Cell \d+)", re.MULTILINE)


def one_run(backend: str, notebooks: list[str]) -> tuple[list[str], float, str]:
    """Failed cells, seconds, and pytest's output of one strict nbval run."""
    command = NBVAL + notebooks
    if backend == "postgres":
        command = ["scripts/with_postgres.sh", *command]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    failed = FAILED_CELL.findall(run.stdout)
    if run.returncode not in (0, 1) or (run.returncode == 1 and not failed):
        failed = [f"pytest itself (exit {run.returncode})"]
    return failed, seconds, run.stdout + run.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("notebooks", nargs="*", default=["notebooks"])
    args = parser.parse_args()
    backends = args.backends.split(",")
    if not set(backends) <= {"sqlite", "postgres"}:
        parser.error(f"--backends: sqlite and/or postgres, not {args.backends}")

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(BUSY_LOOPS)]
    log = ROOT / "_build" / "soak.log"
    log.parent.mkdir(exist_ok=True)
    results: dict[str, tuple[int, Counter]] = {}
    try:
        with log.open("w") as transcript:
            for backend in backends:
                failed_runs, failures = 0, Counter()
                for number in range(1, args.runs + 1):
                    failed, seconds, output = one_run(backend, args.notebooks)
                    transcript.write(f"===== {backend} run {number} =====\n{output}\n")
                    transcript.flush()
                    failed_runs += bool(failed)
                    failures.update(failed)
                    print(f"{backend} run {number}/{args.runs}: {seconds:.0f} s, "
                          f"{len(failed)} failed cell(s) {', '.join(failed)}", flush=True)
                results[backend] = (failed_runs, failures)
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()

    print(f"\n=== soak: {args.runs} run(s) per backend, {BUSY_LOOPS} busy loops; "
          f"pytest's output in {log.relative_to(ROOT)} ===")
    for backend, (failed_runs, failures) in results.items():
        print(f"{backend}: {failed_runs} of {args.runs} run(s) failed")
        for cell, count in failures.most_common():
            print(f"  {count:3d} of {args.runs}  {cell}")
    return 1 if any(failures for _, failures in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
