"""Whole traces: the facts behind TraceSummary (and filters), and BatchGetTraces' assembly.

BatchGetTraces answers as X-Ray does: subsegments that were sent on their own are put back
into the segment they belong to, and every aws/remote subsegment that no real segment answers
gets an inferred segment (`"inferred": true`, origin = the node type, e.g. DynamoDB's table).
"""

import hashlib
import json
import sqlite3
from collections import defaultdict
from typing import Any

from emulator.xray.documents import MAX_DEPTH, MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS, inferred_node
from emulator.xray.filters import TraceFacts, Value
from emulator.xray.graph import drawable_times

TIME_RANGE_TYPES = ("TraceId", "Event", "Service")

_CANDIDATES = {
    # The request's start, from the trace id's epoch field.
    "TraceId": "SELECT DISTINCT trace_id FROM docs WHERE trace_epoch >= :start_floor AND trace_epoch <= :end",
    # When the trace was last updated: here, when a document of it was stored.
    "Event": "SELECT DISTINCT trace_id FROM docs WHERE received >= :start AND received <= :end",
    # When a segment of it ended.
    "Service": "SELECT DISTINCT trace_id FROM docs WHERE end_time >= :start AND end_time <= :end",
}


def candidate_traces(db: sqlite3.Connection, start: float, end: float, time_range_type: str) -> list[str]:
    """Trace ids in [start, end] by TimeRangeType."""
    params = {"start": start, "end": end, "start_floor": int(start)}
    return [row[0] for row in db.execute(_CANDIDATES[time_range_type], params)]


def trace_facts(db: sqlite3.Connection, trace_ids: list[str]) -> dict[str, TraceFacts]:
    """The facts filters and TraceSummary need, for each of `trace_ids` that is stored.

    Documents whose times could not be drawn (stored before intake checked them) are left
    out; a trace made only of those is left out whole.
    """
    ids = json.dumps(trace_ids)
    in_ids = "trace_id IN (SELECT value FROM json_each(:ids))"
    drawable = drawable_times("docs")
    facts: dict[str, TraceFacts] = {}
    for trace_id, start, end, in_progress, orphans in db.execute(
        "SELECT trace_id, min(start_time), max(end_time), max(in_progress),"
        f" max(kind = 'subsegment' AND owner_name IS NULL) FROM docs WHERE {in_ids} AND {drawable}"
        " GROUP BY trace_id",
        {"ids": ids},
    ):
        facts[trace_id] = TraceFacts(
            trace_id=trace_id,
            start_time=start,
            duration=None if end is None else round(end - start, 6),
            # In progress, or a subsegment whose segment never arrived: X-Ray calls both partial.
            partial=bool(in_progress or orphans),
        )
    for trace_id, error, fault, throttle in db.execute(
        f"SELECT trace_id, max(error), max(fault), max(throttle) FROM spans WHERE {in_ids} GROUP BY trace_id",
        {"ids": ids},
    ):
        if trace_id in facts:
            trace = facts[trace_id]
            trace.error, trace.fault, trace.throttle = bool(error), bool(fault), bool(throttle)
    # The root segment: no parent, else the earliest segment.
    seen: set[str] = set()
    for row in db.execute(
        "SELECT trace_id, start_time, end_time, http_url, http_method, http_status, http_useragent,"
        f" http_clientip FROM docs WHERE kind = 'segment' AND {in_ids} AND {drawable}"
        " ORDER BY trace_id, parent_id IS NOT NULL, start_time",
        {"ids": ids},
    ):
        trace_id = row[0]
        if trace_id in seen or trace_id not in facts:
            continue
        seen.add(trace_id)
        trace = facts[trace_id]
        trace.response_time = None if row[2] is None else round(row[2] - row[1], 6)
        (trace.http_url, trace.http_method, trace.http_status) = row[3:6]
        (trace.http_useragent, trace.http_clientip) = row[6:8]
    for trace_id, user in db.execute(
        f"SELECT DISTINCT trace_id, user FROM docs WHERE user IS NOT NULL AND {in_ids}", {"ids": ids}
    ):
        if trace_id in facts:
            facts[trace_id].users.append(user)
    for trace_id, name, node_type in db.execute(
        f"SELECT DISTINCT trace_id, name, origin FROM docs WHERE kind = 'segment' AND {in_ids}"
        " UNION SELECT DISTINCT s.trace_id, s.inferred_name, s.inferred_type FROM spans s"
        f" WHERE s.inferred_name IS NOT NULL AND s.answered = 0 AND s.{in_ids}",
        {"ids": ids},
    ):
        if trace_id in facts:
            facts[trace_id].services.append((name, node_type))
    for trace_id, key, number, text, boolean in db.execute(
        f"SELECT trace_id, key, num, str, bool FROM annotations WHERE {in_ids}", {"ids": ids}
    ):
        if trace_id not in facts:
            continue
        value: Value = bool(boolean) if boolean is not None else number if number is not None else text
        facts[trace_id].annotations.setdefault(key, []).append(value)
    return facts


def annotation_services(db: sqlite3.Connection, trace_ids: list[str]) -> dict[str, dict[str, list[Any]]]:
    """TraceSummary.Annotations: key -> [{AnnotationValue, ServiceIds}] per trace."""
    grouped: dict[str, dict[str, dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]]] = defaultdict(dict)
    for trace_id, key, number, text, boolean, owner_name, owner_type in db.execute(
        "SELECT a.trace_id, a.key, a.num, a.str, a.bool, d.owner_name, d.owner_type"
        " FROM annotations a JOIN docs d ON d.seq = a.doc_seq"
        " WHERE a.trace_id IN (SELECT value FROM json_each(:ids)) ORDER BY a.rowid",
        {"ids": json.dumps(trace_ids)},
    ):
        if boolean is not None:
            annotation_value: dict[str, Any] = {"BooleanValue": bool(boolean)}
        elif number is not None:
            annotation_value = {"NumberValue": number}
        else:
            annotation_value = {"StringValue": text}
        by_value = grouped[trace_id].setdefault(key, {})
        entry = by_value.setdefault(json.dumps(annotation_value, sort_keys=True), (annotation_value, []))
        if owner_name is not None:
            service = service_id(owner_name, owner_type or "")
            if service not in entry[1]:
                entry[1].append(service)
    return {
        trace_id: {
            key: [{"AnnotationValue": value, "ServiceIds": services} for value, services in by_value.values()]
            for key, by_value in keys.items()
        }
        for trace_id, keys in grouped.items()
    }


def entry_point(db: sqlite3.Connection, trace_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT name, origin FROM docs WHERE trace_id = ? AND kind = 'segment'"
        " ORDER BY parent_id IS NOT NULL, start_time LIMIT 1",
        (trace_id,),
    ).fetchone()
    return service_id(row[0], row[1]) if row else None


def service_id(name: str, node_type: str) -> dict[str, Any]:
    """A ServiceId: Name, Names and Type (left out when the segment had no origin)."""
    result: dict[str, Any] = {"Name": name, "Names": [name]}
    if node_type:
        result["Type"] = node_type
    return result


def summary(
    trace: TraceFacts, annotations: dict[str, list[Any]], entry: dict[str, Any] | None
) -> dict[str, Any]:
    """One TraceSummary, field for field as botocore's model has them."""
    http = {
        name: value
        for name, value in (
            ("HttpURL", trace.http_url),
            ("HttpStatus", trace.http_status),
            ("HttpMethod", trace.http_method),
            ("UserAgent", trace.http_useragent),
            ("ClientIp", trace.http_clientip),
        )
        if value is not None
    }
    result: dict[str, Any] = {
        "Id": trace.trace_id,
        "StartTime": trace.start_time,
        "HasFault": trace.fault,
        "HasError": trace.error,
        "HasThrottle": trace.throttle,
        "IsPartial": trace.partial,
        "Http": http,
        "Annotations": annotations,
        "Users": [{"UserName": user, "ServiceIds": []} for user in trace.users],
        "ServiceIds": [service_id(name, node_type) for name, node_type in sorted(trace.services)],
        "ResourceARNs": [],
        "InstanceIds": [],
        "AvailabilityZones": [],
        "FaultRootCauses": [],
        "ErrorRootCauses": [],
        "ResponseTimeRootCauses": [],
        "Revision": 1,
    }
    if trace.duration is not None:
        result["Duration"] = trace.duration
    if trace.response_time is not None:
        result["ResponseTime"] = trace.response_time
    if entry is not None:
        result["EntryPoint"] = entry
    return result


def assemble_trace(db: sqlite3.Connection, trace_id: str) -> dict[str, Any] | None:
    """A BatchGetTraces `Trace`, or None when nothing of it is stored."""
    rows = db.execute(
        "SELECT d.id, d.kind, d.parent_id, d.start_time, d.end_time, b.document"
        " FROM docs d JOIN bodies b ON b.seq = d.seq WHERE d.trace_id = ? ORDER BY d.start_time",
        (trace_id,),
    ).fetchall()
    if not rows:
        return None
    segments = [(row[0], row[5], json.loads(row[5])) for row in rows if row[1] == "segment"]
    loose = [json.loads(row[5]) for row in rows if row[1] == "subsegment"]
    index: dict[str, dict[str, Any]] = {}
    depths: dict[str, int] = {}
    for _, _, document in segments:
        _index(document, index, depths)
    changed: set[str] = set()
    # Attach subsegment documents to their parents; repeat while one attaches to another.
    # A chain of them could nest without end (each document is bounded, not the chain):
    # past MAX_DEPTH, one is left loose, as sent, so no reader recurses out of stack.
    while loose:
        attached = [sub for sub in loose if depths.get(sub["parent_id"], MAX_DEPTH) < MAX_DEPTH]
        if not attached:
            break
        for sub in attached:
            loose.remove(sub)
            parent = index[sub["parent_id"]]
            child = {k: v for k, v in sub.items() if k not in ("type", "trace_id", "parent_id")}
            parent.setdefault("subsegments", []).append(child)
            _index(child, index, depths, depths[sub["parent_id"]] + 1)
            changed.add(sub["parent_id"])
    answered = {row[2] for row in rows if row[1] == "segment" and row[2]}
    out = []
    for segment_id, text, document in segments:
        modified = any(span_id in changed for span_id in _span_ids(document))
        out.append({"Id": segment_id, "Document": json.dumps(document) if modified else text})
        out.extend(_inferred_segments(trace_id, document, answered))
    # A subsegment whose segment never arrived is still shown, as sent.
    out.extend({"Id": sub["id"], "Document": json.dumps(sub)} for sub in loose)
    # Times intake refuses today may sit in an older store: they would make Duration infinite.
    drawn = [row for row in rows if _drawable(row[3], row[4])]
    ends = [row[4] for row in drawn if row[4] is not None]
    starts = [row[3] for row in drawn]
    return {
        "Id": trace_id,
        "Duration": round(max(ends) - min(starts), 6) if ends and starts else 0.0,
        "LimitExceeded": False,
        "Segments": out,
    }


def _index(
    document: dict[str, Any], index: dict[str, dict[str, Any]], depths: dict[str, int], depth: int = 0
) -> None:
    """Every span of `document` by id, and how deep under its segment each one is."""
    pending = [(document, depth)]
    while pending:
        span, level = pending.pop()
        index[span["id"]] = span
        depths[span["id"]] = level
        pending.extend((child, level + 1) for child in span.get("subsegments", ()))


def _span_ids(document: dict[str, Any]) -> list[str]:
    found: dict[str, dict[str, Any]] = {}
    _index(document, found, {})
    return list(found)


def _drawable(start: float, end: float | None) -> bool:
    """The times are ones intake accepts (see documents.MAX_EPOCH_SECONDS)."""
    if not MIN_EPOCH_SECONDS <= start < MAX_EPOCH_SECONDS:
        return False
    return end is None or start <= end < MAX_EPOCH_SECONDS


def _inferred_segments(trace_id: str, document: dict[str, Any], answered: set[str]) -> list[dict[str, Any]]:
    result = []
    stack = list(document.get("subsegments", ()))
    while stack:
        sub = stack.pop()
        stack.extend(sub.get("subsegments", ()))
        name, node_type = inferred_node(sub, sub.get("name", ""), sub.get("namespace"))
        if name is None or sub["id"] in answered or "end_time" not in sub:
            continue
        inferred: dict[str, Any] = {
            # Stable, so two reads of a trace show the same inferred segment id.
            "id": hashlib.sha256(f"{trace_id}/{sub['id']}".encode()).hexdigest()[:16],
            "name": name,
            "start_time": sub["start_time"],
            "end_time": sub["end_time"],
            "parent_id": sub["id"],
            "inferred": True,
            "trace_id": trace_id,
            "origin": node_type,
        }
        for key in ("aws", "http", "error", "fault", "throttle", "cause"):
            if key in sub:
                inferred[key] = sub[key]
        result.append({"Id": inferred["id"], "Document": json.dumps(inferred)})
    return result
