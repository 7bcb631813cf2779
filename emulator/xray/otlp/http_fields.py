"""The segment's `http` block from HTTP semantic-convention attributes, old names and new.

OpenTelemetry renamed the HTTP attributes (semantic conventions 1.23): both generations are
read, as AWS's translator reads them. A URL sent whole (http.url / url.full) is used as is;
otherwise it is put together from scheme, host, port and target, from the server's side for
a server span and from the peer's side for a client span.
"""

from dataclasses import dataclass, field
from typing import Any

METHOD = ("http.request.method", "http.method")
STATUS = ("http.response.status_code", "http.status_code")
USER_AGENT = ("user_agent.original", "http.user_agent")
FULL_URL = ("url.full", "http.url")
CONTENT_LENGTH = ("http.response.body.size", "http.response_content_length")
SCHEME = ("url.scheme", "http.scheme")
# A forwarded client address (X-Forwarded-For): X-Ray marks it x_forwarded_for.
FORWARDED_CLIENT = "http.client_ip"
# The connection's peer: the client of a server span.
PEER_ADDRESS = ("client.address", "net.peer.ip", "network.peer.address", "net.sock.peer.addr")
# Parts of a URL sent in pieces.
TARGET = "http.target"
PATH, QUERY = "url.path", "url.query"
SERVER_HOSTS = ("http.host", "server.address", "http.server_name", "net.host.name", "host.name")
SERVER_PORTS = ("server.port", "net.host.port")
CLIENT_HOSTS = ("http.host", "server.address", "net.peer.name")
CLIENT_PORTS = ("server.port", "net.peer.port")

# Every attribute the block is made of: none of them is repeated in metadata.
CONSUMED = frozenset(
    (*METHOD, *STATUS, *USER_AGENT, *FULL_URL, *CONTENT_LENGTH, *SCHEME, FORWARDED_CLIENT, *PEER_ADDRESS,
     TARGET, PATH, QUERY, *SERVER_HOSTS, *SERVER_PORTS, *CLIENT_HOSTS, *CLIENT_PORTS)
)  # fmt: skip
# Attributes that show a span is an HTTP call (ports and hosts alone do not: gRPC has them too).
_HTTP_MARKERS = (*METHOD, *STATUS, *USER_AGENT, *FULL_URL, FORWARDED_CLIENT, TARGET)


@dataclass
class HttpBlock:
    block: dict[str, Any] | None
    consumed: set[str] = field(default_factory=set)


def status_code(attributes: dict[str, Any]) -> int | None:
    """The response status, whichever name carries it (some instrumentations send a string)."""
    value = _first(attributes, STATUS)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        return int(value)
    return None


def http_block(attributes: dict[str, Any], is_server: bool) -> HttpBlock:
    if not any(key in attributes for key in _HTTP_MARKERS):
        return HttpBlock(None)
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    method = _first(attributes, METHOD)
    if isinstance(method, str):
        request["method"] = method
    url = _url(attributes, is_server)
    if url:
        request["url"] = url
    agent = _first(attributes, USER_AGENT)
    if isinstance(agent, str):
        request["user_agent"] = agent
    forwarded = attributes.get(FORWARDED_CLIENT)
    peer = _first(attributes, PEER_ADDRESS)
    if isinstance(forwarded, str):
        request["client_ip"] = forwarded
        request["x_forwarded_for"] = True
    elif is_server and isinstance(peer, str):
        request["client_ip"] = peer
    status = status_code(attributes)
    if status is not None:
        response["status"] = status
    length = _first(attributes, CONTENT_LENGTH)
    if isinstance(length, int) and not isinstance(length, bool):
        response["content_length"] = length
    block: dict[str, Any] = {}
    if request:
        block["request"] = request
    if response:
        block["response"] = response
    return HttpBlock(block or None, {key for key in CONSUMED if key in attributes})


def _url(attributes: dict[str, Any], is_server: bool) -> str | None:
    full = _first(attributes, FULL_URL)
    if isinstance(full, str) and full:
        return full
    host = _first(attributes, SERVER_HOSTS if is_server else CLIENT_HOSTS)
    if not isinstance(host, str) or not host:
        return None
    port = _first(attributes, SERVER_PORTS if is_server else CLIENT_PORTS)
    scheme = _first(attributes, SCHEME)
    scheme = scheme if isinstance(scheme, str) and scheme else "http"
    # http.host may already carry the port; a default port is left out, as a browser shows it.
    if (
        port not in (None, "")
        and ":" not in host
        and str(port) not in {"http": "80", "https": "443"}.get(scheme, "")
    ):
        host = f"{host}:{port}"
    target = attributes.get(TARGET)
    if not isinstance(target, str):
        path = attributes.get(PATH)
        query = attributes.get(QUERY)
        target = path if isinstance(path, str) else ""
        if isinstance(query, str) and query:
            target = f"{target}?{query}"
    if target and not target.startswith("/"):
        target = f"/{target}"
    return f"{scheme}://{host}{target}"


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in attributes:
            return attributes[key]
    return None
