"""The X-Ray daemon's UDP intake: header line + one segment document per datagram.

The receive loop only copies datagrams into a queue, so a burst from many functions is
absorbed by the socket buffer and the queue rather than dropped; a writer thread parses,
validates and batch-inserts. Bad datagrams are counted per kind and logged once per kind.
"""

import contextlib
import json
import logging
import queue
import socket
import threading
import uuid
from collections import Counter

from emulator.xray.documents import DocumentFacts, InvalidDocument, InvalidJson, parse_document
from emulator.xray.store import TraceStore

logger = logging.getLogger(__name__)

# 64 KiB documents plus the header: the largest datagram a sender may use.
MAX_DATAGRAM = 65536
# Asked of the kernel; Linux caps it at net.core.rmem_max (the grant is logged when smaller).
RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024
# Bounded so a flood cannot exhaust memory; beyond it datagrams are dropped and counted.
QUEUE_LIMIT = 200_000
# One transaction per batch: many documents per fsync is what keeps up with bursts.
BATCH_LIMIT = 2000

REJECT_KINDS = ("bad_header", "bad_json", "invalid_document", "queue_full", "store_error")
# wait_idle() sends this to the daemon's own socket: the kernel queues datagrams in order, so
# once the writer reaches the marker, everything sent before it has been processed.
_MARKER = b"\x00local-xray-wait-idle\x00"


def split_datagram(datagram: bytes) -> bytes:
    """Return the document part of a daemon datagram; raise ValueError if the header is wrong."""
    header, newline, body = datagram.partition(b"\n")
    if not newline:
        raise ValueError('no header line: expected {"format":"json","version":1} and a newline')
    try:
        parsed = json.loads(header)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"header is not JSON: {header[:60]!r}") from None
    if not isinstance(parsed, dict) or parsed.get("format") != "json" or parsed.get("version") != 1:
        raise ValueError(f'header must be {{"format":"json","version":1}}, got {header[:60]!r}')
    return body


class Daemon:
    """Listens on a UDP socket bound to 127.0.0.1 and feeds documents to a TraceStore."""

    def __init__(self, store: TraceStore, host: str = "127.0.0.1", port: int = 2000) -> None:
        self._store = store
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        granted = self._socket.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if granted < RECEIVE_BUFFER_BYTES:
            logger.debug("UDP receive buffer is %d bytes (asked %d)", granted, RECEIVE_BUFFER_BYTES)
        # The receive loop wakes this often to notice stop(); recvfrom returns at once when
        # datagrams are waiting, so the timeout costs nothing under load.
        self._socket.settimeout(0.2)
        self._queue: queue.Queue[bytes | threading.Event | None] = queue.Queue(QUEUE_LIMIT)
        self._markers: dict[bytes, threading.Event] = {}
        self._lock = threading.Lock()
        self._accepted = 0
        self._rejected: Counter[str] = Counter()
        self._receiver = threading.Thread(target=self._receive_loop, name="xray-daemon-udp", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="xray-daemon-writer", daemon=True)
        self._running = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return host, port

    @property
    def accepted(self) -> int:
        """Documents stored (or replacing an in-progress one) since start."""
        with self._lock:
            return self._accepted

    @property
    def rejected(self) -> dict[str, int]:
        """Datagrams not stored, by kind: bad_header, bad_json, invalid_document, queue_full, store_error."""
        with self._lock:
            return dict(self._rejected)

    def start(self) -> None:
        self._running = True
        self._writer.start()
        self._receiver.start()

    def stop(self) -> None:
        """Stop receiving, store what was queued, release the socket."""
        if not self._running:
            self._socket.close()
            return
        self._running = False
        # Wake the receive loop now rather than at its next timeout: stop() is on the path
        # of every shutdown, and a test suite starts and stops many daemons.
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
            waker.sendto(b"", self.address)
        self._receiver.join(timeout=5)
        self._socket.close()
        self._queue.put(None)
        self._writer.join(timeout=30)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every datagram sent to the daemon before this call is processed.

        Returns False on timeout (or if the marker itself was lost to a full buffer).
        """
        token = _MARKER + uuid.uuid4().bytes
        done = threading.Event()
        with self._lock:
            self._markers[token] = done
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(token, self.address)
        finished = done.wait(timeout)
        with self._lock:
            self._markers.pop(token, None)
        return finished

    def _receive_loop(self) -> None:
        recv = self._socket.recvfrom
        put = self._queue.put_nowait
        while self._running:
            try:
                datagram, _ = recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if not self._running:
                    return
                continue
            if not self._running:
                return  # the datagram is stop()'s wake-up, or arrived after it
            item: bytes | threading.Event = datagram
            if datagram.startswith(_MARKER):
                with self._lock:
                    marker = self._markers.get(datagram)
                if marker is None:
                    continue
                item = marker
            try:
                put(item)
            except queue.Full:
                self._reject("queue_full", "the write queue is full (the store cannot keep up)")

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while len(batch) < BATCH_LIMIT:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            datagrams = [item for item in batch if isinstance(item, bytes)]
            documents = [doc for doc in map(self._parse, datagrams) if doc is not None]
            if documents:
                try:
                    stored = self._store.insert(documents)
                except Exception as error:  # a store failure must not kill the daemon
                    logger.exception("could not store %d documents", len(documents))
                    self._reject("store_error", str(error), count=len(documents))
                else:
                    with self._lock:
                        self._accepted += stored
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
                self._queue.task_done()
            if stop:
                return

    def _parse(self, datagram: bytes) -> DocumentFacts | None:
        try:
            body = split_datagram(datagram)
        except ValueError as error:
            self._reject("bad_header", str(error))
            return None
        try:
            return parse_document(body)
        except InvalidJson as error:
            self._reject("bad_json", str(error))
            return None
        except InvalidDocument as error:
            self._reject("invalid_document", str(error))
            return None

    def _reject(self, kind: str, reason: str, count: int = 1) -> None:
        with self._lock:
            first = self._rejected[kind] == 0
            self._rejected[kind] += count
        if first:
            # Once per kind: a misbehaving sender must not flood the log.
            logger.warning(
                "X-Ray daemon dropped a datagram (%s): %s; further ones are only counted", kind, reason
            )
