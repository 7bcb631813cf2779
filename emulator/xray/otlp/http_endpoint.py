"""OTLP/HTTP `POST /v1/traces` on the X-Ray API's port, as X-Ray's OTLP endpoint takes it.

The body is an ExportTraceServiceRequest, `application/x-protobuf` or `application/json` (the
OTLP JSON encoding), optionally gzip-compressed. The answer uses the request's encoding:
an ExportTraceServiceResponse (200), with partial_success counting the spans that could not
become segment documents and why; a request that cannot be read at all is refused whole with
a google.rpc.Status (400, or 415 for another content type) and stores nothing.

The API server's own checks (loopback Host names only, no CORS, bounded bodies and
connections) apply before this module sees the request.
"""

import logging
import zlib
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from google.protobuf import json_format
from google.protobuf.message import Message as ProtobufMessage
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from emulator.xray.otlp.decode import InvalidOtlp, from_json, from_protobuf
from emulator.xray.otlp.intake import convert
from emulator.xray.store import TraceStore

logger = logging.getLogger(__name__)

PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# A gzip body may not inflate past this: the API reads at most 16 MiB, and a small bomb
# must not cost more memory than a plain body could.
MAX_INFLATED_BYTES = 16 * 1024 * 1024
# google.rpc.Code of a refusal: the request cannot be read as it is.
INVALID_ARGUMENT = 3
# Reasons quoted in partial_success.error_message; the count says how many there were.
MAX_REASONS = 5


@dataclass(frozen=True)
class Answer:
    status: HTTPStatus
    content_type: str
    body: bytes


def handle(headers: Message, raw: bytes, store: TraceStore) -> Answer:
    """Decode, convert and store one export request; the answer to send."""
    media_type = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media_type not in (PROTOBUF, JSON):
        return _refusal(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            JSON,
            f"Content-Type must be {PROTOBUF} or {JSON}, got {media_type[:60] or 'none'!r}",
        )
    try:
        payload = _decompressed(raw, headers.get("Content-Encoding"))
        request = from_protobuf(payload) if media_type == PROTOBUF else from_json(payload)
    except InvalidOtlp as error:
        return _refusal(HTTPStatus.BAD_REQUEST, media_type, str(error))
    converted = convert(request)
    response = ExportTraceServiceResponse()
    if converted.documents:
        _, failures = store.insert_salvaging(converted.documents)
        converted.rejected.extend(
            f"{facts.trace_id}/{facts.id}: not stored: {error}" for facts, error in failures
        )
    if converted.rejected:
        response.partial_success.rejected_spans = len(converted.rejected)
        shown = "; ".join(converted.rejected[:MAX_REASONS])
        more = len(converted.rejected) - MAX_REASONS
        response.partial_success.error_message = shown + (f"; and {more} more" if more > 0 else "")
    return _encoded(HTTPStatus.OK, media_type, response)


def write(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    handler.send_response(answer.status)
    handler.send_header("Content-Type", answer.content_type)
    handler.send_header("Content-Length", str(len(answer.body)))
    handler.end_headers()
    handler.wfile.write(answer.body)


def _decompressed(raw: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding != "gzip":
        raise InvalidOtlp(f"Content-Encoding must be gzip or none, got {encoding[:40]!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(raw, MAX_INFLATED_BYTES + 1)
    except zlib.error as error:
        raise InvalidOtlp(f"the body is not gzip: {error}") from None
    if len(inflated) > MAX_INFLATED_BYTES:
        raise InvalidOtlp(f"the body inflates past {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        raise InvalidOtlp("the gzip body is truncated")
    return inflated


def _refusal(status: HTTPStatus, media_type: str, message: str) -> Answer:
    return _encoded(status, media_type, Status(code=INVALID_ARGUMENT, message=message))


def _encoded(status: HTTPStatus, media_type: str, message: ProtobufMessage) -> Answer:
    if media_type == PROTOBUF:
        return Answer(status, PROTOBUF, message.SerializeToString())
    return Answer(status, JSON, json_format.MessageToJson(message, indent=None).encode())
