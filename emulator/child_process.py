"""A service of the stack in a process of its own (moto, the X-Ray server): started, watched,
restarted when it dies, stopped.

    python -m <module> [args]   prints `ready <fields...>` on stdout once it serves

The protocol is one line, so a child needs nothing from the parent but its arguments and
the lifeline (lifeline.py): no multiprocessing Event, whose lock a dying child can leave
held. The child runs in a session of its own: a signal to the terminal's process group
(Ctrl-C, `kill -- -PGID`, a closed terminal) reaches only the stack, which stops its
children in its own order. A child that dies while the stack runs is reported in one line
and started again on the same port.
"""

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from emulator import lifeline

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0
# A child that keeps dying is not restarted for ever: after this many failed restarts in a
# row the stack says so and leaves the service down.
MAX_RESTARTS_IN_A_ROW = 5
# Between tries to start a child again.
RESTART_PAUSES_SECONDS = (0.2, 0.5, 1.0, 0.0)
# A child that lived this long before dying counts as a fresh failure, not one in a row.
HEALTHY_SECONDS = 10.0
_AWS_PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class ChildStartError(Exception):
    """The child did not start; the message is one line."""


def describe_exit(returncode: int) -> str:
    """`SIGKILL`, `exit status 1`: the words `kill -l` and a shell use."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-returncode).name
        return f"signal {-returncode}"
    return f"exit status {returncode}"


class ChildProcess:
    """`start()` returns once the child printed its ready line; `ready_fields` holds the rest
    of that line. `arguments()` is asked again on every (re)start, so a restart can reuse the
    port the first start picked."""

    def __init__(
        self,
        name: str,
        module: str,
        arguments: Callable[[], Sequence[str]],
        *,
        log: Callable[[str], None] | None = None,
        on_restart: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.name = name
        self.module = module
        self._arguments = arguments
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._on_restart = on_restart
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self.ready_fields: list[str] = []
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    def start(self) -> list[str]:
        with self._lock:
            self._stopping = False
            process = self._spawn()
        self._watch(process)
        return self.ready_fields

    def _spawn(self) -> "subprocess.Popen[bytes]":
        command = [sys.executable, "-m", self.module, *self._arguments()]
        # The child imports this package by name, from wherever the stack was started.
        python_path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
        # The children never call AWS, and moto fails every request when the user's profile
        # does not exist (botocore reads it whenever a session is made).
        inherited = {name: value for name, value in os.environ.items() if name not in _AWS_PROFILE_VARIABLES}
        env, pass_fds = lifeline.child_options({**inherited, "PYTHONPATH": python_path})
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=pass_fds,
            start_new_session=True,
        )
        assert process.stdout is not None and process.stderr is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
        line = process.stdout.readline().decode(errors="replace") if ready else ""
        if not line.startswith("ready"):
            process.kill()
            process.wait()
            problem = process.stderr.read().decode(errors="replace").strip().splitlines()
            _close_pipes(process)
            reason = problem[-1] if problem else f"no answer within {START_TIMEOUT_SECONDS:.0f} s"
            raise ChildStartError(f"{self.name} did not start: {reason}")
        self.ready_fields = line.split()[1:]
        self._process = process
        # Whatever the child writes from now on (a warning, a traceback) goes where the stack's
        # own output goes; a pipe nobody read would fill up and block the child.
        for stream in (process.stdout, process.stderr):
            threading.Thread(
                target=_copy_lines, args=(stream, self.name), name=f"{self.name}-output", daemon=True
            ).start()
        return process

    def _watch(self, process: "subprocess.Popen[bytes]") -> None:
        started = time.monotonic()

        def wait_for_exit() -> None:
            returncode = process.wait()
            self._exited(process, returncode, time.monotonic() - started)

        threading.Thread(target=wait_for_exit, name=f"{self.name}-watch", daemon=True).start()

    def _exited(self, process: "subprocess.Popen[bytes]", returncode: int, lived: float) -> None:
        with self._lock:
            if self._stopping or process is not self._process:
                return
            self._process = None
            if lived >= HEALTHY_SECONDS:
                self.restarts = 0
            if self.restarts >= MAX_RESTARTS_IN_A_ROW:
                self._log(
                    f"{self.name} exited ({describe_exit(returncode)}) after {self.restarts} restarts "
                    "in a row; not restarting it: stop the stack and look at the lines above"
                )
                return
            self.restarts += 1
            self._log(f"{self.name} exited ({describe_exit(returncode)}); restarting it")
            new_process = self._respawn()
            if new_process is None:
                return
        self._log(f"{self.name} restarted (pid {new_process.pid})")
        if self._on_restart is not None:
            self._on_restart(self.ready_fields)
        self._watch(new_process)

    def _respawn(self) -> "subprocess.Popen[bytes] | None":
        """Start the child again on its port; the port may be briefly taken (another process
        handed it as a free port the moment it was released), so a few tries."""
        for pause in RESTART_PAUSES_SECONDS:
            try:
                return self._spawn()
            except (ChildStartError, OSError) as error:
                problem = error
            time.sleep(pause)
        self._log(f"{self.name} could not be restarted: {problem}")
        return None

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # The output threads close the pipes at end-of-file, once the last line is copied.


def _close_pipes(process: "subprocess.Popen[bytes]") -> None:
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _copy_lines(stream: IO[bytes], name: str) -> None:
    with stream, contextlib.suppress(ValueError, OSError):
        for line in stream:
            sys.stderr.write(f"[{name}] {line.decode(errors='replace')}")


def serve_until_stopped(stop: threading.Event) -> None:
    """In a child: SIGTERM or the stack's end sets `stop`; Ctrl-C is the stack's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lifeline.watch_parent(stop.set)
