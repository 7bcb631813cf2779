"""Raw HTTP/1.1 on a socket, for tests of how a server frames (or refuses) what it is sent."""

import socket


def raw_exchange(
    host: str, port: int, data: bytes, *, half_close: bool = False, timeout: float = 10
) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(data)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def split_response(reply: bytes) -> tuple[bytes, dict[str, str], bytes, bytes]:
    """The first response's status line, headers and body, and whatever came after it."""
    head, _, rest = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    return status_line.encode(), headers, rest[:length], rest[length:]
