"""Whole traces: the facts behind TraceSummary (and filters), and BatchGetTraces' assembly.

BatchGetTraces answers as X-Ray does: subsegments that were sent on their own are put back
into the segment they belong to, and every aws/remote subsegment that no real segment answers
gets an inferred segment (`"inferred": true`, origin = the node type, e.g. DynamoDB's table).
"""

import hashlib
import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.xray.documents import (
    MAX_DEPTH,
    MAX_EPOCH_SECONDS,
    MIN_EPOCH_SECONDS,
    Status,
    inferred_node,
    inferred_segment_name,
    span_status,
)
from emulator.xray.filters import (
    Call,
    EdgeCalls,
    RootCause,
    RootCauseEntity,
    RootCauseException,
    RootCauseService,
    ServiceNode,
    TraceDetail,
    TraceFacts,
    Value,
    root_cause_json,
)
from emulator.xray.graph import CLIENT_TYPE, drawable_times

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
    for trace_id, start, end, in_progress, orphans, revision in db.execute(
        "SELECT trace_id, min(start_time), max(end_time), max(in_progress),"
        f" max(kind = 'subsegment' AND owner_name IS NULL), count(*)"
        f" FROM docs WHERE {in_ids} AND {drawable} GROUP BY trace_id",
        {"ids": ids},
    ):
        facts[trace_id] = TraceFacts(
            trace_id=trace_id,
            start_time=start,
            duration=None if end is None else seconds(end - start),
            # In progress, or a subsegment whose segment never arrived: X-Ray calls both partial.
            partial=bool(in_progress or orphans),
            # Each document stored for the trace is a new version of it.
            revision=revision,
            load_detail=detail_loader(db, trace_id),
        )
    for trace_id, throttle, inferred in db.execute(
        "SELECT trace_id, max(throttle), max(inferred_name IS NOT NULL AND answered = 0)"
        f" FROM spans WHERE {in_ids} GROUP BY trace_id",
        {"ids": ids},
    ):
        if trace_id in facts:
            # HasThrottle: any segment or subsegment of the trace was throttled.
            facts[trace_id].throttle = bool(throttle)
            facts[trace_id].inferred = bool(inferred)
    # The root segment: no parent, else the earliest segment. Its status is the trace's
    # HasError / HasFault, and what `ok`, `error` and `fault` test, as the console means them.
    seen: set[str] = set()
    for row in db.execute(
        "SELECT trace_id, start_time, end_time, http_url, http_method, http_status, http_useragent,"
        f" http_clientip, error, fault FROM docs WHERE kind = 'segment' AND {in_ids} AND {drawable}"
        # seq breaks ties in start time: the same root as computed_traces picks.
        " ORDER BY trace_id, parent_id IS NOT NULL, start_time, seq",
        {"ids": ids},
    ):
        trace_id = row[0]
        if trace_id in seen or trace_id not in facts:
            continue
        seen.add(trace_id)
        trace = facts[trace_id]
        trace.response_time = None if row[2] is None else seconds(row[2] - row[1])
        (trace.http_url, trace.http_method, trace.http_status) = row[3:6]
        (trace.http_useragent, trace.http_clientip) = row[6:8]
        trace.error, trace.fault = bool(row[8]), bool(row[9])
    for trace_id, user in db.execute(
        f"SELECT DISTINCT trace_id, user FROM docs WHERE user IS NOT NULL AND {in_ids}"
        " ORDER BY trace_id, user",
        {"ids": ids},
    ):
        if trace_id in facts:
            facts[trace_id].users.append(user)
    for trace_id, name, node_type in db.execute(
        f"SELECT DISTINCT trace_id, name, origin FROM docs WHERE kind = 'segment' AND {in_ids}"
        " UNION SELECT DISTINCT s.trace_id, s.inferred_name, s.inferred_type FROM spans s"
        f" WHERE s.inferred_name IS NOT NULL AND s.answered = 0 AND s.{in_ids}"
        # The caller of the root segment: GetServiceGraph's client node.
        f" UNION SELECT DISTINCT trace_id, name, '{CLIENT_TYPE}' FROM docs"
        f" WHERE kind = 'segment' AND parent_id IS NULL AND {in_ids}"
        " ORDER BY 1, 2, 3",
        {"ids": ids},
    ):
        if trace_id in facts:
            facts[trace_id].services.append((name, node_type))
    for trace_id, key, number, text, boolean in db.execute(
        f"SELECT trace_id, key, num, str, bool FROM annotations WHERE {in_ids} ORDER BY trace_id, rowid",
        {"ids": ids},
    ):
        if trace_id not in facts:
            continue
        value: Value = bool(boolean) if boolean is not None else number if number is not None else text
        facts[trace_id].annotations.setdefault(key, []).append(value)
    return facts


# Each annotation of the traces, with the node of the document that wrote it.
_ANNOTATIONS = (
    "SELECT a.trace_id, a.key, a.num, a.str, a.bool, d.owner_name, d.owner_type"
    " FROM annotations a JOIN docs d ON d.seq = a.doc_seq"
    " WHERE a.trace_id IN (SELECT value FROM json_each(:ids)) ORDER BY a.trace_id, a.rowid"
)


def annotation_services(db: sqlite3.Connection, trace_ids: list[str]) -> dict[str, dict[str, list[Any]]]:
    """TraceSummary.Annotations: key -> [{AnnotationValue, ServiceIds}] per trace."""
    return _annotation_services(db.execute(_ANNOTATIONS, {"ids": json.dumps(trace_ids)}))


def _annotation_services(rows: Iterable[tuple[Any, ...]]) -> dict[str, dict[str, list[Any]]]:
    """annotation_services of rows of _ANNOTATIONS."""
    grouped: dict[str, dict[str, dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]]] = defaultdict(dict)
    for trace_id, key, number, text, boolean, owner_name, owner_type in rows:
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


def computed_traces(db: sqlite3.Connection, trace_ids: list[str]) -> list[tuple[TraceFacts, dict[str, Any]]]:
    """Each stored trace of `trace_ids` with its TraceSummary: exactly what trace_facts,
    annotation_services and summary answer, from one read of the traces' rows.

    This is the index's path (trace_index.refresh): there a trace's facts cost seven grouped
    queries, then a query and a read of the trace's documents of its own, then Calls and
    edges no summary shows; the daemon could store only a few thousand traces a second.
    trace_facts and summary stay the reference (and the fallback): tests hold the two equal.
    """
    return compute_traces(read_traces(db, trace_ids))


@dataclass
class TraceRows:
    """What computed_traces reads of some traces (read_traces), to compute from later."""

    db: sqlite3.Connection  # for the facts' detail loaders, read only when a filter asks
    rows_of: dict[str, list[tuple[Any, ...]]]
    throttled: set[str]
    flagged: set[str]
    inferred_nodes: dict[str, list[tuple[str, str]]]
    notes: list[tuple[Any, ...]]


def read_traces(db: sqlite3.Connection, trace_ids: list[str]) -> TraceRows:
    """The rows of `trace_ids` computed_traces computes from: read in one snapshot, computed
    after it (the indexer's snapshot then lasts its queries, not its computing, so the
    write-ahead log can be started again meanwhile)."""
    ids = json.dumps(trace_ids)
    rows_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in db.execute(
        f"SELECT {_DOC_COLUMNS} FROM docs d JOIN bodies b ON b.seq = d.seq"
        f" WHERE d.trace_id IN (SELECT value FROM json_each(?)) ORDER BY d.trace_id, {_DOC_ORDER}",
        (ids,),
    ):
        rows_of[row[0]].append(row)
    # Per trace: throttled anywhere; inferred nodes no real segment answers (a group each).
    throttled: set[str] = set()
    # Traces with an error or fault flag on any span: only their entities' flags are read for
    # root causes (the spans hold each span's flags as span_status reads them; an inferred
    # segment copies its subsegment's), so most traces skip that walk.
    flagged: set[str] = set()
    inferred_nodes: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for trace_id, throttle, error, fault, name, node_type, answered in db.execute(
        "SELECT trace_id, max(throttle), max(error), max(fault), inferred_name, inferred_type,"
        " min(answered) FROM spans WHERE trace_id IN (SELECT value FROM json_each(?))"
        " GROUP BY trace_id, inferred_name, inferred_type",
        (ids,),
    ):
        if throttle:
            throttled.add(trace_id)
        if error or fault:
            flagged.add(trace_id)
        if name is not None and not answered:
            inferred_nodes[trace_id].append((name, node_type))
    notes = db.execute(_ANNOTATIONS, {"ids": ids}).fetchall()
    return TraceRows(db, rows_of, throttled, flagged, inferred_nodes, notes)


def compute_traces(read: TraceRows) -> list[tuple[TraceFacts, dict[str, Any]]]:
    """computed_traces' answer from what read_traces read."""
    db, rows_of, throttled, flagged = read.db, read.rows_of, read.throttled, read.flagged
    inferred_nodes, notes = read.inferred_nodes, read.notes
    values: dict[str, dict[str, list[Value]]] = defaultdict(dict)
    for trace_id, key, number, text, boolean, _, _ in notes:
        value: Value = bool(boolean) if boolean is not None else number if number is not None else text
        values[trace_id].setdefault(key, []).append(value)
    annotations = _annotation_services(notes)
    computed = []
    for trace_id, rows in rows_of.items():
        drawn = [row for row in rows if _drawable(row[_START], row[_END])]
        if not drawn:
            continue
        start = min(row[_START] for row in drawn)
        ends = [row[_END] for row in drawn if row[_END] is not None]
        # In progress, or a subsegment whose segment never arrived: X-Ray calls both partial.
        partial = any(
            row[_IN_PROGRESS] or (row[_KIND] == "subsegment" and row[_OWNER] is None) for row in drawn
        )
        services = {(row[_NAME], row[_ORIGIN]) for row in rows if row[_KIND] == "segment"}
        services.update(
            (row[_NAME], CLIENT_TYPE) for row in rows if row[_KIND] == "segment" and row[_PARENT] is None
        )
        services.update(inferred_nodes.get(trace_id, ()))
        facts = TraceFacts(
            trace_id=trace_id,
            start_time=start,
            duration=seconds(max(ends) - start) if ends else None,
            partial=partial,
            revision=len(drawn),
            throttle=trace_id in throttled,
            inferred=trace_id in inferred_nodes,
            users=sorted({row[_USER] for row in rows if row[_USER] is not None}),
            services=sorted(services),
            annotations=values.get(trace_id, {}),
            load_detail=detail_loader(db, trace_id),
        )
        # The root segment: no parent, else the earliest (rows are in start time, seq order).
        segments = [row for row in drawn if row[_KIND] == "segment"]
        root = next((row for row in segments if row[_PARENT] is None), segments[0] if segments else None)
        if root is not None:
            end = root[_END]
            facts.response_time = None if end is None else seconds(end - root[_START])
            (facts.http_url, facts.http_method, facts.http_status) = root[10:13]
            (facts.http_useragent, facts.http_clientip) = root[13:15]
            facts.error, facts.fault = bool(root[_ERROR]), bool(root[_FAULT])
        detail = trace_detail(_tree(trace_id, rows), calls=False, any_flagged=trace_id in flagged)
        computed.append((facts, summary(facts, annotations.get(trace_id, {}), detail)))
    return computed


def seconds(value: float) -> float:
    """A duration as X-Ray reports it: seconds to the millisecond (the developer guide's
    GetTraceSummaries and BatchGetTraces examples: "ResponseTime": 0.084, "Duration": 3.232)."""
    return round(value, 3)


def service_id(name: str, node_type: str, account_id: str | None = None) -> dict[str, Any]:
    """A ServiceId: Name, Names, AccountId when known, and Type (left out when it had no origin)."""
    result: dict[str, Any] = {"Name": name, "Names": [name]}
    if account_id is not None:
        result["AccountId"] = account_id
    if node_type:
        result["Type"] = node_type
    return result


def summary(
    trace: TraceFacts, annotations: dict[str, list[Any]], detail: TraceDetail | None = None
) -> dict[str, Any]:
    """One TraceSummary, field for field as botocore's model has them.

    detail: the trace's, when the caller has it (trace_detail(..., calls=False) is enough)."""
    if detail is None:
        detail = trace.detail()
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
        "ServiceIds": [
            service_id(node.name, node.node_type, node.account_id)
            for node in sorted(detail.services, key=lambda node: (node.name, node.node_type))
        ],
        "ResourceARNs": [{"ARN": arn} for arn in detail.resource_arns],
        "InstanceIds": [{"Id": instance} for instance in detail.instance_ids],
        "AvailabilityZones": [{"Name": zone} for zone in detail.availability_zones],
        "FaultRootCauses": [root_cause_json(cause) for cause in detail.fault_root_causes],
        "ErrorRootCauses": [root_cause_json(cause) for cause in detail.error_root_causes],
        "ResponseTimeRootCauses": [root_cause_json(cause) for cause in detail.response_time_root_causes],
        "Revision": trace.revision,
    }
    if trace.duration is not None:
        result["Duration"] = trace.duration
    if trace.response_time is not None:
        result["ResponseTime"] = trace.response_time
    entry = detail.entry_point
    if entry is not None:
        result["EntryPoint"] = service_id(entry.name, entry.node_type, entry.account_id)
    return result


def detail_loader(db: sqlite3.Connection, trace_id: str) -> Callable[[], TraceDetail]:
    """Reads the trace's documents when a filter or a summary first needs them."""

    def load() -> TraceDetail:
        tree = load_tree(db, trace_id)
        return trace_detail(tree) if tree is not None else TraceDetail()

    return load


@dataclass
class _Inferred:
    """An inferred segment: the aws/remote subsegment it stands for, and its node."""

    document: dict[str, Any]
    node: tuple[str, str]
    subsegment: dict[str, Any]


@dataclass
class TraceTree:
    """A trace's stored documents put together as X-Ray does for BatchGetTraces."""

    trace_id: str
    rows: list[tuple[Any, ...]]
    # (id, stored text, document with its sent-alone subsegments attached)
    segments: list[tuple[str, str, dict[str, Any]]]
    changed: set[str]
    loose: list[dict[str, Any]]
    inferred: dict[str, list[_Inferred]]  # by the id of the segment holding the subsegment


# A stored document as load_tree and computed_traces read it: its columns, then its JSON.
_DOC_COLUMNS = (
    "d.trace_id, d.seq, d.id, d.kind, d.parent_id, d.start_time, d.end_time, d.in_progress, d.error,"
    " d.fault, d.http_url, d.http_method, d.http_status, d.http_useragent, d.http_clientip, d.user,"
    " d.owner_name, d.name, d.origin, b.document"
)
(_SEQ, _ID, _KIND, _PARENT, _START, _END, _IN_PROGRESS, _ERROR, _FAULT) = range(1, 10)
(_USER, _OWNER, _NAME, _ORIGIN, _DOCUMENT) = range(15, 20)
# Ties in start time are broken by arrival (seq): every reader puts a trace's documents, and so
# its segments, root and root causes, in the same order.
_DOC_ORDER = "d.start_time, d.seq"


def load_tree(db: sqlite3.Connection, trace_id: str) -> TraceTree | None:
    """The trace's documents as one tree per segment, or None when nothing of it is stored."""
    rows = db.execute(
        f"SELECT {_DOC_COLUMNS} FROM docs d JOIN bodies b ON b.seq = d.seq WHERE d.trace_id = ?"
        f" ORDER BY {_DOC_ORDER}",
        (trace_id,),
    ).fetchall()
    return _tree(trace_id, rows) if rows else None


def _tree(trace_id: str, rows: list[tuple[Any, ...]]) -> TraceTree:
    """The tree of a trace's rows (_DOC_COLUMNS, in _DOC_ORDER)."""
    segments = [
        (row[_ID], row[_DOCUMENT], json.loads(row[_DOCUMENT])) for row in rows if row[_KIND] == "segment"
    ]
    loose = [json.loads(row[_DOCUMENT]) for row in rows if row[_KIND] == "subsegment"]
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
    answered = {row[_PARENT] for row in rows if row[_KIND] == "segment" and row[_PARENT]}
    inferred = {
        segment_id: _inferred_segments(trace_id, document, answered) for segment_id, _, document in segments
    }
    return TraceTree(trace_id, rows, segments, changed, loose, inferred)


def assemble_trace(db: sqlite3.Connection, trace_id: str) -> dict[str, Any] | None:
    """A BatchGetTraces `Trace`, or None when nothing of it is stored."""
    tree = load_tree(db, trace_id)
    if tree is None:
        return None
    out = []
    for segment_id, text, document in tree.segments:
        modified = any(span_id in tree.changed for span_id in _span_ids(document))
        out.append({"Id": segment_id, "Document": json.dumps(document) if modified else text})
        out.extend(
            {"Id": item.document["id"], "Document": json.dumps(item.document)}
            for item in tree.inferred[segment_id]
        )
    # A subsegment whose segment never arrived is still shown, as sent.
    out.extend({"Id": sub["id"], "Document": json.dumps(sub)} for sub in tree.loose)
    # Times intake refuses today may sit in an older store: they would make Duration infinite.
    drawn = [row for row in tree.rows if _drawable(row[_START], row[_END])]
    ends = [row[_END] for row in drawn if row[_END] is not None]
    starts = [row[_START] for row in drawn]
    return {
        "Id": trace_id,
        "Duration": seconds(max(ends) - min(starts)) if ends and starts else 0.0,
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


def _inferred_segments(trace_id: str, document: dict[str, Any], answered: set[str]) -> list[_Inferred]:
    result = []
    stack = list(document.get("subsegments", ()))
    while stack:
        sub = stack.pop()
        stack.extend(sub.get("subsegments", ()))
        name, node_type = inferred_node(sub, sub.get("name", ""), sub.get("namespace"))
        if name is None or node_type is None or sub["id"] in answered or "end_time" not in sub:
            continue
        inferred: dict[str, Any] = {
            # Stable, so two reads of a trace show the same inferred segment id.
            "id": hashlib.sha256(f"{trace_id}/{sub['id']}".encode()).hexdigest()[:16],
            # Named for the service called (DynamoDB), while the node on the map is the
            # resource (the table): the developer guide's BatchGetTraces example has
            # "name":"DynamoDB" with origin AWS::DynamoDB::Table and aws.table_name.
            "name": inferred_segment_name(sub),
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
        result.append(_Inferred(inferred, (name, node_type), sub))
    return result


# -- the trace as a graph of entities: services, edges, root causes -----------------------------


@dataclass
class _Entity:
    """A segment (real or inferred) or subsegment, under the span that called it."""

    document: dict[str, Any]
    node: ServiceNode
    segment: bool
    parent: "_Entity | None" = None
    children: list["_Entity"] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        start, end = self.document.get("start_time"), self.document.get("end_time")
        if not isinstance(start, int | float) or not isinstance(end, int | float):
            return None
        return float(end) - float(start)


def trace_detail(tree: TraceTree, calls: bool = True, any_flagged: bool = True) -> TraceDetail:
    """Services, edges, root causes and per-segment fields: every fact that needs the documents,
    computed here and only here (filters and TraceSummary both read it).

    calls=False leaves out what only filters read (each node's segments as Calls, the edges):
    a TraceSummary needs none of it, and building it was a third of a summary's cost.
    any_flagged=False: the caller knows no span of the trace has the error or fault flag (the
    spans table says so), so there are no fault or error root causes to look for."""
    nodes: dict[tuple[str, str], ServiceNode] = {}
    spans: dict[str, _Entity] = {}
    tops: list[_Entity] = []
    for segment_id, _, document in tree.segments:
        key = (str(document.get("name", "")), str(document.get("origin") or ""))
        node = nodes.setdefault(key, ServiceNode(key[0], key[1], account_id=_account_of(document)))
        tops.append(_entities(document, node, spans))
        for item in tree.inferred[segment_id]:
            caller = spans.get(item.subsegment["id"])
            target = nodes.setdefault(
                item.node,
                ServiceNode(*item.node, account_id=caller.node.account_id if caller else None, inferred=True),
            )
            entity = _Entity(item.document, target, segment=True, parent=caller)
            if caller is not None:
                caller.children.append(entity)
            tops.append(entity)
    for top in tops:
        parent_id = top.document.get("parent_id")
        if top.parent is None and isinstance(parent_id, str) and parent_id in spans:
            top.parent = spans[parent_id]
            top.parent.children.append(top)
    root = next((top for top in tops if not top.document.get("parent_id")), None)
    detail = TraceDetail(services=list(nodes.values()))
    # A document's flags are read once for all its uses (its segment's Call, the edges it
    # times, both root cause walks): reading them was a third of a trace's cost at insert.
    statuses = _Statuses()
    if calls:
        for top in tops:
            call = _call(top.document, top.node, statuses.of(top.document), root=top is root)
            top.node.segments.append(call)
            if top.parent is not None:
                _add_edge(detail, top, statuses)
    if root is not None:
        detail.entry_point = root.node
        client = ServiceNode(root.node.name, CLIENT_TYPE)
        detail.services.append(client)
        if calls:
            root_call = _call(root.document, root.node, statuses.of(root.document), root=True)
            detail.edges.append(EdgeCalls(client, root.node, [root_call]))
        everything = _descendants(root) if any_flagged else []
        # Both flags in one pass; most traces have neither, and then no path is built.
        faults: set[int] = set()
        errors: set[int] = set()
        for entity in everything:
            status = statuses.of(entity.document)
            if status.fault:
                faults.add(id(entity))
            if status.error:
                errors.add(id(entity))
        detail.fault_root_causes = _status_root_causes(root, everything, faults)
        detail.error_root_causes = _status_root_causes(root, everything, errors)
        detail.response_time_root_causes = _response_time_root_causes(root)
    for _, _, document in tree.segments:
        aws = _object(document.get("aws"))
        ec2 = _object(aws.get("ec2"))
        for values, value in (
            (detail.resource_arns, document.get("resource_arn")),
            (detail.instance_ids, ec2.get("instance_id")),
            (detail.availability_zones, ec2.get("availability_zone")),
        ):
            if isinstance(value, str) and value and value not in values:
                values.append(value)
    return detail


def _entities(document: dict[str, Any], node: ServiceNode, spans: dict[str, _Entity]) -> _Entity:
    """The segment and its subsegments as entities, indexed by span id (iterative: no depth limit)."""
    top = _Entity(document, node, segment=True)
    pending = [top]
    while pending:
        entity = pending.pop()
        span_id = entity.document.get("id")
        if isinstance(span_id, str):
            spans.setdefault(span_id, entity)
        for child in entity.document.get("subsegments") or ():
            if isinstance(child, dict):
                sub = _Entity(child, node, segment=False, parent=entity)
                entity.children.append(sub)
                pending.append(sub)
    return top


class _Statuses:
    """span_status of each document of one trace, read at most once (by id(): the documents
    outlive this, so no id is reused while it is kept)."""

    def __init__(self) -> None:
        self._by_id: dict[int, Status] = {}

    def of(self, document: dict[str, Any]) -> Status:
        status = self._by_id.get(id(document))
        if status is None:
            status = self._by_id[id(document)] = span_status(document)
        return status


def _add_edge(detail: TraceDetail, callee: _Entity, statuses: _Statuses) -> None:
    """The edge caller -> callee, timed by the caller's subsegment when it has one."""
    caller = callee.parent
    assert caller is not None
    call = caller.document if not caller.segment else callee.document
    for edge in detail.edges:
        if edge.source is caller.node and edge.target is callee.node:
            edge.calls.append(_call(call, callee.node, statuses.of(call)))
            return
    detail.edges.append(EdgeCalls(caller.node, callee.node, [_call(call, callee.node, statuses.of(call))]))


def _call(document: dict[str, Any], node: ServiceNode, status: Status, root: bool = False) -> Call:
    http = _object(document.get("http"))
    request, response = _object(http.get("request")), _object(http.get("response"))
    start, end = document.get("start_time"), document.get("end_time")
    code = response.get("status")
    return Call(
        name=str(document.get("name", "")),
        node_type=node.node_type,
        error=status.error,
        fault=status.fault,
        throttle=status.throttle,
        root=root,
        inferred=document.get("inferred") is True,
        in_progress=document.get("in_progress") is True,
        response_time=seconds(end - start)
        if isinstance(start, int | float) and isinstance(end, int | float)
        else None,
        http_url=_text(request.get("url")),
        http_method=_text(request.get("method")),
        http_status=code if isinstance(code, int) and not isinstance(code, bool) else None,
        http_useragent=_text(request.get("user_agent")),
        http_clientip=_text(request.get("client_ip")),
        user=_text(document.get("user")),
        resource_arn=_text(document.get("resource_arn")),
        account_id=node.account_id,
    )


def _account_of(document: dict[str, Any]) -> str | None:
    """The account a segment's service runs in: aws.account_id (Lambda's function segment),
    aws.api_gateway.account_id, or the account field of its resource_arn."""
    aws = _object(document.get("aws"))
    for value in (aws.get("account_id"), _object(aws.get("api_gateway")).get("account_id")):
        if isinstance(value, str) and value:
            return value
    arn = document.get("resource_arn")
    if isinstance(arn, str):
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    return None


def _path(entity: _Entity) -> list[_Entity]:
    path: list[_Entity] = []
    current: _Entity | None = entity
    while current is not None and len(path) <= _MAX_PATH:
        path.append(current)
        current = current.parent
    return list(reversed(path))


# A root cause path longer than this (a chain of documents no real trace has) is cut.
_MAX_PATH = 4 * MAX_DEPTH


def _descendants(root: _Entity) -> list[_Entity]:
    found = []
    pending = [root]
    seen: set[int] = set()
    while pending:
        entity = pending.pop()
        if id(entity) in seen:
            continue
        seen.add(id(entity))
        found.append(entity)
        pending.extend(entity.children)
    return found


def _status_root_causes(root: _Entity, everything: list[_Entity], flagged: set[int]) -> list[RootCause]:
    """Fault (or error) root causes: for each entity with the flag and no flagged entity
    below it, the path from the entry point down to it, grouped by service.

    everything: _descendants(root); flagged: the id() of each of them with the flag."""
    if not flagged:
        return []
    causes = []
    for entity in everything:
        if id(entity) in flagged and not any(id(d) in flagged for d in _descendants(entity)[1:]):
            causes.append(RootCause(_services_along(_path(entity)), client_impacting=id(root) in flagged))
    return _distinct(causes)


def _response_time_root_causes(root: _Entity) -> list[RootCause]:
    """The path of the slowest child at each step, with each entity's share of the response
    time (Coverage, as in the developer guide's ResponseTimeRootCauses example)."""
    total = root.duration
    if not total or total <= 0:
        return []
    path = [root]
    while path[-1].children and len(path) <= _MAX_PATH:
        path.append(max(path[-1].children, key=lambda child: child.duration or 0.0))
    # A response time cause shows no exceptions (Coverage instead): none are read.
    services = _services_along(path, with_exceptions=False)
    # The services' entities, in order, are the path's steps.
    entities = (entity for service in services for entity in service.entity_path)
    for entity, step in zip(entities, path, strict=True):
        entity.coverage = round(min(1.0, (step.duration or 0.0) / total), 3)
    return [RootCause(services, client_impacting=True)]


def _services_along(path: list[_Entity], with_exceptions: bool = True) -> list[RootCauseService]:
    """The entities of `path` grouped by service: a new service at each segment."""
    services: list[RootCauseService] = []
    for entity in path:
        if entity.segment or not services:
            node = entity.node
            services.append(RootCauseService(node.name, node.node_type, node.account_id, node.inferred))
        services[-1].entity_path.append(
            RootCauseEntity(
                name=str(entity.document.get("name", "")),
                exceptions=_exceptions(entity.document) if with_exceptions else [],
                remote=_remote(entity.document),
            )
        )
    return services


def _exceptions(document: dict[str, Any]) -> list[RootCauseException]:
    cause = document.get("cause")
    if not isinstance(cause, dict):
        return []
    return [
        RootCauseException(name=str(x.get("type") or ""), message=_text(x.get("message")))
        for x in cause.get("exceptions") or ()
        if isinstance(x, dict)
    ]


def _remote(document: dict[str, Any]) -> bool:
    """A call to another service (an AWS or remote subsegment, an inferred segment), or an
    exception the SDK marked remote."""
    if document.get("namespace") in ("aws", "remote") or document.get("inferred") is True:
        return True
    cause = document.get("cause")
    exceptions = cause.get("exceptions") if isinstance(cause, dict) else None
    return any(isinstance(x, dict) and x.get("remote") is True for x in exceptions or ())


def _distinct(causes: list[RootCause]) -> list[RootCause]:
    """The causes that differ in what root_cause_json shows, first ones first."""
    seen: set[tuple[Any, ...]] = set()
    result = []
    for cause in causes:
        key = _cause_key(cause)
        if key not in seen:
            seen.add(key)
            result.append(cause)
    return result


def _cause_key(cause: RootCause) -> tuple[Any, ...]:
    """Every field root_cause_json writes, as a tuple: equal exactly when the JSON is (without
    building and serializing it). Coverage stands for Exceptions when it is set, as there."""
    return (
        cause.client_impacting,
        tuple(
            (
                service.name,
                service.node_type,
                service.account_id,
                service.inferred,
                tuple(
                    (
                        entity.name,
                        entity.remote,
                        entity.coverage,
                        ()
                        if entity.coverage is not None
                        else tuple((x.name, x.message) for x in entity.exceptions),
                    )
                    for entity in service.entity_path
                ),
            )
            for service in cause.services
        ),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
