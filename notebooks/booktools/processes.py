"""Run a Python script as a child process, and kill it with SIGKILL on cue.

A crash in this book is real: the child process is killed with SIGKILL, so
it gets no chance to clean up, exactly like a power cut or an OOM kill.
Nothing is left behind: each child runs in its own process group, and the
whole group is killed and reaped. On Linux a child also dies with the process
that started it, however that one dies (a kernel killed outright by "Restart
Kernel" on a stuck cell would otherwise leave its workers running).

On Linux each child is forked from a process that has imported DBOS already (preload.py), so
it starts in milliseconds instead of importing DBOS again; it is still a process of its own.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import preload

_live: set[subprocess.Popen] = set()

# The child asks Linux for SIGKILL when its parent dies, then becomes the script. (A launcher,
# because Popen's preexec_fn is unsafe in a process with threads, such as a Jupyter kernel.)
# Linux sends that signal when the parent *thread* ends: start children from a thread that
# lives as long as they should, such as the kernel's main thread.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):  # the parent died before that took effect
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def _command(args) -> list[str]:
    python_args = [str(a) for a in args]
    if sys.platform != "linux":
        return [sys.executable, *python_args]
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *python_args]


@dataclass
class ScriptRun:
    """What a finished (or killed) child process printed, and how it ended."""

    lines: list[str]
    returncode: int
    killed: bool
    stderr: str = field(default="", repr=False)


def _start(args, cwd, env) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    # Inside Jupyter the kernel's own settings must not leak into the child.
    full_env.pop("MPLBACKEND", None)
    if preload.enabled() and preload.suits(full_env):
        # A fork of an interpreter that has imported DBOS already: the same child, started
        # in a fraction of the time (booktools/preload.py).
        try:
            proc = preload.start(args, cwd, full_env)
        except (OSError, RuntimeError):
            pass  # no preloader: a fresh interpreter, as below
        else:
            _live.add(proc)
            return proc
    proc = subprocess.Popen(
        _command(args),
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: we kill all of it
    )
    _live.add(proc)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    _live.discard(proc)


@atexit.register
def kill_all_children() -> None:
    """Kill every child process this kernel started and has not reaped yet."""
    for proc in list(_live):
        _kill(proc)


def run_script(
    script: str | Path,
    *args: str,
    kill_when: str | None = None,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    echo: bool = True,
) -> ScriptRun:
    """Run `python script args...`, printing its output as it arrives.

    If `kill_when` is given, the child is killed with SIGKILL as soon as it
    prints a line containing that text. Anything it wrote to stderr is shown
    only when it failed on its own (DBOS logs there).
    """
    proc = _start([script, *args], cwd, env)
    lines: list[str] = []
    killed = False
    deadline = time.monotonic() + timeout
    stderr_chunks: list[str] = []
    drain = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    drain.start()
    try:
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if echo:
                print(line, flush=True)
            if kill_when is not None and kill_when in line:
                _kill(proc)
                killed = True
                if echo:
                    print("💥 killed with SIGKILL", flush=True)
                break
            if time.monotonic() > deadline:
                _kill(proc)
                raise TimeoutError(f"{script} still running after {timeout} s")
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        _kill(proc)
        proc.stdout.close()
    drain.join(timeout=5)
    stderr = "".join(stderr_chunks)
    if kill_when is not None and not killed:
        print(f"(the script finished before printing {kill_when!r}: nothing was killed)")
    if not killed and proc.returncode != 0 and echo:
        print(f"exit code {proc.returncode}; stderr:\n{stderr}", flush=True)
    return ScriptRun(lines=lines, returncode=proc.returncode, killed=killed, stderr=stderr)


class Worker:
    """A long-running child process (a worker or a server) you can kill and restart.

    Its output is collected in the background; `wait_for(text)` blocks until
    a line containing `text` appears.
    """

    def __init__(self, script: str | Path, *args: str, cwd=None, env=None):
        self.script, self.args, self.cwd, self.env = script, args, cwd, env
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._new_lines: queue.Queue[str] = queue.Queue()

    def start(self) -> "Worker":
        if self.running:
            raise RuntimeError("already running")
        self.proc = _start([self.script, *self.args], self.cwd, self.env)
        self._new_lines = queue.Queue()
        proc, sink = self.proc, self._new_lines

        def pump():
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                self.lines.append(line)
                sink.put(line)

        threading.Thread(target=pump, daemon=True).start()
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line containing {text!r} after {timeout} s")
            try:
                line = self._new_lines.get(timeout=min(remaining, 0.05))
            except queue.Empty:
                if not self.running:
                    raise RuntimeError(f"worker exited before printing {text!r}") from None
                continue
            if text in line:
                return line

    def kill(self) -> None:
        """SIGKILL the worker and its whole process group."""
        if self.proc is not None:
            _kill(self.proc)

    def restart(self) -> "Worker":
        self.kill()
        return self.start()

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
