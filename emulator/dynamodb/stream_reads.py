"""DynamoDB Streams reads in the moto process: shard iterators that expire as AWS's do.

moto keeps every shard iterator it hands out for as long as it runs, and GetRecords hands out a
new one each call: a poller reading a stream four times a second would grow moto by about a
kilobyte each time, without end. AWS's iterators expire 15 minutes after they are handed out
(the DynamoDB Streams API reference, GetShardIterator and ExpiredIteratorException), so they are
forgotten here after that, in moto too. A GetRecords with an iterator moto does not know (expired,
or handed out before moto restarted) is answered as AWS answers an expired one, 400
ExpiredIteratorException, rather than with moto's 500 and a traceback on the terminal; the
reader then asks for a new iterator from where it was.

Not journaled: reads change nothing a replay needs (an iterator does not outlive a restart).
"""

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

STREAMS_TARGET_PREFIX = "DynamoDBStreams_20120810."
ITERATOR_LIFETIME_SECONDS = 15 * 60
_ITERATOR_FIELDS = ("ShardIterator", "NextShardIterator")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[str, tuple[list[tuple[str, str]], list[bytes]]]


def is_stream_read(environ: dict[str, Any]) -> bool:
    return str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(STREAMS_TARGET_PREFIX)


class StreamIterators:
    """Which iterators moto handed out, and when. The caller serializes calls (it holds
    DynamoDB's lock: the streams backend reads the tables PutItem changes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._handed_out: dict[str, float] = {}  # oldest first

    def serve(self, app: WsgiApp, environ: dict[str, Any], body: bytes) -> Answer:
        self._forget_expired()
        operation = str(environ.get("HTTP_X_AMZ_TARGET", ""))[len(STREAMS_TARGET_PREFIX) :]
        if operation == "GetRecords" and _iterator_of(body) not in self._handed_out:
            return _expired_iterator()
        status, (headers, chunks) = _apply(app, environ)
        if status.startswith("2") and operation in ("GetShardIterator", "GetRecords"):
            self._note(b"".join(chunks))
        return status, (headers, chunks)

    def _note(self, answer: bytes) -> None:
        try:
            fields = json.loads(answer)
        except ValueError:
            return
        for name in _ITERATOR_FIELDS:
            iterator = fields.get(name) if isinstance(fields, dict) else None
            if isinstance(iterator, str):
                self._handed_out[iterator] = self._clock()

    def _forget_expired(self) -> None:
        oldest_kept = self._clock() - ITERATOR_LIFETIME_SECONDS
        expired = []
        for iterator, handed_out in self._handed_out.items():
            if handed_out > oldest_kept:
                break
            expired.append(iterator)
        if not expired:
            return
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        for iterator in expired:
            del self._handed_out[iterator]
            for regions in dynamodbstreams_backends.values():
                for backend in regions.values():
                    backend.shard_iterators.pop(iterator, None)


def _iterator_of(body: bytes) -> str | None:
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    iterator = request.get("ShardIterator") if isinstance(request, dict) else None
    return iterator if isinstance(iterator, str) else None


def _expired_iterator() -> Answer:
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException",
            "message": "Iterator expired. The iterator was created more than 15 minutes ago, or before "
            "the local DynamoDB restarted.",
        }
    ).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))]
    return "400 Bad Request", (headers, [body])


def _apply(app: WsgiApp, environ: dict[str, Any]) -> Answer:
    answer: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return lambda data: None

    result = app(environ, capture)
    try:
        chunks = [bytes(chunk) for chunk in result]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer["status"], (answer["headers"], chunks)
