"""Child processes forked from an interpreter that has already imported DBOS.

A chapter starts dozens of child processes, and each one used to spend most of its start-up
importing dbos and SQLAlchemy (0.4 s on a quiet machine, 2 s on a busy one). Here one process
per kernel, the *preloader*, imports them once; every child is a fork of it that runs the script
as `python script.py args` would (`-m module` too): its own process, its own process group, its
own pipes, killed with SIGKILL as before. The preloader dies with the kernel, and its children
with it (Linux PR_SET_PDEATHSIG), so nothing is left behind.

Used by booktools.processes on Linux; BOOKTOOLS_PRELOAD=0 turns it off (every child is then a
fresh interpreter). A child whose environment sets PYTHON* variables other than PYTHONUNBUFFERED
and PYTHONPATH gets a fresh interpreter too: those act when Python starts.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

PRELOADED = ("dbos", "sqlalchemy")
# Start-up settings a fork can honour (see _child and _run); any other PYTHON* variable gets the
# child a fresh interpreter.
_HONOURED = ("PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# --- In the kernel ----------------------------------------------------------------


def enabled() -> bool:
    return sys.platform == "linux" and os.environ.get("BOOKTOOLS_PRELOAD", "1") != "0"


def suits(env: dict[str, str]) -> bool:
    """Whether a fork of the preloader behaves as a fresh interpreter would with this env."""
    return not any(k.startswith("PYTHON") and k not in _HONOURED for k in env)


class PreloadedProcess:
    """The part of subprocess.Popen that booktools.processes uses, for a preloaded child."""

    def __init__(self, pid: int, stdout, stderr, preloader: "_Preloader"):
        self.pid, self.stdout, self.stderr = pid, stdout, stderr
        self.returncode: Optional[int] = None
        self._preloader = preloader

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            self.returncode = self._preloader.returncode(self.pid, timeout=0)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        if self.returncode is None:
            self.returncode = self._preloader.returncode(self.pid, timeout=timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(f"preloaded child {self.pid}", timeout)
        return self.returncode


class _Preloader:
    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket = ours
        started = queue.Queue()
        # Started from a thread that lives as long as the kernel: Linux sends the preloader its
        # death signal when the *thread* that started it ends.
        threading.Thread(target=self._own, args=(theirs, started), daemon=True,
                         name="booktools-preloader").start()
        self._process = started.get(timeout=30)
        theirs.close()
        self._pids: queue.Queue = queue.Queue()
        self._exits: dict[int, int] = {}
        self._exited = threading.Condition()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True, name="booktools-preloader-reader").start()
        if self._pids.get(timeout=60) != (None, "ready"):
            raise RuntimeError("the preloader did not start")
        self._requests = 0

    def _own(self, theirs: socket.socket, started: queue.Queue) -> None:
        from .processes import _command  # the launcher that makes it die with this kernel

        process = subprocess.Popen(
            _command([__file__, "--serve", str(theirs.fileno())]),
            pass_fds=(theirs.fileno(),), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        started.put(process)
        threading.Event().wait()  # keep this thread alive for as long as the kernel

    def _read(self) -> None:
        while True:
            try:
                message = self._socket.recv(65536)
            except OSError:
                message = b""
            if not message:  # the preloader is gone: so are its children
                with self._exited:
                    self._dead = True
                    self._exited.notify_all()
                self._pids.put((None, None))
                return
            event = json.loads(message)
            with self._exited:
                if "exited" in event:
                    self._exits[event["exited"]] = event["returncode"]
                    self._exited.notify_all()
                elif "pid" in event:  # a new child: an exit recorded for its pid is a stale one's
                    self._exits.pop(event["pid"], None)
            if "exited" not in event:
                self._pids.put((event.get("request"), event.get("pid", "ready")))

    _dead = False

    @property
    def alive(self) -> bool:
        return not self._dead and self._process.poll() is None

    def start(self, args: list[str], cwd, env: dict[str, str]) -> PreloadedProcess:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            with self._lock:
                self._requests += 1
                request = {"request": self._requests, "args": [str(a) for a in args],
                           "cwd": str(cwd or os.getcwd()), "env": env}
                socket.send_fds(self._socket, [json.dumps(request).encode()],
                                [out_write, err_write])
                # Skip answers to earlier requests whose caller was interrupted while waiting.
                answer, pid = self._pids.get(timeout=30)
                while answer is not None and answer < self._requests:
                    answer, pid = self._pids.get(timeout=30)
        finally:
            os.close(out_write)
            os.close(err_write)
        if not isinstance(pid, int):
            os.close(out_read)
            os.close(err_read)
            raise RuntimeError("the preloader did not start the child")
        return PreloadedProcess(pid, open(out_read, encoding="utf-8", errors="replace"),
                                open(err_read, encoding="utf-8", errors="replace"), self)

    def returncode(self, pid: int, timeout: Optional[float]) -> Optional[int]:
        with self._exited:
            self._exited.wait_for(lambda: pid in self._exits or self._dead, timeout=timeout)
            if pid in self._exits:
                return self._exits[pid]
            return -signal.SIGKILL if self._dead else None


_preloader: Optional[_Preloader] = None
_preloader_lock = threading.Lock()


def start(args: list[str], cwd, env: dict[str, str]) -> PreloadedProcess:
    """Start `python *args` as a fork of this kernel's preloader (started on first use)."""
    global _preloader
    try:
        with _preloader_lock:
            if _preloader is None or not _preloader.alive:
                _preloader = _Preloader()
            preloader = _preloader
        return preloader.start(args, cwd, env)
    except queue.Empty:
        raise RuntimeError("the preloader did not answer") from None


# --- In the preloader -------------------------------------------------------------


def _serve(fd: int) -> None:
    channel = socket.socket(fileno=fd)
    for name in PRELOADED:
        __import__(name)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    channel.send(json.dumps({"ready": True}).encode())
    try:
        while True:
            ready, _, _ = select.select([channel, wake_read], [], [])
            if wake_read in ready:
                os.read(wake_read, 4096)
                _reap(channel, children)
            if channel in ready:
                message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
                if not message:
                    return  # the kernel is gone
                pid = os.fork()
                if pid == 0:
                    channel.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    _child(json.loads(message), fds)  # never returns
                for descriptor in fds:
                    os.close(descriptor)
                children.add(pid)
                request = json.loads(message).get("request")
                channel.send(json.dumps({"pid": pid, "request": request}).encode())
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _reap(channel: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        channel.send(json.dumps({"exited": pid,
                                 "returncode": os.waitstatus_to_exitcode(status)}).encode())


def _child(request: dict, fds: list[int]) -> None:
    """Become `python *args` in `cwd` with `env`, then exit as that interpreter would."""
    code = 1
    try:
        os.setsid()  # its own process group, which processes._kill kills whole
        _die_with_parent()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for descriptor in (null, *fds):
            os.close(descriptor)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        sys.stdin = open(0, closefd=False)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      line_buffering=not unbuffered, write_through=unbuffered)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", write_through=True)
        code = _run(request["args"])
    except BaseException:  # noqa: BLE001 (anything that escapes must not reach the loop)
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _run(args: list[str]) -> int:
    import atexit
    import runpy

    extra_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        sys.path[0:1] = [os.getcwd(), *extra_path]
        run = lambda: runpy.run_module(args[1], run_name="__main__", alter_sys=True)  # noqa: E731
    else:
        script = os.path.abspath(args[0])
        sys.argv = list(args)
        sys.path[0:1] = [os.path.dirname(script), *extra_path]
        run = lambda: runpy.run_path(script, run_name="__main__")  # noqa: E731
    try:
        run()
        code = 0
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException as error:  # noqa: BLE001: reported as Python reports it
        # (Python shows the exception's own traceback, whatever excepthook is given: trim it.)
        trimmed = _from_the_script(error.__traceback__)
        sys.excepthook(type(error), error.with_traceback(trimmed), trimmed)
        code = 1
    # What the interpreter does on its way out: wait for non-daemon threads, run atexit.
    threading._shutdown()  # noqa: SLF001
    atexit._run_exitfuncs()  # noqa: SLF001
    return code


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _from_the_script(tb):
    """The traceback without the frames of runpy and of this file, as `python script` shows."""
    here = os.path.basename(__file__)

    def machinery(filename: str) -> bool:
        return os.path.basename(filename) in (here, "runpy.py") or filename == "<frozen runpy>"

    while tb is not None and machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    sys.path[0] = sys.prefix  # not this file's folder (each child sets its own sys.path[0])
    _serve(int(sys.argv[2]))
