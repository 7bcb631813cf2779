"""Starts the local stack exactly as a user does (`make run`) on free ports, and stops it.

Everything the stack writes (traces, table items, endpoints.json, its log) goes to a temp
directory, never into the user's build/.
"""

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    """A port free for both TCP and UDP (the X-Ray daemon and API share one number)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


class LocalStack:
    """`make run` in a child process; `startup_seconds` is the time to the first answer."""

    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        # More `make run` options, e.g. ("--parameter-overrides", "Instrumentation=opentelemetry").
        self.extra_args = tuple(extra_args)
        self.port = free_port()
        self.dynamodb_port = free_port()
        self.xray_port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="sam-app-bench-")
        self.log_path = Path(self._tmp.name) / "stack.log"
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def xray_api_url(self) -> str:
        return f"http://127.0.0.1:{self.xray_port}"

    @property
    def daemon_address(self) -> tuple[str, int]:
        return "127.0.0.1", self.xray_port

    def __enter__(self) -> "LocalStack":
        tmp = Path(self._tmp.name)
        options = {
            "--port": self.port,
            "--dynamodb-port": self.dynamodb_port,
            "--xray-port": self.xray_port,
            "--lambda-port": 0,  # not measured here: any free port, so stacks side by side never collide
            "--endpoint-port": 0,  # likewise
            "--xray-db": tmp / "traces.db",
            "--data-dir": tmp / "dynamodb",
            "--endpoints-file": tmp / "endpoints.json",
        }
        args = shlex.join([*(f"{name}={value}" for name, value in options.items()), *self.extra_args])
        started = time.perf_counter()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                ["make", "--no-print-directory", "run", f"ARGS={args}"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "NO_COLOR": "1"},
            )
        try:
            self._wait_until_answering(started)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_answering(self, started: float) -> None:
        deadline = started + START_TIMEOUT_SECONDS
        while time.perf_counter() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"`make run` exited early; see {self.log_path}:\n{self.log_path.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/hello", timeout=5) as response:
                    if response.status == 200:
                        self.startup_seconds = time.perf_counter() - started
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise RuntimeError(f"the stack did not answer within {START_TIMEOUT_SECONDS:.0f} s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            # The whole process group: make, python -m emulator and its workers.
            os.killpg(self._process.pid, signal.SIGINT)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._tmp.cleanup()
