"""Whatever a sender puts in a span, the converter answers documents or reasons, never a crash;
whatever bytes follow T1S or reach /v1/traces' decoders, the answer is InvalidOtlp at worst."""

import base64
import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.xray.otlp import datagram
from emulator.xray.otlp.decode import InvalidOtlp, from_json, from_protobuf
from emulator.xray.otlp.intake import convert
from tests.xray.otlp.mapping_rows import ROWS
from tests.xray.otlp.otlp_support import KINDS, export_request, make_span

# Every key the mapping reads, so that odd values reach every branch of it.
KEYS = sorted(
    {key for row in ROWS for key in (*row.attributes, *row.resource)}
    | {"aws.local.service", "db.namespace", "net.host.port", "net.peer.port", "http.target", "http.host",
       "http.status_text", "telemetry.auto.version", "faas.name", "aws.account_id", "messaging.url"}
)  # fmt: skip
scalars = st.one_of(
    st.text(max_size=20), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), st.booleans(),
    st.binary(max_size=8),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
attributes = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    span_attributes=attributes,
    resource=attributes,
    has_parent=st.booleans(),
    status=st.sampled_from([None, (1, ""), (2, ""), (2, "failed")]),
    name=st.text(max_size=30),
    event=st.none() | attributes,
)
def test_any_attributes_convert_or_are_rejected(
    kind: str,
    span_attributes: dict[str, Any],
    resource: dict[str, Any],
    has_parent: bool,
    status: tuple[int, str] | None,
    name: str,
    event: dict[str, Any] | None,
) -> None:
    span = make_span(
        name,
        kind,
        span_attributes,
        parent=None if has_parent else b"",
        status=status,
        events=[] if event is None else [("exception", event)],
    )
    result = convert(export_request([span], resource))
    assert len(result.documents) + len(result.rejected) == 1
    # A rejection names the span it is about (the sender sees it in partial_success).
    assert all(reason.startswith("resource_spans[0].scope_spans[0].spans[0]") for reason in result.rejected)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_after_t1s_are_a_request_or_invalid_otlp(payload: bytes) -> None:
    for body in (b"T1S" + payload, b"T1S" + base64.b64encode(payload)):
        try:
            read = datagram.read(body)
        except InvalidOtlp:
            continue
        assert read.sampled and read.request is not None
        convert(read.request)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_body_decodes_or_is_invalid_otlp(body: bytes) -> None:
    for decode in (from_protobuf, from_json):
        with contextlib.suppress(InvalidOtlp):
            convert(decode(body))
