"""Shared by the local stack's HTTP tests: start the parts in-process on free ports, talk HTTP."""

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emulator.gateway import Gateway
from emulator.lambda_service import LambdaService
from emulator.model import AppSpec
from emulator.segment_sender import DAEMON_HEADER, SegmentSender
from emulator.services import FAKE_CREDENTIALS, Services
from emulator.template import load_app

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
    app: AppSpec
    gateway: Gateway
    services: Services
    collector: SegmentCollector
    logs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.gateway.url


@contextmanager
def running_stack(
    template: Path, runtime_dir: Path, daemon_address: str | None = None
) -> Iterator[RunningStack]:
    """The whole local stack from a built template, as `python -m emulator` runs it.

    Segments go to `daemon_address` (a real local X-Ray) when given, else to the collector.
    """
    app = load_app(template)
    collector = SegmentCollector()
    daemon_address = daemon_address or collector.address
    sender = SegmentSender(daemon_address)
    logs: list[tuple[str, str]] = []
    try:
        with Services(app.tables, region=app.region) as services:
            base_env = {
                "AWS_ENDPOINT_URL": services.endpoint_url,
                "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
                "AWS_XRAY_DAEMON_ADDRESS": daemon_address,
            }
            lambdas = LambdaService(
                app.functions,
                runtime_dir=runtime_dir,
                base_env=base_env,
                log=lambda name, line: logs.append((name, line)),
                segment_sender=sender,
            )
            with lambdas, Gateway(app, lambdas, port=0, segment_sender=sender) as gateway:
                yield RunningStack(app, gateway, services, collector, logs)
    finally:
        sender.close()
        collector.close()


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

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
    conn = connection or http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        answer = conn.getresponse()
        return Response(answer.status, answer.getheaders(), answer.read())
    finally:
        if own:
            conn.close()
