"""The baseline: a bare loopback HTTP server answering the tutorial's JSON, nothing else.

It uses the same server class family as the gateway (threaded, HTTP/1.1 keep-alive,
TCP_NODELAY), so the difference to the stack is what the stack itself adds.

It runs in a process of its own, as the stack does, so that it never shares a GIL with the
load client: `python -m bench.baseline_server` prints `ready <url>` on stdout once it
answers, and stops on SIGTERM, SIGINT or when its stdin closes (the bench has gone).
"""

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HELLO_BODY = json.dumps({"message": "hello world"}).encode()
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 30.0
READY_PREFIX = "ready "


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(HELLO_BODY)))
        self.end_headers()
        self.wfile.write(HELLO_BODY)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> None:
    """Child process: serve on a free port until signalled or until stdin reaches EOF."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"{READY_PREFIX}http://127.0.0.1:{server.server_address[1]}", flush=True)
    stdin = sys.stdin.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(stdin, selectors.EVENT_READ)
        while not stopping.is_set():
            if selector.select(0.5) and not os.read(stdin, 4096):
                break  # EOF: the bench has gone
    server.shutdown()
    server.server_close()


class BaselineServer:
    """`python -m bench.baseline_server` in a child process; `url` once it is ready."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> "BaselineServer":
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline_server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if not selector.select(START_TIMEOUT_SECONDS):
                self.__exit__()
                raise RuntimeError(f"the baseline server did not start within {START_TIMEOUT_SECONDS:.0f} s")
        line = self._process.stdout.readline()
        if not line.startswith(READY_PREFIX):
            self.__exit__()
            raise RuntimeError(f"the baseline server did not start: {line!r}")
        self.url = line[len(READY_PREFIX) :].strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        self._process = None


if __name__ == "__main__":
    serve()
