"""At most N connections served at once by a threading socketserver; the next one is answered
on the accepting thread and closed, instead of getting a thread and a file descriptor.

Shared by the X-Ray API and moto's server; each says in its own protocol why it refuses.
"""

import contextlib
import socket
import threading
from typing import Any

# What is read of a refused client's request before answering: enough that closing does not
# reset the connection before the client reads the answer.
_DRAIN_BYTES = 65536


class ConnectionCap:
    """Mix in before socketserver.ThreadingMixIn; set `max_connections` before serving and
    define `refuse_connection`."""

    max_connections: int
    _slots: threading.BoundedSemaphore | None = None

    def refuse_connection(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def _connection_slots(self) -> threading.BoundedSemaphore:
        if self._slots is None:
            self._slots = threading.BoundedSemaphore(self.max_connections)
        return self._slots

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread of its own if a slot is free; else refuse it."""
        slots = self._connection_slots()
        if not slots.acquire(blocking=False):
            self.refuse_connection(request)
            self.shutdown_request(request)  # type: ignore[attr-defined]
            return
        try:
            super().process_request(request, client_address)  # type: ignore[misc]
        except BaseException:
            slots.release()  # the thread never started: its slot is free again
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[misc]
        finally:
            self._connection_slots().release()


def answer_and_close(connection: socket.socket, response: bytes) -> None:
    """Write a whole HTTP response to a connection that gets no thread. Non-blocking
    throughout: this runs on the accepting thread, which must never wait on a client."""
    with contextlib.suppress(OSError):
        connection.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            connection.recv(_DRAIN_BYTES)
        connection.send(response)
