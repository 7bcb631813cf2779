"""Reading an HTTP/1.1 request body, strictly, for the gateway and the Runtime API alike.

Hand-written because the standard library has nothing to reuse: `http.server` parses the
request line and the header fields and then leaves the body in the socket, untouched, for the
handler to read as it sees fit; and the Runtime API is a plain socket server with no HTTP
library at all. Both servers need the same thing: a body length decided by RFC 9112 §6 (not
guessed), the same size limit applied without buffering an oversized body, and one set of
errors, so that a request whose framing is wrong is answered 400 and its connection closed,
instead of a traceback, or leftover body bytes being parsed as the next request.

`read_body(stream, headers, max_bytes)` returns the body, or raises `BadFraming(reason)`
(answer 400, then close the connection: where the next request starts is unknown) or
`BodyTooLarge` (over max_bytes).
"""

import re
from collections.abc import Iterable
from typing import Protocol

# A chunk-size line (size and extensions) longer than this is refused, not read on and on.
MAX_CHUNK_LINE = 4096
# The trailer section is read and dropped; it may not be longer than this.
MAX_TRAILER_BYTES = 64 * 1024
# Content-Length has no upper bound in the grammar; past this many digits (10^18 bytes, an
# exabyte) the exact value no longer matters: it is over any limit.
_MAX_LENGTH_DIGITS = 18
# How much of a too-large body is held in memory at once while it is drained.
_DRAIN_PIECE = 1024 * 1024

_DIGITS = re.compile(r"[0-9]+")
# chunk-size [ chunk-ext ]: 1*HEXDIG, then optionally BWS ";" ... (RFC 9112 §7.1, §7.1.1).
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)(?:[ \t]*;(.*))?", re.DOTALL)
# Extensions are not interpreted, but may not hide control characters (a stray CR, a NUL).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# A trailer field line: field-name ":" field-value, no whitespace before the colon (RFC 9112 §5.1).
_FIELD_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*")


class BadFraming(Exception):
    """The body's length cannot be determined reliably: answer 400 and close the connection."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyTooLarge(Exception):
    """The body is longer than the server accepts."""


class ByteStream(Protocol):
    """What the reader needs of a connection's buffered reader (socket.makefile("rb"),
    http.server's rfile, io.BytesIO)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self, size: int = -1, /) -> bytes: ...


def read_body(
    stream: ByteStream, headers: Iterable[tuple[str, str]], max_bytes: int, *, drain: bool = False
) -> bytes:
    """Read the request body that `headers` announce from `stream` (positioned after the header
    section), at most `max_bytes` of it.

    A body over the limit raises BodyTooLarge as soon as its size is known, before its data is
    read (a Content-Length) or at the chunk that crosses the limit. With `drain`, the rest of
    it is first read and thrown away in bounded pieces, so the connection can serve the next
    request; without, the stream is left mid-body and the connection must be closed.
    """
    transfer_encodings: list[str] = []
    content_lengths: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "transfer-encoding":
            transfer_encodings.append(value)
        elif lowered == "content-length":
            content_lengths.append(value)

    if transfer_encodings and content_lengths:
        # RFC 9112 §6.1 lets a server either reject such a request or use Transfer-Encoding and
        # close the connection after answering. We reject it: the two headers disagreeing is
        # the classic request-smuggling shape, and no client of either server sends both.
        raise BadFraming("Both Transfer-Encoding and Content-Length are present")
    if transfer_encodings:
        _check_transfer_encoding(transfer_encodings)
        return _read_chunked(stream, max_bytes, drain)
    # RFC 9112 §6.3: a request with neither header has no body.
    length = _content_length(content_lengths) if content_lengths else 0
    if length > max_bytes:
        if drain:
            _skip(stream, length)
        raise BodyTooLarge
    return _read_exactly(stream, length)


def _check_transfer_encoding(values: list[str]) -> None:
    """Only `chunked`, alone, is supported: any other coding would have to be decoded, and
    chunked anywhere but last leaves the body's end unknown (RFC 9112 §6.3)."""
    # Several fields are one list (RFC 9110 §5.3); empty list elements are ignored (§5.6.1).
    codings = [coding.strip(" \t").lower() for value in values for coding in value.split(",")]
    codings = [coding for coding in codings if coding]
    if codings == ["chunked"]:
        return
    if not codings:
        raise BadFraming("Transfer-Encoding is empty")
    if codings[-1] != "chunked":
        if "chunked" in codings:
            raise BadFraming("Transfer-Encoding chunked must be the last transfer coding")
        raise BadFraming(f"Unsupported Transfer-Encoding: {', '.join(codings)}")
    if codings.count("chunked") > 1:
        raise BadFraming("Transfer-Encoding chunked is applied more than once")
    raise BadFraming(f"Unsupported Transfer-Encoding: {', '.join(codings)}")


def _content_length(values: list[str]) -> int:
    """Content-Length = 1*DIGIT. Repeated fields, or a list such as `42, 42`, are accepted when
    every value is the same (RFC 9110 §8.6); differing values are an error (RFC 9112 §6.3)."""
    numbers: set[str] = set()
    for value in values:
        for element in value.split(","):
            element = element.strip(" \t")
            # str.isdigit() and int() would also take "+1", " 1", "1_0" and non-ASCII digits.
            if not _DIGITS.fullmatch(element):
                raise BadFraming(f"Invalid Content-Length: {value[:40]!r}")
            numbers.add(element.lstrip("0") or "0")
    if len(numbers) > 1:
        raise BadFraming("Differing Content-Length values")
    [digits] = numbers
    if len(digits) > _MAX_LENGTH_DIGITS:
        return 10**_MAX_LENGTH_DIGITS
    return int(digits)


def _read_chunked(stream: ByteStream, max_bytes: int, drain: bool) -> bytes:
    chunks: list[bytes] = []
    total = 0
    too_large = False
    while True:
        size = _chunk_size(_read_line(stream, MAX_CHUNK_LINE, "chunk size line"))
        if size == 0:
            break  # the last chunk
        total += size
        if total > max_bytes and not too_large:
            if not drain:
                raise BodyTooLarge
            too_large = True
            chunks.clear()
        if too_large:
            _skip(stream, size)
        else:
            chunks.append(_read_exactly(stream, size))
        after = stream.read(2)
        if after != b"\r\n":
            if len(after) < 2 and b"\r\n".startswith(after):
                raise BadFraming("Request body cut short")
            raise BadFraming("Chunk data is not followed by CRLF")
    _read_trailers(stream)
    if too_large:
        raise BodyTooLarge
    return b"".join(chunks)


def _chunk_size(line: bytes) -> int:
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise BadFraming(f"Invalid chunk size: {line[:40]!r}")
    extensions = match.group(2)
    if extensions is not None and _CONTROL.search(extensions):
        raise BadFraming("Invalid chunk extension")
    return int(match.group(1), 16)


def _read_trailers(stream: ByteStream) -> None:
    """trailer-section = *( field-line CRLF ), then the CRLF that ends the body: read, dropped."""
    remaining = MAX_TRAILER_BYTES
    while True:
        line = _read_line(stream, remaining, "trailer section")
        if not line:
            return
        if not _FIELD_LINE.fullmatch(line):
            raise BadFraming(f"Invalid trailer field: {line[:40]!r}")
        remaining -= len(line) + 2
        if remaining < 0:
            raise BadFraming("The trailer section is too long")


def _read_line(stream: ByteStream, limit: int, what: str) -> bytes:
    """One CRLF-terminated line, without its CRLF. Bare LF is not accepted inside a chunked
    body: the grammar says CRLF, and lenient line ends are how framing disagreements start."""
    line = stream.readline(limit + 2)
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        raise BadFraming(f"The {what} ends with a bare LF, not CRLF")
    if len(line) >= limit + 2:
        raise BadFraming(f"The {what} is too long")
    raise BadFraming("Request body cut short")


def _read_exactly(stream: ByteStream, length: int) -> bytes:
    if length == 0:
        return b""
    data = stream.read(length)
    if len(data) == length:
        return data
    # A buffered reader returns less only at end of stream; an unbuffered one may return less
    # at any time, so read on until the length or the end.
    pieces = [data]
    received = len(data)
    while data and received < length:
        data = stream.read(length - received)
        pieces.append(data)
        received += len(data)
    if received < length:
        raise BadFraming("Request body cut short")
    return b"".join(pieces)


def _skip(stream: ByteStream, length: int) -> None:
    while length > 0:
        piece = stream.read(min(length, _DRAIN_PIECE))
        if not piece:
            raise BadFraming("Request body cut short")
        length -= len(piece)
