"""moto's WSGI app with the journal in front: a DynamoDB write is answered only once it is on
disk, and the tables come back after any crash.

Every DynamoDB request is applied by moto under one lock (moto's tables are plain Python
objects, not safe to change from two threads at once), so the order of the journal is the
order moto applied the writes and a replay rebuilds the same tables. The fsync happens after
the lock is released, shared by every writer waiting at that moment (journal.py).

Only successful writes are journaled: a request moto refused (a failed condition, a missing
table) changed nothing, so replaying it would change nothing either.
"""

import gc
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from werkzeug.wsgi import get_input_stream

from emulator.dynamodb import checkpoint
from emulator.dynamodb.journal import Journal, iter_payloads, journal_numbers

TARGET_PREFIX = "DynamoDB_20120810."
# The DynamoDB operations that change nothing. Everything else is journaled, so an operation
# moto learns later costs an fsync rather than a lost write.
READ_ONLY_OPERATIONS = frozenset(
    {
        "BatchGetItem", "DescribeBackup", "DescribeContinuousBackups", "DescribeContributorInsights",
        "DescribeEndpoints", "DescribeExport", "DescribeGlobalTable", "DescribeGlobalTableSettings",
        "DescribeImport", "DescribeKinesisStreamingDestination", "DescribeLimits", "DescribeTable",
        "DescribeTableReplicaAutoScaling", "DescribeTimeToLive", "GetItem", "GetResourcePolicy",
        "ListBackups", "ListContributorInsights", "ListExports", "ListGlobalTables", "ListImports",
        "ListTables", "ListTagsOfResource", "Query", "Scan", "TransactGetItems",
    }
)  # fmt: skip
# The request headers moto reads to apply a DynamoDB call: the account and region come from
# the credential scope, the operation from the target.
_REPLAYED_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_TARGET", "CONTENT_TYPE", "HTTP_HOST")
# A checkpoint every this many journaled writes (or bytes, for big items): at ~0.45 ms per
# replayed write, a start never replays more than about half a second's worth. A checkpoint
# costs the fork ~15 µs of CPU per item, off the request path.
CHECKPOINT_EVERY_WRITES = 1000
CHECKPOINT_EVERY_BYTES = 32 * 1024 * 1024

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Recovery:
    checkpoint: int  # the checkpoint loaded (0: none)
    replayed: int  # journaled writes applied on top of it
    refused: int  # of those, how many moto answered with an error this time
    torn_bytes: int  # an unacknowledged write cut short by a crash
    seconds: float

    def ready_fields(self) -> list[str]:
        return [str(self.checkpoint), str(self.replayed), str(self.refused), f"{self.seconds:.3f}"]


def is_dynamodb(environ: dict[str, Any]) -> bool:
    """A DynamoDB API call: always a POST to / with the operation in X-Amz-Target."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return target.startswith(TARGET_PREFIX) and environ.get("PATH_INFO", "/") in ("", "/")


def is_write(environ: dict[str, Any]) -> bool:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX) :] not in READ_ONLY_OPERATIONS


def encode_request(environ: dict[str, Any], body: bytes) -> bytes:
    headers = {name: environ[name] for name in _REPLAYED_HEADERS if name in environ}
    return json.dumps(headers, separators=(",", ":")).encode() + b"\n" + body


def decode_request(payload: bytes) -> tuple[dict[str, str], bytes]:
    headers, _, body = payload.partition(b"\n")
    return json.loads(headers), body


class DurableDynamoDB:
    """The WSGI app moto's server runs: moto, one request at a time, with the journal."""

    def __init__(
        self, app: WsgiApp, data_dir: Path | None, checkpoint_every: int = CHECKPOINT_EVERY_WRITES
    ) -> None:
        self._app = app
        self._checkpoint_every = checkpoint_every
        self.data_dir = data_dir
        self._apply_lock = threading.Lock()
        self._dynamodb_app: WsgiApp | None = None
        self._journal: Journal | None = None
        self._checkpoints = checkpoint.BackgroundCheckpoints(data_dir) if data_dir else None

    # -- start and stop ----------------------------------------------------------------

    def recover(self) -> Recovery:
        """Load the newest checkpoint, replay the journal after it, and open a new journal file."""
        started = time.monotonic()
        if self.data_dir is None:
            return Recovery(0, 0, 0, 0, 0.0)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The collector would walk the growing heap again and again while 100k items are
        # unpickled (half the load time); the tables live as long as the process, so once
        # loaded they are frozen out of every later collection too.
        gc.disable()
        try:
            loaded, replayed, refused, torn = self._load(self.data_dir)
        finally:
            gc.enable()
        gc.freeze()
        # Always a new file: one a crash cut short is never appended to.
        numbers = journal_numbers(self.data_dir)
        number = max([loaded, *(n + 1 for n in numbers), 1])
        self._journal = Journal(self.data_dir, number)
        if replayed and self._checkpoints is not None:
            self._checkpoints.start(number)
        return Recovery(loaded, replayed, refused, torn, time.monotonic() - started)

    def _load(self, data_dir: Path) -> tuple[int, int, int, int]:
        loaded = checkpoint.load_latest(data_dir)
        replayed = refused = torn = 0
        for _, read in iter_payloads(data_dir, loaded):
            for payload in read.records:
                headers, body = decode_request(payload)
                status, _ = self.apply(replay_environ(headers, body))
                replayed += 1
                refused += not status.startswith("2")
            torn += read.torn_bytes
        return loaded, replayed, refused, torn

    def close(self) -> None:
        """Nothing to save: the journal is fsynced and closed, a checkpoint being written given up."""
        with self._apply_lock:
            if self._journal is not None:
                self._journal.close()
        if self._checkpoints is not None:
            self._checkpoints.cancel()

    # -- serving -------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not is_dynamodb(environ):
            return self._app(environ, start_response)  # not DynamoDB: moto as it is
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        ticket = 0
        with self._apply_lock:
            status, (headers, chunks) = self.apply(environ)
            if self._journal is not None and status.startswith("2") and is_write(environ):
                ticket = self._journal_write(encode_request(environ, body))
        if ticket:
            self._make_durable(ticket)
        start_response(status, headers)
        return chunks

    def apply(self, environ: dict[str, Any]) -> tuple[str, tuple[list[tuple[str, str]], list[bytes]]]:
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        result = self._dynamodb(environ)(environ, capture)
        try:
            chunks = [bytes(chunk) for chunk in result]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answer["status"], (answer["headers"], chunks)

    def _dynamodb(self, environ: dict[str, Any]) -> WsgiApp:
        """moto's DynamoDB app, found once: moto's dispatcher looks the service up again on every
        request (about a third of a write's time in moto, and of a replay's)."""
        if self._dynamodb_app is None:
            get_application = getattr(self._app, "get_application", None)
            self._dynamodb_app = get_application(environ) if get_application is not None else self._app
        return self._dynamodb_app

    def _journal_write(self, payload: bytes) -> int:
        journal = self._journal
        assert journal is not None
        try:
            ticket = journal.append(payload)
        except OSError as error:
            _fail_stop(error)
        full = (
            journal.records_in_file >= self._checkpoint_every
            or journal.bytes_in_file >= CHECKPOINT_EVERY_BYTES
        )
        if full and self._checkpoints is not None and not self._checkpoints.busy:
            try:
                self._checkpoints.start(journal.rotate())
            except OSError as error:
                _fail_stop(error)
        return ticket

    def _make_durable(self, ticket: int) -> None:
        journal = self._journal
        assert journal is not None
        try:
            journal.wait_durable(ticket)
        except OSError as error:
            _fail_stop(error)


def _fail_stop(error: OSError) -> NoReturn:
    """A write that reached moto's memory but not the disk must not be answered, and must not
    be read by anyone either: the process ends, the stack restarts it from its files (which
    do not have the write), and the client's SDK retries."""
    print(
        f"the journal could not be written ({error.strerror or error}); "
        "exiting so the stack restarts DynamoDB from its files",
        file=sys.stderr,
        flush=True,
    )
    os._exit(70)  # EX_SOFTWARE


def replay_environ(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The WSGI request a journaled write is applied with again."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        **headers,
    }
