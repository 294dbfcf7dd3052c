"""The parent's handle on one sandbox worker process.

A worker is a fresh interpreter (`python -m arenax.search.worker`) in its own
session and process group, talking over two pipes. Its stderr goes to an
unnamed temporary file whose tail explains crashes. `kill()` SIGKILLs the whole
process group and reaps it, so no zombie is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from typing import Any

from arenax.search.worker_protocol import receive, send

STDERR_TAIL_BYTES = 4000


class WorkerProcess:
    """One worker: start it, talk to it, watch it, kill it.

    Attributes:
        index: the worker's slot in the sandbox.
        ready: it has finished starting (sent "ready").
        info: the "ready" message (pid, network isolation, startup_s).
        task: the job it is running, or None when idle.
        phase: the phase of the current job, and `phase_started` its start (monotonic s).
        started: monotonic time the process was started.
    """

    def __init__(self, index: int, config: dict[str, Any], platform: str | None) -> None:
        self.index = index
        self.ready = False
        self.info: dict[str, Any] = {}
        self.task: Any = None
        self.phase = ""
        self.phase_started = 0.0
        self.peak_rss_mb = 0.0
        # Open for the worker's whole life; `close_files` releases it.
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        env = dict(os.environ)
        # The worker imports whatever the parent can (e.g. a scorer given by dotted path).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        if platform:
            env["JAX_PLATFORMS"] = platform
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "arenax.search.worker",
                    str(to_worker_r),
                    str(from_worker_w),
                ],
                pass_fds=(to_worker_r, from_worker_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                start_new_session=True,
                env=env,
            )
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        self.started = time.monotonic()
        self.inbox = Connection(from_worker_r, writable=False)
        self.outbox = Connection(to_worker_w, readable=False)
        send(self.outbox, config)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> None:
        """Send a message; OSError (e.g. BrokenPipeError) if the worker is gone."""
        send(self.outbox, message)

    def receive(self) -> dict[str, Any]:
        """Receive a message; EOFError/OSError/ValueError if the worker is gone or misbehaves."""
        return receive(self.inbox)

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.phase_started = time.monotonic()

    def rss_mb(self) -> float | None:
        """Resident memory in MiB (None if the process is gone); tracks the peak."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024.0
                        self.peak_rss_mb = max(self.peak_rss_mb, rss)
                        return rss
        except (OSError, ValueError):
            return None
        return None

    def stderr_tail(self, limit: int = STDERR_TAIL_BYTES) -> str:
        """The last `limit` bytes the worker wrote to stderr."""
        try:
            size = self.stderr.seek(0, os.SEEK_END)
            self.stderr.seek(max(size - limit, 0))
            return self.stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def exit_text(self) -> str:
        """How the process ended, e.g. "killed by SIGSEGV" or "exited with status 3"."""
        code = self.process.poll()
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"

    def stop(self, timeout: float = 5.0) -> None:
        """Ask a ready worker to exit, wait up to `timeout` s, then kill it."""
        if self.alive and self.ready:
            try:
                self.send({"op": "stop"})
                self.process.wait(timeout)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL the worker's process group, reap it and release its pipes and files."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL does not fail
            self.process.wait(30)
        for conn in (self.inbox, self.outbox):
            with contextlib.suppress(OSError):
                conn.close()

    def close_files(self) -> None:
        """Release the stderr file (after `kill`)."""
        with contextlib.suppress(OSError):
            self.stderr.close()
