"""Run make test's independent streams at the same time, each with its own log, and say how each went.

    scripts/parallel.py "name::shell command" "name::shell command" ...

The streams mostly wait (kernels starting, DBOS polling, a browser rendering): under strict nbval a
chapter keeps a core busy about a quarter of its time, so four streams on two cores finish in
about the time of the longest. Each stream writes _build/logs/<name>.log; when it ends this prints
its time (kept in _build/stage-times.txt, as scripts/stage.sh does) and its log's summary; a
failed stream's whole log is printed. Exit status: 0 when every stream passed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "_build" / "logs"
TIMES = ROOT / "_build" / "stage-times.txt"
SUMMARY_LINES = 40  # a passed stream's tail: pytest's result line and the chapter table
HEARTBEAT = 60  # seconds between "still running" lines


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all the machine's cores so far, on Linux."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def slug(name: str) -> str:
    return re.sub(r"[^\w]+", "-", name).strip("-").lower()


def main(specs: list[str]) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    cpu_at_start = cpu_jiffies()
    streams = []
    for spec in specs:
        name, _, command = spec.partition("::")
        log = LOGS / f"{slug(name)}.log"
        process = subprocess.Popen(
            ["sh", "-c", command], cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: stopped whole on Ctrl-C
        streams.append({"name": name, "log": log, "process": process, "started": time.time()})
        print(f"▶ {name}  (log: {log.relative_to(ROOT)})", flush=True)

    def stop_all(*_):
        for stream in streams:
            if stream["process"].poll() is None:
                os.killpg(stream["process"].pid, signal.SIGTERM)
        sys.exit(130)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)

    failed = []
    running = list(streams)
    last_heartbeat = time.time()
    while running:
        time.sleep(0.5)
        for stream in list(running):
            pid, wait_status, usage = os.wait4(stream["process"].pid, os.WNOHANG)
            if pid == 0:
                continue
            status = os.waitstatus_to_exitcode(wait_status)
            stream["process"].returncode = status
            running.remove(stream)
            seconds = time.time() - stream["started"]
            # CPU seconds of the stream's process tree (those of its processes that were
            # waited for): what it asks of the machine's cores, whatever else runs beside it.
            cpu = usage.ru_utime + usage.ru_stime
            line = f"{seconds:7.1f}  {stream['name']}  (CPU {cpu:.0f} s)" + (
                "" if status == 0 else f"  (failed: exit {status})")
            with TIMES.open("a") as times:
                times.write(line + "\n")
            text = stream["log"].read_text(errors="replace").splitlines()
            shown = text if status else text[-SUMMARY_LINES:]
            print(f"\n=== {stream['name']}: {'passed' if status == 0 else 'FAILED'} "
                  f"({'whole log' if status else 'end of its log'}) ===", flush=True)
            print("\n".join(shown), flush=True)
            print(f"⏱ {line}", flush=True)
            if status:
                failed.append(stream["name"])
        if running and time.time() - last_heartbeat >= HEARTBEAT:
            last_heartbeat = time.time()
            print("… still running: " + ", ".join(
                f"{s['name']} ({time.time() - s['started']:.0f} s)" for s in running), flush=True)
    cpu_at_end = cpu_jiffies()
    if cpu_at_start and cpu_at_end:
        busy, total = (end - start for start, end in zip(cpu_at_start, cpu_at_end))
        print(f"\nthe machine's {os.cpu_count()} cores were busy {100 * busy / total:.0f} % of "
              "the time the streams ran", flush=True)
    if failed:
        print("\nFAILED: " + "; ".join(failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
