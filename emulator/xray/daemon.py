"""The X-Ray daemon's UDP intake: header line + one segment document per datagram.

A datagram whose body starts with `T1S` / `T1U` is ADOT's OpenTelemetry exporter's instead: an
OTLP batch of spans, converted to segment documents by emulator.xray.otlp on the writer thread
and stored like the rest (`T1U`, not sampled, is only counted).

The receive loop only copies datagrams into a queue, so a burst from many functions is
absorbed by the socket buffer and the queue rather than dropped; a writer thread parses,
validates and batch-inserts. Bad datagrams are counted per kind and logged once per kind.

The writer groups documents into transactions: after the first datagram of a batch it waits
up to BATCH_WINDOW_SECONDS (or until BATCH_LIMIT) for more, so the 4-6 segments of one
request share one commit and a burst goes in big batches. A transaction costs far more than
a document in it (the commit, and the store's linking and bounds checks run once per call).

The traces' facts (the index GetTraceSummaries reads) are not computed in those transactions:
the store marks the traces written dirty, and the writer computes them when nothing has arrived
for INDEX_IDLE_SECONDS, or every INDEX_INTERVAL_SECONDS under load, so a trace whose documents
came in several batches is computed once. A query computes whatever is still dirty first.
With index_process, a process of its own computes them instead (emulator/xray/indexer.py), so
the writer only parses and stores, and the two use two cores rather than sharing one GIL.

Any datagram costs at most itself: a document that cannot be parsed, validated or stored is
rejected alone, the writer thread outlives every failure, and the queue is bounded in bytes
as well as in datagrams, so a sender the store cannot keep up with only loses its own excess.
"""

import contextlib
import json
import logging
import queue
import socket
import threading
import time
import uuid
from collections import Counter

from emulator.xray.documents import DocumentFacts, InvalidDocument, InvalidJson, parse_document
from emulator.xray.indexer import IndexerProcess
from emulator.xray.otlp import datagram as otlp_datagram
from emulator.xray.otlp.decode import InvalidOtlp
from emulator.xray.otlp.intake import convert
from emulator.xray.store import TraceStore

logger = logging.getLogger(__name__)

# 64 KiB documents plus the header: the largest datagram a sender may use.
MAX_DATAGRAM = 65536
# Asked of the kernel; Linux caps it at net.core.rmem_max (the grant is logged when smaller).
RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024
# Bounded so a flood cannot exhaust memory; beyond it datagrams are dropped and counted.
QUEUE_LIMIT = 200_000
# The same bound in bytes: 200,000 datagrams of 64 KiB would be 12 GiB. 64 MiB holds about
# 30 seconds of the busiest local stack's segments, far more than a burst needs.
QUEUE_BYTES_LIMIT = 64 * 1024 * 1024
# One transaction per batch: many documents per commit is what keeps up with bursts.
BATCH_LIMIT = 2000
# How long the writer waits, after a batch's first datagram, for more to join it. A request
# sends its segments over its own few milliseconds (the SDK's as they close, Lambda's and the
# stage's at the end), so 5 ms gathers a request's segments, often several requests', into one
# transaction. It bounds how late a lone segment is stored (invisible to anyone reading
# traces) and costs no throughput: under load the queue is never empty and batches fill at
# once. wait_idle() and stop() close the batch at once, so they never wait for it.
BATCH_WINDOW_SECONDS = 0.005
# The writer computes the dirty traces' facts after this long without a datagram. A request's
# segments arrive over its own duration (the SDK's during the invocation, Lambda's and the
# stage's at its end), so waiting a little past the last one lets one computation cover them all.
INDEX_IDLE_SECONDS = 0.1
# Under load the queue is never idle: the facts are computed at most this long after the
# previous computation, so they cover many batches each and never fall far behind. Each is one
# transaction over all the traces written since; half a second keeps that to a few thousand
# traces at the daemon's sustained rate. (Queries never wait for it: they compute what is dirty.)
INDEX_INTERVAL_SECONDS = 0.5

# internal_error: the daemon's own code failed on a datagram (a bug; logged with its traceback).
# bad_otlp: an OTLP datagram (T1S...) whose base64 or protobuf is broken; its spans that cannot
# become documents count as invalid_document, one each.
REJECT_KINDS = (
    "bad_header", "bad_json", "bad_otlp", "invalid_document", "queue_full", "store_error", "internal_error"
)  # fmt: skip
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
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's stack
        raise ValueError(f"header is not JSON: {header[:60]!r}") from None
    if not isinstance(parsed, dict) or parsed.get("format") != "json" or parsed.get("version") != 1:
        raise ValueError(f'header must be {{"format":"json","version":1}}, got {header[:60]!r}')
    return body


class Daemon:
    """Listens on a UDP socket bound to 127.0.0.1 and feeds documents to a TraceStore."""

    def __init__(
        self,
        store: TraceStore,
        host: str = "127.0.0.1",
        port: int = 2000,
        *,
        queue_bytes_limit: int = QUEUE_BYTES_LIMIT,
        batch_window: float = BATCH_WINDOW_SECONDS,
        index_process: bool = False,
    ) -> None:
        """batch_window: seconds to wait for more datagrams after a batch's first (0: take only
        what is already queued, one transaction per datagram when they arrive one at a time).
        index_process: compute the traces' facts in a child process (indexer.py) while running,
        not on the writer's thread (which still computes what is left when it stops)."""
        if batch_window < 0:
            raise ValueError(f"batch_window must not be negative, got {batch_window}")
        self._store = store
        self._queue_bytes_limit = queue_bytes_limit
        self._batch_window = batch_window
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
        self._batches = 0
        self._indexed = 0
        self._last_index = time.monotonic()
        self._rejected: Counter[str] = Counter()
        # OTLP datagrams marked unsampled (T1U): received and, as in AWS, not stored.
        self._unsampled = 0
        # Bytes of datagrams queued and not yet written (under _lock).
        self._queued_bytes = 0
        self._receiver = threading.Thread(target=self._receive_loop, name="xray-daemon-udp", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="xray-daemon-writer", daemon=True)
        self._running = False
        self._indexer = IndexerProcess(store.path) if index_process else None

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
    def batches(self) -> int:
        """Batches handed to the store since start: one transaction each (a batch the database
        refuses is retried one document at a time)."""
        with self._lock:
            return self._batches

    @property
    def indexed(self) -> int:
        """Traces whose facts the writer computed since start (queries compute the rest)."""
        with self._lock:
            return self._indexed

    @property
    def unsampled(self) -> int:
        """OTLP datagrams marked not sampled (T1U), dropped as AWS drops them."""
        with self._lock:
            return self._unsampled

    @property
    def rejected(self) -> dict[str, int]:
        """Datagrams not stored, by kind (REJECT_KINDS)."""
        with self._lock:
            return dict(self._rejected)

    def start(self) -> None:
        self._running = True
        if self._indexer is not None:
            self._indexer.start()
        self._writer.start()
        self._receiver.start()

    def stop(self) -> None:
        """Stop receiving, store what was queued, release the socket."""
        if not self._running:
            self._socket.close()
            if self._indexer is not None:
                self._indexer.stop()
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
        if self._indexer is not None:
            self._indexer.stop()

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

    @property
    def queued_bytes(self) -> int:
        """Bytes received and not yet written: what the queue holds."""
        with self._lock:
            return self._queued_bytes

    def _receive_loop(self) -> None:
        recv = self._socket.recvfrom
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
            self._enqueue(item)

    def _enqueue(self, item: bytes | threading.Event) -> None:
        size = len(item) if isinstance(item, bytes) else 0
        with self._lock:
            full = self._queued_bytes + size > self._queue_bytes_limit
            if not full:
                self._queued_bytes += size
        if not full:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                with self._lock:
                    self._queued_bytes -= size
        self._reject("queue_full", "the write queue is full (the store cannot keep up)")

    def _write_loop(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._write(batch)
            except Exception as error:  # the writer is the only consumer: it must outlive any bug
                count = sum(isinstance(item, bytes) for item in batch)
                self._reject("internal_error", repr(error), count=count, with_traceback=True)
            finally:
                self._finish(batch)
            if None in batch:
                self._refresh_index(final=True)  # the file is left with its index up to date
                return
            if time.monotonic() - self._last_index >= INDEX_INTERVAL_SECONDS:
                self._refresh_index()

    def _refresh_index(self, *, final: bool = False) -> None:
        """Compute the dirty traces' facts, unless the indexer process does (but when stopping:
        the file is left with its index up to date, whatever the indexer had not reached)."""
        if self._indexer is not None and not final:
            return
        self._last_index = time.monotonic()
        try:
            count = self._store.refresh_index()
        except Exception:  # the writer must outlive it; the traces stay dirty for the next try
            logger.exception("X-Ray daemon could not compute the traces' facts; a query will retry")
            return
        with self._lock:
            self._indexed += count

    def _next_batch(self) -> list[bytes | threading.Event | None]:
        """Block for a first item, then gather more for up to the batch window.

        A wait_idle() marker or stop()'s None ends the batch: someone is waiting for it.
        """
        try:
            first = self._queue.get(timeout=INDEX_IDLE_SECONDS)
        except queue.Empty:
            self._refresh_index()  # idle: nothing is waiting for the writer
            first = self._queue.get()
        batch = [first]
        deadline = time.monotonic() + self._batch_window
        while len(batch) < BATCH_LIMIT and isinstance(batch[-1], bytes):
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            batch.append(item)
        return batch

    def _write(self, batch: list[bytes | threading.Event | None]) -> None:
        # One datagram holds one X-Ray SDK document, or an OTLP batch of any number of spans.
        documents = [document for item in batch if isinstance(item, bytes) for document in self._parse(item)]
        if not documents:
            return
        with self._lock:
            self._batches += 1
        stored, failures = self._store.insert_salvaging(documents)
        with self._lock:
            self._accepted += stored
        for document, error in failures:
            self._reject("store_error", f"{document.trace_id}/{document.id}: {error!r}")

    def _finish(self, batch: list[bytes | threading.Event | None]) -> None:
        """Release the batch's bytes, wake wait_idle() callers whose marker it held."""
        size = sum(len(item) for item in batch if isinstance(item, bytes))
        with self._lock:
            self._queued_bytes -= size
        for item in batch:
            if isinstance(item, threading.Event):
                item.set()
            self._queue.task_done()

    def _parse(self, datagram: bytes) -> list[DocumentFacts]:
        """The datagram's documents, none after counting why they were rejected."""
        try:
            body = split_datagram(datagram)
        except ValueError as error:
            self._reject("bad_header", str(error))
            return []
        except Exception as error:  # a bug must cost this datagram only, not the writer thread
            self._reject("internal_error", repr(error), with_traceback=True)
            return []
        try:
            if otlp_datagram.is_otlp(body):
                return self._parse_otlp(body)
            return [parse_document(body)]
        except InvalidJson as error:
            self._reject("bad_json", str(error))
        except InvalidDocument as error:
            self._reject("invalid_document", str(error))
        except InvalidOtlp as error:
            self._reject("bad_otlp", str(error))
        except Exception as error:  # a bug must cost this datagram only, not the writer thread
            self._reject("internal_error", repr(error), with_traceback=True)
        return []

    def _parse_otlp(self, body: bytes) -> list[DocumentFacts]:
        """ADOT's `T1S`/`T1U` datagram (emulator.xray.otlp): its sampled spans as documents."""
        datagram = otlp_datagram.read(body)
        if datagram.request is None:
            with self._lock:
                self._unsampled += 1
            return []
        converted = convert(datagram.request)
        for reason in converted.rejected:
            self._reject("invalid_document", reason)
        return converted.documents

    def _reject(self, kind: str, reason: str, count: int = 1, *, with_traceback: bool = False) -> None:
        """Count `count` datagrams dropped for `kind`; log the first of each kind only.

        with_traceback (called from an except block): the log line carries the traceback.
        """
        with self._lock:
            first = self._rejected[kind] == 0
            self._rejected[kind] += count
        if first:
            # Once per kind: a misbehaving sender must not flood the log.
            logger.warning(
                "X-Ray daemon dropped a datagram (%s): %s; further ones are only counted",
                kind,
                reason,
                exc_info=with_traceback,
            )
