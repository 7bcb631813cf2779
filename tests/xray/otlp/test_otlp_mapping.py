"""Each row of the README's mapping table: a span through the converter and the document parser."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from emulator.xray.otlp.decode import from_json
from emulator.xray.otlp.intake import convert
from emulator.xray.otlp.spans_to_segments import annotation_key, clean_name
from tests.xray.otlp.mapping_rows import ABSENT, ROWS, Row
from tests.xray.otlp.otlp_support import export_request, make_span, otlp_json

README = Path(__file__).resolve().parents[3] / "README.md"
_MISSING = object()


def lookup(value: Any, path: list[str]) -> Any:
    """The value at a dotted path whose keys may hold dots themselves ("otel.resource.x")."""
    if not path:
        return value
    if isinstance(value, list):
        index = int(path[0])
        return lookup(value[index], path[1:]) if index < len(value) else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    for end in range(len(path), 0, -1):
        key = ".".join(path[:end])
        if key in value:
            found = lookup(value[key], path[end:])
            if found is not _MISSING:
                return found
    return _MISSING


def converted_document(row: Row) -> tuple[dict[str, Any], str]:
    parent = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    span = make_span(
        row.name,
        row.kind,
        row.attributes,
        parent=parent if row.has_parent else b"",
        status=row.status,
        events=row.events,
        links=row.links,
    )
    result = convert(export_request([span], row.resource))
    assert result.rejected == []
    [facts] = result.documents
    return json.loads(facts.document), parent.hex()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_mapping_row(row: Row) -> None:
    document, parent = converted_document(row)
    for path, expected in row.expected.items():
        found = lookup(document, path.split("."))
        if expected is ABSENT:
            assert found is _MISSING, f"{path} should be absent, is {found!r} in {document}"
        else:
            expected = parent if expected == "<parent>" else expected
            assert found == expected, f"{path}: {found!r} != {expected!r} in {document}"


def test_readme_table_lists_exactly_the_rows() -> None:
    text = README.read_text()
    section = text.split("## OpenTelemetry in the local X-Ray", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(row.id for row in ROWS)
    assert len(listed) == len(set(listed))


def test_trace_ids_keep_their_digits() -> None:
    epoch_id = bytes.fromhex("6b0ce6e255cd994b61b088cd196a6a05")
    result = convert(export_request([make_span(trace_id=epoch_id, start=0x6B0CE6E2)]))
    [facts] = result.documents
    assert facts.trace_id == "1-6b0ce6e2-55cd994b61b088cd196a6a05"
    assert facts.trace_epoch == 0x6B0CE6E2


def test_times_are_epoch_seconds() -> None:
    span = make_span(start=1796000000.25, duration=0.5)
    [facts] = convert(export_request([span])).documents
    assert (facts.start_time, facts.end_time) == (1796000000.25, 1796000000.75)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"trace_id": b"\x01" * 8}, "trace_id is 8 bytes"),
        ({"trace_id": b"\x00" * 16}, "trace_id is all zeros"),
        ({"span_id": b"\x01" * 4}, "span_id is 4 bytes"),
        ({"parent_span_id": b"\x01" * 3}, "parent_span_id is 3 bytes"),
        ({"end_time_unix_nano": 1}, "end_time_unix_nano is before"),
        ({"start_time_unix_nano": 0, "end_time_unix_nano": 0}, "start_time_unix_nano is missing"),
    ],
)
def test_a_bad_span_is_rejected_alone(change: dict[str, Any], reason: str) -> None:
    good, bad = make_span("good"), make_span("bad")
    for key, value in change.items():
        setattr(bad, key, value)
    result = convert(export_request([good, bad]))
    assert [json.loads(facts.document)["name"] for facts in result.documents] == ["good"]
    [rejected] = result.rejected
    assert reason in rejected and "'bad'" in rejected


def test_a_document_over_64_kib_is_rejected() -> None:
    result = convert(export_request([make_span(attributes={"big": "x" * 70_000})]))
    assert result.documents == []
    assert "X-Ray accepts at most 65536" in result.rejected[0]


def test_names_and_annotation_keys_follow_x_ray_rules() -> None:
    assert clean_name("") == "span"
    assert clean_name("<>") == "span"
    assert clean_name("Ünïcode ok-1@host:80/p") == "Ünïcode ok-1@host:80/p"
    assert len(clean_name("a" * 300)) == 200
    assert annotation_key("http.route-name/ü") == "http_route_name__"


def test_otlp_json_decodes_to_the_same_request_as_protobuf() -> None:
    link = (bytes.fromhex("6b0ce6e255cd994b61b088cd196a6a05"), bytes.fromhex("0102030405060708"), {"n": 1})
    span = make_span("x", "consumer", {"a": [1, "b", {"c": True}], "d": 1.5}, parent=None, links=[link])
    request = export_request([span], {"service.name": "J"})
    assert from_json(otlp_json(request)) == request
