"""Latency and throughput of an HTTP endpoint over kept-alive loopback connections."""

import http.client
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: bytes | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class LatencyFigures:
    p50_ms: float
    p99_ms: float
    samples: int


def _send(connection: http.client.HTTPConnection, request: Request) -> int:
    headers = {"Content-Type": "application/json"} if request.body is not None else {}
    connection.request(request.method, request.path, body=request.body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def _connect(request: Request) -> http.client.HTTPConnection:
    host, port = request.host_port
    return http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)


def measure_latency(request: Request, *, count: int, warmup: int = 20) -> LatencyFigures:
    """Sequential requests on one kept-alive connection; the warm-up is not counted."""
    connection = _connect(request)
    try:
        for _ in range(warmup):
            _check(_send(connection, request), request)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            status = _send(connection, request)
            samples.append((time.perf_counter() - started) * 1000)
            _check(status, request)
    finally:
        connection.close()
    samples.sort()
    p99_index = min(len(samples) - 1, round(0.99 * (len(samples) - 1)))
    return LatencyFigures(statistics.median(samples), samples[p99_index], len(samples))


def measure_throughput(request: Request, *, clients: int, seconds: float) -> float:
    """Requests per second from `clients` threads, each on its own kept-alive connection."""
    completed = [0] * clients
    failures: list[str] = []
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = _connect(request)
        try:
            while time.perf_counter() < stop_at:
                status = _send(connection, request)
                if status != 200:
                    failures.append(f"{request.method} {request.url} -> {status}")
                    return
                completed[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"throughput run failed: {failures[0]}")
    return sum(completed) / elapsed


def _check(status: int, request: Request) -> None:
    if status != 200:
        raise RuntimeError(f"{request.method} {request.url} answered {status}, expected 200")
