"""Sends segment documents to an X-Ray daemon over UDP, in the daemon's wire format."""

import json
import logging
import socket
from typing import Any

logger = logging.getLogger(__name__)

# Every datagram starts with this header line; the document follows it.
DAEMON_HEADER = b'{"format":"json","version":1}\n'
# The daemon (like AWS's) takes one document per datagram of at most 64 KiB.
MAX_DATAGRAM = 64 * 1024


def parse_daemon_address(address: str) -> tuple[str, int]:
    """`127.0.0.1:2000` (the AWS_XRAY_DAEMON_ADDRESS form) -> ("127.0.0.1", 2000)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"X-Ray daemon address must look like 127.0.0.1:2000, got {address!r}")
    return host or "127.0.0.1", int(port)


class SegmentSender:
    """Fire-and-forget, like the X-Ray SDK: a lost datagram never slows a request down."""

    def __init__(self, daemon_address: str) -> None:
        self._target = parse_daemon_address(daemon_address)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, document: dict[str, Any]) -> None:
        payload = DAEMON_HEADER + json.dumps(document, separators=(",", ":")).encode()
        if len(payload) > MAX_DATAGRAM:
            logger.warning(
                "segment %s is %d bytes, over the 64 KiB datagram limit; dropped",
                document.get("name"),
                len(payload),
            )
            return
        try:
            self._socket.sendto(payload, self._target)
        except OSError as error:
            logger.warning("could not send segment to the X-Ray daemon at %s:%d: %s", *self._target, error)

    def close(self) -> None:
        self._socket.close()
