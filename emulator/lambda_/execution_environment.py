"""One execution environment: a process running the real awslambdaric, its Runtime API
server, its log stream, and its end.

The process is started in a session of its own so that stopping it also stops anything the
function spawned (the whole process group), and one thread per worker waits on it so it is
reaped as soon as it exits (no zombie) and its in-flight invocation fails at once. It holds
the stack's lifeline (emulator/lifeline.py), so the group also dies when the stack is killed.
"""

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from emulator import lifeline
from emulator.app.model import FunctionSpec
from emulator.lambda_.environment_variables import lambda_environment, log_stream_name
from emulator.lambda_.runtime_api import RuntimeApiServer

# Where a worker's CloudWatch events go: (log group, log stream, message).
CloudWatchSink = Callable[[str, str, str], None]
# How long a worker gets to exit after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 0.5
# Lambda (CloudWatch Logs) splits a log event at 256 KB; output without a newline is emitted
# in lines of at most this size, rather than held until a newline that may never come.
MAX_LINE_BYTES = 256 * 1024


def describe_exit(returncode: int) -> str:
    """As Lambda (a Go program) words it: `exit status 137`, `signal: killed`."""
    if returncode < 0:
        try:
            name = signal.strsignal(-returncode) or f"signal {-returncode}"
        except ValueError:
            name = f"signal {-returncode}"
        return f"signal: {name.lower()}"
    return f"exit status {returncode}"


class OutputStream:
    """Turns a worker's stdout+stderr pipe into log lines.

    A thread reads whatever arrives; `drain()` lets the invoking thread take what is already
    in the pipe before it logs END, so a handler's own output is never logged after it.

    `emit` gets terminal lines; `record`, if given, gets each CloudWatch event: the same text,
    except that a report awslambdaric joined with \r (an error and its stack trace) stays one
    event, with its lines joined by \n, as Lambda's log capture keeps it.
    """

    def __init__(
        self, fd: int, emit: Callable[[str], None], record: Callable[[str], None] | None = None
    ) -> None:
        self._fd = fd
        self._emit = emit
        self._record = record
        self._lock = threading.Lock()
        # The current line's pieces, joined once when it ends: appending to one bytes object
        # per read would copy the whole line each time (quadratic in its length).
        self._pieces: list[bytes] = []
        self._pending = 0  # bytes in _pieces
        self._eof = False
        os.set_blocking(fd, False)
        self._thread = threading.Thread(target=self._run, name=f"worker-output-{fd}", daemon=True)
        self._thread.start()

    def drain(self) -> None:
        with self._lock:
            self._read_available()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            poller.poll()
            with self._lock:
                self._read_available()
                if self._eof:
                    os.close(self._fd)
                    return

    def _read_available(self) -> None:
        if self._eof:
            return
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not data:
                self._eof = True
                if self._pieces:
                    self._emit_line(self._take())
                return
            self._emit_lines(data)

    def _emit_lines(self, data: bytes) -> None:
        start = 0
        while (end := data.find(b"\n", start)) != -1:
            self._pieces.append(data[start:end])
            self._emit_line(self._take())
            start = end + 1
        if start < len(data):
            self._pieces.append(data[start:])
            self._pending += len(data) - start
            if self._pending > MAX_LINE_BYTES:
                rest = self._emit_line(self._take(), more_to_come=True)
                self._pieces, self._pending = [rest], len(rest)

    def _take(self) -> bytes:
        line = b"".join(self._pieces)
        self._pieces, self._pending = [], 0
        return line

    def _emit_line(self, line: bytes, *, more_to_come: bool = False) -> bytes:
        """Emit `line` in pieces of at most MAX_LINE_BYTES. When the line goes on, its last
        piece is kept back and returned, to be continued."""
        while len(line) > MAX_LINE_BYTES:
            cut = _utf8_boundary(line, MAX_LINE_BYTES)
            self._emit_text(line[:cut])
            line = line[cut:]
        if more_to_come:
            return line
        self._emit_text(line)
        return b""

    def _emit_text(self, line: bytes) -> None:
        # awslambdaric joins the lines of one error report with \r (one CloudWatch event);
        # a terminal wants them as lines.
        text = line.decode("utf-8", "replace").rstrip("\r")
        for part in text.split("\r"):
            self._emit(part)
        if self._record is not None:
            self._record(text.replace("\r", "\n"))


def _utf8_boundary(data: bytes, limit: int) -> int:
    """Where to cut `data`, at most `limit` bytes in, without splitting a UTF-8 character."""
    if len(data) <= limit:
        return len(data)
    cut = limit
    # data[cut] would begin the next piece: step back while it is a continuation byte
    # (10xxxxxx), at most 3 bytes, as a character is at most 4 long.
    while cut > limit - 3 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


class Worker:
    """A started execution environment for one function."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        runtime_dir: Path,
        base_env: dict[str, str],
        log: Callable[[str], None],
        cloudwatch: CloudWatchSink | None = None,
        opt_dir: Path | None = None,
    ) -> None:
        """`opt_dir`: the folder that stands for the function's /opt (its layers), if it has any."""
        self.spec = spec
        self.invocations_started = 0
        self._log = log
        # One log stream per execution environment, named as Lambda names it, and the one the
        # function sees in AWS_LAMBDA_LOG_STREAM_NAME (and context.log_stream_name).
        self.log_stream_name = log_stream_name()
        # Set before we signal it: an exit that we did not cause is logged as unexpected.
        self._signalled = False
        self.server = RuntimeApiServer()
        lambda_env = lambda_environment(
            spec,
            runtime_dir=runtime_dir,
            runtime_api=self.server.address,
            base_env=base_env,
            log_stream=self.log_stream_name,
            opt_dir=opt_dir,
        )
        env, lifeline_fds = lifeline.child_options(lambda_env)
        self.started_at = time.time()
        try:
            self.process = subprocess.Popen(
                # `python -S -m awslambdaric <handler>`, killed with its group when the stack dies.
                lifeline.python_module_command("awslambdaric", [spec.handler], ["-S"]),
                cwd=spec.code_dir,
                env=env,
                pass_fds=lifeline_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError:
            self.server.close()
            raise
        assert self.process.stdout is not None
        # The stream takes over the pipe's descriptor and closes it at EOF.
        record = None
        if cloudwatch is not None:
            group, stream = spec.log_group_name, self.log_stream_name

            def record(message: str) -> None:
                cloudwatch(group, stream, message)

        self.output = OutputStream(os.dup(self.process.stdout.fileno()), log, record)
        self.process.stdout.close()
        self._max_memory_mb = 0
        self._exited = threading.Event()
        self._waiter = threading.Thread(target=self._wait_for_exit, name=f"worker-{self.pid}", daemon=True)
        self._waiter.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def usable(self) -> bool:
        return not self._exited.is_set() and self.server.init_error_type is None and not self._has_ended()

    def _has_ended(self) -> bool:
        """Whether the process has exited, even if the waiter thread has not reaped it yet: a
        worker killed while idle must not be handed the next event in that moment. WNOWAIT
        only looks, so the waiter thread still reaps it and reports the exit."""
        try:
            ended = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True  # already reaped
        return ended is not None

    def max_memory_mb(self) -> int:
        """The process's resident memory high-water mark (what REPORT's Max Memory Used shows)."""
        try:
            with open(f"/proc/{self.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        kilobytes = int(line.split()[1])
                        self._max_memory_mb = max(self._max_memory_mb, -(-kilobytes // 1024))
                        break
        except (OSError, ValueError):
            pass  # gone: keep the last reading
        return self._max_memory_mb

    def kill(self) -> None:
        """Kill the whole process group now (timeouts: Lambda does not wait either)."""
        self._signal_group(signal.SIGKILL)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL after the grace period; returns once the process is reaped."""
        self.begin_stop()
        self.finish_stop(time.monotonic() + grace)

    def begin_stop(self) -> None:
        self._signal_group(signal.SIGTERM)

    def finish_stop(self, deadline: float) -> None:
        if not self._exited.wait(max(0.0, deadline - time.monotonic())):
            self._signal_group(signal.SIGKILL)
            self._exited.wait(5)
        # Whatever the function started and left behind in its group goes too.
        self._signal_group(signal.SIGKILL, even_after_exit=True)
        self._waiter.join(5)
        self.output.join(1)
        self.server.close()

    def _signal_group(self, signum: int, even_after_exit: bool = False) -> None:
        if self._exited.is_set() and not even_after_exit:
            return
        if not self._has_ended():
            self._signalled = True
        with contextlib.suppress(OSError):  # the group is already empty
            os.killpg(self.process.pid, signum)

    def _wait_for_exit(self) -> None:
        returncode = self.process.wait()
        # A runtime that reported its init error exits by itself, as it should; any other exit
        # we did not ask for is news (the pool starts a new worker for the next event).
        if not self._signalled and self.server.init_error_type is None:
            self._log(
                f"{self.spec.function_name}: worker pid {self.pid} exited unexpectedly "
                f"({describe_exit(returncode)}); the next invocation gets a new one"
            )
        self._exited.set()
        self.server.worker_exited(describe_exit(returncode))
