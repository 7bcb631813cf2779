"""Shared by the local stack's HTTP tests: the stack on free ports (emulator.stack), and HTTP."""

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emulator.apigateway.gateway import Gateway
from emulator.app.model import AppSpec
from emulator.lambda_.event_sources.schedules import Clock
from emulator.stack import Stack, StackConfig
from emulator.tracing.segment_sender import DAEMON_HEADER

HTTP_TIMEOUT = 20.0


class SegmentCollector:
    """A UDP socket standing in for the X-Ray daemon: keeps every document it receives."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._socket.recv(70000)
            except TimeoutError:
                continue
            except OSError:
                return
            if data.startswith(DAEMON_HEADER):
                with self._lock:
                    self.documents.append(json.loads(data[len(DAEMON_HEADER) :]))

    def for_trace(self, trace_id: str, *, origin: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [
                    d for d in self.documents if d.get("trace_id") == trace_id and d.get("origin") == origin
                ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


@dataclass
class RunningStack:
    stack: Stack
    collector: SegmentCollector
    logs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def app(self) -> AppSpec:
        assert self.stack.app is not None
        return self.stack.app

    @property
    def gateway(self) -> Gateway:
        assert self.stack.gateway is not None
        return self.stack.gateway

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def dynamodb_endpoint(self) -> str:
        return self.stack.dynamodb_endpoint


@contextmanager
def running_stack(
    template: Path,
    runtime_dir: Path,
    daemon_address: str | None = None,
    parameter_overrides: dict[str, str] | None = None,
    schedule_clock: Clock | None = None,
) -> Iterator[RunningStack]:
    """The whole local stack from a built template, wired by emulator.stack as
    `python -m emulator` wires it, on free ports, with nothing kept on disk.

    Segments go to `daemon_address` (a real local X-Ray) when given, else to a collector the
    test reads (the stack's option for an X-Ray daemon it did not start). `parameter_overrides`
    are the template's parameter values, as `--parameter-overrides` gives them; `schedule_clock`
    the time the rules and schedules run on (the system's when None).
    """
    collector = SegmentCollector()
    logs: list[tuple[str, str]] = []
    config = StackConfig(
        built_template=template,
        runtime_dir=runtime_dir,
        xray_daemon_address=daemon_address or collector.address,
        parameter_overrides=dict(parameter_overrides or {}),
        log=lambda name, line: logs.append((name, line)),
        schedule_clock=schedule_clock,
    )
    try:
        with Stack(config) as stack:
            yield RunningStack(stack, collector, logs)
    finally:
        collector.close()


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def required_header(self, name: str) -> str:
        """The header's value; AssertionError naming the headers there are if it is missing."""
        value = self.header(name)
        if value is None:
            raise AssertionError(f"no {name} header in the response; its headers: {self.headers}")
        return value

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Response:
    parts = urlsplit(url)
    own = connection is None
    if connection is not None:
        conn = connection
    elif parts.hostname is None:
        raise ValueError(f"no host name in {url!r}")
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        answer = conn.getresponse()
        return Response(answer.status, answer.getheaders(), answer.read())
    finally:
        if own:
            conn.close()


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """The first truthy value `check` returns, asked every `interval` s; an AssertionError when
    none comes within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s"
        time.sleep(interval)
