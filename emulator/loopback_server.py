"""A threading HTTP server on 127.0.0.1 that serves from a thread of its own: the start, stop and
URL that the stack's own small servers (the edge, the Lambda Invoke API) share."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from emulator.loopback import HOST


class LoopbackHTTPServer(ThreadingHTTPServer):
    """Binds HOST at `port` (0: a free port); start() serves, stop() waits for the serving thread
    and closes the socket."""

    daemon_threads = True
    allow_reuse_address = True
    thread_name = "loopback-server"  # each server names its thread, for stack dumps

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((HOST, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()
