"""Threading HTTP servers on 127.0.0.1 that stop at once, and the start, stop and URL that the
stack's own small servers (the edge, the Lambda Invoke API) share."""

import contextlib
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.loopback import HOST


class PromptShutdownServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer whose shutdown() returns at once.

    socketserver's loop checks for shutdown every poll_interval (0.5 s), so every stop waited
    up to that long (the edge and the Invoke API added 0.3-0.5 s each to the stack's stop); this
    one sleeps on the listening socket and a socketpair, and shutdown() wakes it. Serves one
    serve_forever()..shutdown() run.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = threading.Event()
        self._stopped = threading.Event()

    def serve_forever(self, poll_interval: float = 0.5) -> None:  # poll_interval: nothing polls
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stopping.is_set():
                    ready = selector.select()
                    if self._stopping.is_set():
                        break
                    if any(key.fileobj is self for key, _ in ready):
                        # socketserver's own accept-and-dispatch step; typeshed leaves it out.
                        self._handle_request_noblock()  # type: ignore[attr-defined]
                    self.service_actions()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serve_forever() (running in another thread) and wait until it has returned."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()


class LoopbackHTTPServer(PromptShutdownServer):
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
