"""Forwarding one request to a local service and its answer back, unchanged.

The body and the header fields go as the client sent them (Host included: it is what the
client signed, and the upstreams check it is a loopback name), so a signature would still
verify upstream. Only the hop-by-hop fields (RFC 9110 §7.6.1) are this hop's own: a chunked
body was read whole, so it goes with its Content-Length. The answer is streamed back in pieces,
not held: a large Scan or trace batch passes through without being buffered whole.
"""

import http.client
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]
)
PIECE_BYTES = 64 * 1024
UPSTREAM_TIMEOUT_SECONDS = 900.0  # a Lambda invoke may run for its function's whole timeout


class UpstreamFailed(Exception):
    """The local service did not answer (not started, or it closed the connection)."""


def forward(
    upstream: str,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    answer: Callable[[int, str, list[tuple[str, str]]], Callable[[bytes], None]],
) -> None:
    """Send the request to `upstream` (http://host:port) and hand its answer to `answer`
    (status, reason, headers → a writer called for each piece of the body, then with b"")."""
    parts = urlsplit(upstream)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=UPSTREAM_TIMEOUT_SECONDS
    )
    try:
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            raise UpstreamFailed(str(error)) from None
        kept = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
        write = answer(response.status, response.reason, kept)
        while piece := response.read1(PIECE_BYTES) if method != "HEAD" else b"":
            write(piece)
        write(b"")
    finally:
        connection.close()
