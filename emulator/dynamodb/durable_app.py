"""moto's WSGI app with the journal in front: a DynamoDB, CloudWatch Logs or SQS write is
answered only once it is on disk, and the tables, log groups and queues come back after any crash.

The moto process serves the services the stack keeps state in (JOURNALED_SERVICES): DynamoDB,
CloudWatch Logs, where the functions' log lines go, and SQS (what of it is journaled, and how
its replay differs: emulator/sqs/journaling.py). Every request to a service is applied
by moto under that service's lock (moto's backends are plain Python objects, not safe to
change from two threads at once), so the order of the journal is the order moto applied each
service's writes and a replay rebuilds the same state. The services share no state, so
each has its own lock: a long FilterLogEvents (the console reading a big log group) never holds
up a PutItem on a request's path. The fsync happens after the lock is released, shared by
every writer waiting at that moment (journal.py).

Only successful writes are journaled: a request moto refused (a failed condition, a missing
table) changed nothing, so replaying it would change nothing either.

CloudWatch Logs reads the clock: it stamps ingestion and creation times and refuses events
older than 14 days. So each Logs request is applied with moto's clock pinned to one instant,
that instant is journaled with it, and a replay pins the same one: events accepted a month
ago are accepted again, with the same times, instead of being refused as too old.
"""

import contextlib
import datetime
import gc
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from werkzeug.wsgi import get_input_stream

from emulator.dynamodb import checkpoint, stream_reads
from emulator.dynamodb.journal import Journal, iter_payloads, journal_numbers
from emulator.sqs import journaling as sqs_journaling

TARGET_PREFIX = "DynamoDB_20120810."
LOGS_TARGET_PREFIX = "Logs_20140328."
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
# The CloudWatch Logs operations that change nothing: the API names every read Describe*,
# Get* or List*, and these four besides.
LOGS_READ_ONLY_PREFIXES = ("Describe", "Get", "List")
LOGS_READ_ONLY_OPERATIONS = frozenset(
    {"FilterLogEvents", "StartLiveTail", "TestMetricFilter", "TestTransformer"}
)


@dataclass(frozen=True)
class JournaledService:
    """A service of the AWS JSON protocol whose writes the journal keeps."""

    target_prefix: str  # X-Amz-Target is <prefix><operation>
    signing_name: str  # the credential scope's service, which moto routes by
    pins_clock: bool  # applied with moto's clock pinned, and replayed at the same instant

    def is_read_only(self, operation: str) -> bool:
        if self.target_prefix == TARGET_PREFIX:
            return operation in READ_ONLY_OPERATIONS
        if self.target_prefix == sqs_journaling.TARGET_PREFIX:
            return not sqs_journaling.is_journaled(operation)
        return operation.startswith(LOGS_READ_ONLY_PREFIXES) or operation in LOGS_READ_ONLY_OPERATIONS


DYNAMODB = JournaledService(TARGET_PREFIX, "dynamodb", pins_clock=False)
LOGS = JournaledService(LOGS_TARGET_PREFIX, "logs", pins_clock=True)
# The queues and their messages (emulator/sqs/journaling.py: what is kept, and why).
SQS = JournaledService(sqs_journaling.TARGET_PREFIX, sqs_journaling.SIGNING_NAME, pins_clock=True)
JOURNALED_SERVICES = (DYNAMODB, LOGS, SQS)
# Journaled beside a write's headers: the instant moto's clock was pinned to (ms since epoch).
APPLIED_AT_KEY = "applied_at_ms"
# Journaled beside an SQS write's headers: the MessageIds it was answered with or deleted.
SQS_KEY = "sqs"

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


def journaled_service(environ: dict[str, Any]) -> JournaledService | None:
    """The service of an API call the journal covers (always a POST to / with the operation in
    X-Amz-Target), or None: moto serves anything else as it is."""
    if environ.get("PATH_INFO", "/") not in ("", "/"):
        return None
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return next((service for service in JOURNALED_SERVICES if target.startswith(service.target_prefix)), None)


def is_dynamodb(environ: dict[str, Any]) -> bool:
    """A DynamoDB API call."""
    return journaled_service(environ) is DYNAMODB


def is_write(environ: dict[str, Any]) -> bool:
    service = journaled_service(environ)
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return service is not None and not service.is_read_only(target[len(service.target_prefix) :])


def encode_request(
    environ: dict[str, Any], body: bytes, applied_at_ms: int | None = None, sqs: dict[str, Any] | None = None
) -> bytes:
    headers: dict[str, Any] = {name: environ[name] for name in _REPLAYED_HEADERS if name in environ}
    if applied_at_ms is not None:
        headers[APPLIED_AT_KEY] = applied_at_ms
    if sqs is not None:
        headers[SQS_KEY] = sqs
    return json.dumps(headers, separators=(",", ":")).encode() + b"\n" + body


def decode_request(payload: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body of a journaled write; the instant it was applied at, if any, is
    under APPLIED_AT_KEY among the headers (pop it before replaying)."""
    headers, _, body = payload.partition(b"\n")
    return json.loads(headers), body


class DurableDynamoDB:
    """The WSGI app moto's server runs: moto, one request at a time for the journaled services
    (DynamoDB and CloudWatch Logs), with the journal."""

    def __init__(
        self, app: WsgiApp, data_dir: Path | None, checkpoint_every: int = CHECKPOINT_EVERY_WRITES
    ) -> None:
        self._app = app
        self._checkpoint_every = checkpoint_every
        self.data_dir = data_dir
        # Taken in this order: a service's lock, then the journal's. A checkpoint takes every
        # service's lock (in JOURNALED_SERVICES order) before the journal's, so the state it forks
        # holds exactly the writes in the journal files before it.
        self._service_locks = {service.target_prefix: threading.Lock() for service in JOURNALED_SERVICES}
        self._journal_lock = threading.Lock()
        self._service_apps: dict[str, WsgiApp] = {}
        self._journal: Journal | None = None
        self._checkpoints = checkpoint.BackgroundCheckpoints(data_dir) if data_dir else None
        self._stream_iterators = stream_reads.StreamIterators()
        self._sqs = sqs_journaling.SqsJournaling()

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
                applied_at_ms = headers.pop(APPLIED_AT_KEY, None)
                sqs = headers.pop(SQS_KEY, None)
                target = str(headers.get("HTTP_X_AMZ_TARGET", ""))
                with _moto_clock(int(applied_at_ms) if applied_at_ms is not None else None, target):
                    environ = replay_environ(headers, body)
                    if target.startswith(SQS.target_prefix):
                        status = self._sqs.replay(self.apply, environ, body, sqs)
                    else:
                        status, _ = self.apply(environ)
                replayed += 1
                refused += not status.startswith("2")
            torn += read.torn_bytes
        return loaded, replayed, refused, torn

    def close(self) -> None:
        """Nothing to save: the journal is fsynced and closed, a checkpoint being written given up."""
        with self._journal_lock:
            if self._journal is not None:
                self._journal.close()
        if self._checkpoints is not None:
            self._checkpoints.cancel()

    # -- serving -------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service = journaled_service(environ)
        if service is None and not stream_reads.is_stream_read(environ):
            return self._app(environ, start_response)  # not journaled: moto as it is
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        if service is None:
            # DynamoDB Streams reads the records PutItem appends to moto's tables: under DynamoDB's
            # lock, as every other request to those tables, with iterators that expire (stream_reads.py).
            # A record is visible once its write is applied and journaled, before the fsync: the
            # answer waits for the fsync of everything journaled so far, so that a function is
            # never handed a change a crash could still take back.
            with self._service_locks[DYNAMODB.target_prefix]:
                status, (headers, chunks) = self._stream_iterators.serve(self._app, environ, body)
                with self._journal_lock:
                    ticket = self._journal.appended if self._journal is not None else 0
            if ticket:
                self._make_durable(ticket)
            start_response(status, headers)
            return chunks
        ticket = 0
        checkpoint_due = False
        if service is SQS and sqs_journaling.operation_of(environ) == "ReceiveMessage":
            # Long-polled without holding the lock for the wait (emulator/sqs/journaling.py).
            status, (headers, chunks) = self._sqs.long_poll(self._apply_sqs, environ, body)
            start_response(status, headers)
            return chunks
        with self._service_locks[service.target_prefix]:
            applied_at_ms = int(time.time() * 1000) if service.pins_clock else None
            sqs: dict[str, Any] | None = None
            deleted: list[str] = []
            if service is SQS:
                body = self._sqs.prepare(environ, body)
                deleted = self._sqs.deleted_ids(environ, body)
            with _moto_clock(applied_at_ms, service.target_prefix):
                status, (headers, chunks) = self.apply(environ)
            if service is SQS:
                sqs, (headers, chunks) = self._sqs.after_apply(environ, body, (headers, chunks), deleted)
                self._sqs.applied()
            if self._journal is not None and status.startswith("2") and is_write(environ):
                with self._journal_lock:
                    ticket = self._journal_write(encode_request(environ, body, applied_at_ms, sqs))
                    checkpoint_due = self._checkpoint_due()
        if ticket:
            self._make_durable(ticket)
        if checkpoint_due:
            self._checkpoint()
        start_response(status, headers)
        return chunks

    def _apply_sqs(self, environ: dict[str, Any]) -> tuple[str, tuple[list[tuple[str, str]], list[bytes]]]:
        """One SQS request that is not journaled, applied under the SQS lock."""
        with self._service_locks[SQS.target_prefix]:
            return self.apply(environ)

    def apply(self, environ: dict[str, Any]) -> tuple[str, tuple[list[tuple[str, str]], list[bytes]]]:
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        result = self._service_app(environ)(environ, capture)
        try:
            chunks = [bytes(chunk) for chunk in result]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answer["status"], (answer["headers"], chunks)

    def _service_app(self, environ: dict[str, Any]) -> WsgiApp:
        """moto's app for the request's service, found once per service: moto's dispatcher looks
        the service up again on every request (about a third of a write's time in moto, and of
        a replay's). It is looked up with the service's own signing name, so a request whose
        credential scope names another service cannot make DynamoDB's app the Logs one."""
        service = journaled_service(environ) or DYNAMODB
        app = self._service_apps.get(service.target_prefix)
        if app is None:
            get_application = getattr(self._app, "get_application", None)
            if get_application is None:
                app = self._app
            else:
                scope = f"testing/20200101/us-east-1/{service.signing_name}/aws4_request"
                app = get_application(
                    {
                        "PATH_INFO": "/",
                        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={scope}, Signature=0",
                        "HTTP_X_AMZ_TARGET": service.target_prefix,
                    }
                )
            self._service_apps[service.target_prefix] = app
        return app

    def _journal_write(self, payload: bytes) -> int:
        """Append (the caller holds the journal lock); returns the record's ticket."""
        journal = self._journal
        assert journal is not None
        try:
            return journal.append(payload)
        except OSError as error:
            _fail_stop(error)

    def _checkpoint_due(self) -> bool:
        journal = self._journal
        if journal is None or journal.closed or self._checkpoints is None or self._checkpoints.busy:
            return False
        return (
            journal.records_in_file >= self._checkpoint_every
            or journal.bytes_in_file >= CHECKPOINT_EVERY_BYTES
        )

    def _checkpoint(self) -> None:
        """Start the next journal file and fork a checkpoint of everything before it, with every
        service held still (no write is applied but not yet journaled)."""
        with contextlib.ExitStack() as held:
            for service in JOURNALED_SERVICES:
                held.enter_context(self._service_locks[service.target_prefix])
            with self._journal_lock:
                journal = self._journal
                # Another writer may have started it meanwhile.
                if journal is None or self._checkpoints is None or not self._checkpoint_due():
                    return
                try:
                    self._checkpoints.start(journal.rotate())
                except OSError as error:
                    _fail_stop(error)

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


@contextlib.contextmanager
def _moto_clock(at_ms: int | None, target: str = LOGS_TARGET_PREFIX) -> Iterator[None]:
    """moto's CloudWatch Logs reads the time through its module's `utcnow`; pinned here (the
    caller holds the apply lock, or is the replay before serving) so a write and its replay see
    the same instant. None: the clock is left alone. SQS's clock is pinned the same way
    (`target` is the request's X-Amz-Target)."""
    if at_ms is None:
        yield
        return
    if target.startswith(sqs_journaling.TARGET_PREFIX):
        with sqs_journaling.pinned_clock(at_ms):
            yield
        return
    from moto.logs import models

    pinned = datetime.datetime.fromtimestamp(at_ms / 1000, datetime.UTC).replace(tzinfo=None)
    real = models.utcnow
    models.utcnow = lambda: pinned
    try:
        yield
    finally:
        models.utcnow = real


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
