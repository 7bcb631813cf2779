"""The X-Ray trace header: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=1`.

API Gateway reads it from `X-Amzn-Trace-Id`, Lambda passes it to the runtime in
`Lambda-Runtime-Trace-Id`, and the runtime exposes it as `_X_AMZN_TRACE_ID`.
"""

import re
import secrets
import time
from dataclasses import dataclass

_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_SEGMENT_ID = re.compile(r"^[0-9a-f]{16}$")


def new_trace_id(now: float | None = None) -> str:
    """A trace id of the documented form: version 1, epoch seconds in hex, 96 random bits."""
    epoch = int(time.time() if now is None else now)
    return f"1-{epoch:08x}-{secrets.token_hex(12)}"


def new_segment_id() -> str:
    """A segment or subsegment id: 64 random bits in hex."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class TraceHeader:
    root: str
    parent: str | None = None
    # None: no decision yet (the receiver decides); False: `Sampled=0`, record nothing.
    sampled: bool | None = None

    def to_header(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={1 if self.sampled else 0}")
        return ";".join(parts)

    def with_parent(self, parent: str) -> "TraceHeader":
        return TraceHeader(self.root, parent, self.sampled)


def parse_trace_header(value: str | None) -> TraceHeader | None:
    """Read an incoming header; None when it is absent or its Root is not a valid trace id.

    Unknown keys (Lineage, Self, ...) are ignored, as API Gateway does.
    """
    if not value:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = field_value.strip()
    root = fields.get("Root", "")
    if not _TRACE_ID.match(root):
        return None
    parent = fields.get("Parent")
    if parent is not None and not _SEGMENT_ID.match(parent):
        parent = None
    sampled = {"1": True, "0": False}.get(fields.get("Sampled", ""))
    return TraceHeader(root, parent, sampled)
