"""The service graph (GetServiceGraph / GetTraceGraph `Services`), aggregated in SQL.

How X-Ray draws it, and how this module does:
  * one node per (name, origin) of the segments: `sam-app/Prod` AWS::ApiGateway::Stage,
    the function's AWS::Lambda and AWS::Lambda::Function nodes, and so on;
  * an edge A -> B when segment B's parent_id is A's id or one of A's subsegments' ids;
    its statistics are the caller's: the subsegment of A that B's parent_id names (API
    Gateway's `Lambda` call, say), or B's own when B hangs off A's segment itself;
  * inferred nodes for subsegments in namespace "aws" (Name = aws.table_name and Type
    AWS::DynamoDB::Table for DynamoDB, else Name = subsegment name and Type AWS::<name>) or
    "remote" (Name = the URL's host, Type "remote"), unless a real segment answers that
    subsegment (API Gateway's "Lambda" subsegment is answered by the AWS::Lambda segment);
    their statistics are the subsegment's;
  * Root=true on nodes that have segments with no parent_id, and for each such node a
    `client` node: Type "client", named as the root service, State "unknown", with no
    statistics of its own and one edge to the root whose statistics are the root segments'.
    That is the shape of the X-Ray developer guide's GetServiceGraph example ("a service
    graph with 4 nodes, including a client node": awsdocs/aws-xray-developer-guide,
    doc-source/xray-api-gettingdata.md);
  * node and edge StartTime / EndTime are whole seconds (the same example: 1528317567.0),
    widened outwards so the span still covers every request it counts.

Statistics count a fault (5xx) as a fault only, an error (4xx) as an error, a throttle (429)
as an error with ThrottleCount; histograms bucket durations to the millisecond.
"""

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.xray import minute_stats
from emulator.xray.documents import MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS

# A node: (name, type); type is the segment's origin, "" when it has none.
NodeKey = tuple[str, str]


def _stats_columns(alias: str) -> str:
    """The per-bucket aggregates every graph query selects (Stats.add reads them in order)."""
    a = alias
    return (
        f"ROUND({a}.end_time - {a}.start_time, 3) AS bucket, count(*), sum({a}.end_time - {a}.start_time),"
        f" sum({a}.fault), sum({a}.error AND NOT {a}.fault), sum({a}.throttle AND NOT {a}.fault),"
        f" min({a}.start_time), max({a}.end_time)"
    )


@dataclass
class Stats:
    """Running totals for one node or edge."""

    total: int = 0
    faults: int = 0
    errors: int = 0
    throttles: int = 0
    response_time: float = 0.0
    start: float | None = None
    end: float | None = None
    histogram: Counter[float] = field(default_factory=Counter)

    def add(self, row: tuple[Any, ...]) -> None:
        bucket, count, total_time, faults, errors, throttles, start, end = row
        self.total += count
        self.faults += faults
        self.errors += errors
        self.throttles += throttles
        self.response_time += total_time
        self.histogram[bucket] += count
        self.start = start if self.start is None else min(self.start, start)
        self.end = end if self.end is None else max(self.end, end)

    def statistics(self) -> dict[str, Any]:
        """ServiceStatistics / EdgeStatistics, field for field."""
        return {
            "OkCount": self.total - self.errors - self.faults,
            "ErrorStatistics": {
                "ThrottleCount": self.throttles,
                "OtherCount": self.errors - self.throttles,
                "TotalCount": self.errors,
            },
            "FaultStatistics": {"OtherCount": self.faults, "TotalCount": self.faults},
            "TotalCount": self.total,
            "TotalResponseTime": round(self.response_time, 6),
        }

    def histogram_entries(self) -> list[dict[str, Any]]:
        return [{"Value": value, "Count": count} for value, count in sorted(self.histogram.items())]


@dataclass(frozen=True)
class Scope:
    """Which stored data a graph covers: segments overlapping [start, end], or given traces."""

    start: float | None = None
    end: float | None = None
    trace_ids: tuple[str, ...] | None = None
    # Only rows starting in [first, last): a part of a window (minute_stats.py).
    starts: tuple[float, float] | None = None

    def docs_index(self) -> str:
        """How a query of this scope reads `docs d`: a part of a window by its start times.
        Left to itself SQLite takes docs_graph's end time range, which from a window's start
        is every later document: each part of a long window scanned the whole store."""
        return " INDEXED BY docs_starts" if self.starts is not None else ""

    def where(self, table: str, params: dict[str, Any]) -> str:
        drawable = drawable_times(table)
        if self.trace_ids is not None:
            params["trace_ids"] = _json_list(self.trace_ids)
            return f"{table}.trace_id IN (SELECT value FROM json_each(:trace_ids)) AND {drawable}"
        conditions = [drawable]
        if self.start is not None:
            params["start"] = self.start
            params["end"] = self.end
            conditions.insert(0, f"{table}.end_time >= :start AND {table}.start_time <= :end")
        if self.starts is not None:
            params["first"], params["last"] = self.starts
            conditions.insert(0, f"{table}.start_time >= :first AND {table}.start_time < :last")
        return " AND ".join(conditions)


def drawable_times(table: str) -> str:
    """SQL: the row's times are ones intake accepts today (documents.MIN/MAX_EPOCH_SECONDS).

    A store written before intake checked times may hold a span from -1e308 to 1e308: it
    would overlap every window and turn every statistic into Infinity. Such rows are left
    out of what is drawn (kept on disk: nothing stored is deleted for being odd).
    """
    t = table
    return (
        f"{t}.start_time >= {MIN_EPOCH_SECONDS} AND {t}.start_time < {MAX_EPOCH_SECONDS}"
        f" AND ({t}.end_time IS NULL"
        f" OR ({t}.end_time >= {t}.start_time AND {t}.end_time < {MAX_EPOCH_SECONDS}))"
    )


def build_services(db: sqlite3.Connection, scope: Scope) -> list[dict[str, Any]]:
    """The `Services` list of GetServiceGraph (scope = a window) or GetTraceGraph (trace ids).

    A long window reads whole minutes from the per-minute aggregates and only the rest from
    the documents (minute_stats.plan); a short one, or trace ids, reads the documents."""
    graph = _Graph()
    # Nodes first, then edges, then inferred nodes: an inferred node is one no segment names.
    for part, add in (("node", _add_node_row), ("edge", _add_edge_row), ("inferred", _add_inferred_row)):
        for rows in _row_sources(db, scope, part):
            for row in rows:
                add(graph, row)
    return graph.services()


def _row_sources(db: sqlite3.Connection, scope: Scope, part: str) -> list[Iterable[tuple[Any, ...]]]:
    query = ROW_QUERIES[part]
    planned = None
    if scope.trace_ids is None and scope.starts is None and scope.start is not None and scope.end is not None:
        planned = minute_stats.plan(db, scope.start, scope.end)
    if planned is None:
        return [query(db, scope, False)]
    exact = [
        query(db, Scope(scope.start, scope.end, starts=starts), False) for starts in planned.exact_starts
    ]
    return [planned.summed_rows(db, part), *exact]


def minute_rows(db: sqlite3.Connection, part: str, first: float, last: float) -> Iterable[tuple[Any, ...]]:
    """A part's rows starting in [first, last), by minute: what minute_stats.py sums."""
    return ROW_QUERIES[part](db, Scope(starts=(first, last)), True)


@dataclass
class _Graph:
    """Nodes, edges and the statistics of each, as the queries find them."""

    nodes: dict[NodeKey, Stats] = field(default_factory=dict)
    # Per root node: the statistics of its root segments only (the client's edge to it).
    roots: dict[NodeKey, Stats] = field(default_factory=dict)
    inferred: set[NodeKey] = field(default_factory=set)
    edges: dict[tuple[NodeKey, NodeKey], Stats] = field(default_factory=dict)

    def services(self) -> list[dict[str, Any]]:
        return _services(self)


# The rows each part of the graph is made of: the node, caller and callee columns and then
# the statistics columns (_stats_columns). `by_minute` adds the minute the rows start in as
# the first column: what minute_stats.py stores.
RowQuery = Callable[[sqlite3.Connection, Scope, bool], Iterable[tuple[Any, ...]]]


def _minute_column(alias: str, by_minute: bool) -> tuple[str, str]:
    if not by_minute:
        return "", ""
    return f"CAST({alias}.start_time / 60 AS INTEGER) AS minute, ", "minute, "


def node_rows(db: sqlite3.Connection, scope: Scope, by_minute: bool = False) -> Iterable[tuple[Any, ...]]:
    """Every segment's node, and which nodes have root segments (no parent_id):
    (name, origin, is_root, *stats)."""
    params: dict[str, Any] = {}
    minute, group = _minute_column("d", by_minute)
    return db.execute(
        f"SELECT {minute}d.name, d.origin, d.parent_id IS NULL AS is_root, {_stats_columns('d')}"
        f" FROM docs d{scope.docs_index()} WHERE d.kind = 'segment' AND d.end_time IS NOT NULL"
        f" AND {scope.where('d', params)}"
        f" GROUP BY {group}d.name, d.origin, is_root, bucket",
        params,
    )


def _add_node_row(graph: _Graph, row: tuple[Any, ...]) -> None:
    key = (row[0], row[1])
    graph.nodes.setdefault(key, Stats()).add(row[3:])
    if row[2]:
        graph.roots.setdefault(key, Stats()).add(row[3:])


# The span a segment's parent_id names, when it is a subsegment of the caller (the call as the
# caller timed it); NULL when the parent is the caller's segment itself or is not stored.
_CALLER_SUBSEGMENT = """
    LEFT JOIN spans p ON p.trace_id = d.trace_id AND p.span_id = d.parent_id
        AND p.end_time IS NOT NULL
        AND p.doc_seq = (SELECT min(x.doc_seq) FROM spans x
                         WHERE x.trace_id = d.trace_id AND x.span_id = d.parent_id)
        AND NOT EXISTS (SELECT 1 FROM docs pd
                        WHERE pd.seq = p.doc_seq AND pd.kind = 'segment' AND pd.id = p.span_id)
"""


def edge_rows(db: sqlite3.Connection, scope: Scope, by_minute: bool = False) -> Iterable[tuple[Any, ...]]:
    """Segment -> segment edges: (target name, origin, source name, type, *stats). The edge's
    source was resolved at insert (the node holding the parent span); statistics come from
    the caller's subsegment when there is one."""
    params: dict[str, Any] = {}
    minute, _ = _minute_column("d", by_minute)
    picked = ", ".join(
        f"CASE WHEN p.span_id IS NULL THEN d.{column} ELSE p.{column} END AS {column}"
        for column in ("start_time", "end_time", "error", "fault", "throttle")
    )
    outer_minute = "c.minute, " if by_minute else ""
    return db.execute(
        "WITH calls AS ("
        f" SELECT {minute}d.name, d.origin, d.edge_src_name, d.edge_src_type, {picked}"
        f" FROM docs d{scope.docs_index()} {_CALLER_SUBSEGMENT}"
        " WHERE d.kind = 'segment' AND d.end_time IS NOT NULL AND d.edge_src_name IS NOT NULL"
        f" AND {scope.where('d', params)})"
        f" SELECT {outer_minute}c.name, c.origin, c.edge_src_name, c.edge_src_type, {_stats_columns('c')}"
        f" FROM calls c GROUP BY {outer_minute}c.name, c.origin, c.edge_src_name, c.edge_src_type, bucket",
        params,
    )


def _add_edge_row(graph: _Graph, row: tuple[Any, ...]) -> None:
    source, target = (row[2], row[3]), (row[0], row[1])
    graph.edges.setdefault((source, target), Stats()).add(row[4:])
    graph.nodes.setdefault(source, Stats())


def inferred_rows(db: sqlite3.Connection, scope: Scope, by_minute: bool = False) -> Iterable[tuple[Any, ...]]:
    """Segment -> inferred node: an aws/remote subsegment no real segment answers; the
    subsegment is the call, so the node's and the edge's statistics are both its own:
    (caller name, type, inferred name, type, *stats)."""
    params: dict[str, Any] = {}
    minute, group = _minute_column("s", by_minute)
    return db.execute(
        f"SELECT {minute}d.owner_name, d.owner_type, s.inferred_name, s.inferred_type, {_stats_columns('s')}"
        " FROM spans s JOIN docs d ON d.seq = s.doc_seq"
        " WHERE s.inferred_name IS NOT NULL AND s.answered = 0 AND s.end_time IS NOT NULL"
        f" AND d.owner_name IS NOT NULL AND {scope.where('s', params)}"
        f" GROUP BY {group}d.owner_name, d.owner_type, s.inferred_name, s.inferred_type, bucket",
        params,
    )


def _add_inferred_row(graph: _Graph, row: tuple[Any, ...]) -> None:
    source, target = (row[0], row[1]), (row[2], row[3])
    graph.edges.setdefault((source, target), Stats()).add(row[4:])
    graph.nodes.setdefault(source, Stats())
    if target not in graph.nodes:
        graph.inferred.add(target)
    if target in graph.inferred:
        graph.nodes.setdefault(target, Stats()).add(row[4:])


ROW_QUERIES: dict[str, RowQuery] = {"node": node_rows, "edge": edge_rows, "inferred": inferred_rows}


CLIENT_TYPE = "client"


def _services(graph: _Graph) -> list[dict[str, Any]]:
    # Reference ids in a stable order, so two calls over the same data answer the same:
    # the clients first, then the roots, then the rest by name and type.
    clients = {root: (root[0], CLIENT_TYPE) for root in graph.roots}
    ordered = sorted(clients.values()) + sorted(
        graph.nodes, key=lambda key: (key not in graph.roots, key[0], key[1])
    )
    reference = {key: index for index, key in enumerate(ordered)}
    services = [_client(reference[client], client[0], reference[root], graph.roots[root])
                for root, client in sorted(clients.items(), key=lambda item: item[1])]  # fmt: skip
    for key in ordered[len(clients) :]:
        services.append(_service(key, reference, graph))
    return services


def _client(reference_id: int, name: str, root_reference: int, root_stats: Stats) -> dict[str, Any]:
    """The caller of a root service: no segments of its own, so no statistics and no Root."""
    return {
        "ReferenceId": reference_id,
        "Name": name,
        "Names": [name],
        "Type": CLIENT_TYPE,
        "State": "unknown",
        **_whole_seconds(root_stats),
        "Edges": [_edge(root_reference, root_stats)],
    }


def _service(key: NodeKey, reference: dict[NodeKey, int], graph: _Graph) -> dict[str, Any]:
    stats = graph.nodes[key]
    name, node_type = key
    service: dict[str, Any] = {
        "ReferenceId": reference[key],
        "Name": name,
        "Names": [name],
        "Root": key in graph.roots,
    }
    if node_type:
        service["Type"] = node_type
    # X-Ray reports nodes it has segments from as active, inferred ones as unknown.
    service["State"] = "unknown" if key in graph.inferred else "active"
    service.update(_whole_seconds(stats))
    service["Edges"] = [
        _edge(reference[target], edge_stats)
        for (source, target), edge_stats in sorted(
            graph.edges.items(), key=lambda item: reference[item[0][1]]
        )
        if source == key
    ]
    service["SummaryStatistics"] = stats.statistics()
    service["DurationHistogram"] = stats.histogram_entries()
    service["ResponseTimeHistogram"] = stats.histogram_entries()
    return service


def _whole_seconds(stats: Stats) -> dict[str, float]:
    """StartTime / EndTime in whole seconds, widened to cover the span (empty when unknown)."""
    if stats.start is None or stats.end is None:
        return {}
    return {"StartTime": float(math.floor(stats.start)), "EndTime": float(math.ceil(stats.end))}


def _edge(reference_id: int, stats: Stats) -> dict[str, Any]:
    return {
        "ReferenceId": reference_id,
        **_whole_seconds(stats),
        "SummaryStatistics": stats.statistics(),
        "ResponseTimeHistogram": stats.histogram_entries(),
        "Aliases": [],
    }


def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))
