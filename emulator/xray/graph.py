"""The service graph (GetServiceGraph / GetTraceGraph `Services`), aggregated in SQL.

How X-Ray draws it, and how this module does:
  * one node per (name, origin) of the segments: `sam-app/Prod` AWS::ApiGateway::Stage,
    the function's AWS::Lambda and AWS::Lambda::Function nodes, and so on;
  * an edge A -> B when segment B's parent_id is A's id or one of A's subsegments' ids;
    its statistics are B's (the callee's timing and status, as B recorded them);
  * inferred nodes for subsegments in namespace "aws" (Name = aws.table_name and Type
    AWS::DynamoDB::Table for DynamoDB, else Name = subsegment name and Type AWS::<name>) or
    "remote" (Name = the URL's host, Type "remote"), unless a real segment answers that
    subsegment (API Gateway's "Lambda" subsegment is answered by the AWS::Lambda segment);
    their statistics are the subsegment's;
  * Root=true on nodes that have segments with no parent_id. The API has no "client" node:
    the caller of the root service is implied, and the console (and `map`) draw it.

Statistics count a fault (5xx) as a fault only, an error (4xx) as an error, a throttle (429)
as an error with ThrottleCount; histograms bucket durations to the millisecond.
"""

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

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

    def where(self, table: str, params: dict[str, Any]) -> str:
        drawable = drawable_times(table)
        if self.trace_ids is not None:
            params["trace_ids"] = _json_list(self.trace_ids)
            return f"{table}.trace_id IN (SELECT value FROM json_each(:trace_ids)) AND {drawable}"
        params["start"] = self.start
        params["end"] = self.end
        return f"{table}.end_time >= :start AND {table}.start_time <= :end AND {drawable}"


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
    """The `Services` list of GetServiceGraph (scope = a window) or GetTraceGraph (trace ids)."""
    nodes: dict[NodeKey, Stats] = {}
    roots: set[NodeKey] = set()
    inferred: set[NodeKey] = set()
    edges: dict[tuple[NodeKey, NodeKey], Stats] = {}

    # One scan for segment nodes and segment -> segment edges: a segment's edge source was
    # resolved at insert (the node holding its parent span).
    params: dict[str, Any] = {}
    stats = _stats_columns("d")
    for row in db.execute(
        f"SELECT d.name, d.origin, d.edge_src_name, d.edge_src_type, max(d.parent_id IS NULL), {stats}"
        f" FROM docs d WHERE d.kind = 'segment' AND d.end_time IS NOT NULL AND {scope.where('d', params)}"
        " GROUP BY d.name, d.origin, d.edge_src_name, d.edge_src_type, bucket",
        params,
    ):
        key = (row[0], row[1])
        nodes.setdefault(key, Stats()).add(row[5:])
        if row[4]:
            roots.add(key)
        if row[2] is not None:
            source = (row[2], row[3])
            edges.setdefault((source, key), Stats()).add(row[5:])
            nodes.setdefault(source, Stats())

    # Segment -> inferred node: an aws/remote subsegment no real segment answers.
    params = {}
    stats = _stats_columns("s")
    for row in db.execute(
        f"SELECT d.owner_name, d.owner_type, s.inferred_name, s.inferred_type, {stats}"
        " FROM spans s JOIN docs d ON d.seq = s.doc_seq"
        " WHERE s.inferred_name IS NOT NULL AND s.answered = 0 AND s.end_time IS NOT NULL"
        f" AND d.owner_name IS NOT NULL AND {scope.where('s', params)}"
        " GROUP BY d.owner_name, d.owner_type, s.inferred_name, s.inferred_type, bucket",
        params,
    ):
        source, target = (row[0], row[1]), (row[2], row[3])
        edges.setdefault((source, target), Stats()).add(row[4:])
        nodes.setdefault(source, Stats())
        if target not in nodes:
            inferred.add(target)
        if target in inferred:
            nodes.setdefault(target, Stats()).add(row[4:])

    return _services(nodes, roots, inferred, edges)


def _services(
    nodes: dict[NodeKey, Stats],
    roots: set[NodeKey],
    inferred: set[NodeKey],
    edges: dict[tuple[NodeKey, NodeKey], Stats],
) -> list[dict[str, Any]]:
    # Reference ids in a stable order, so two calls over the same data answer the same.
    ordered = sorted(nodes, key=lambda key: (key not in roots, key[0], key[1]))
    reference = {key: index for index, key in enumerate(ordered)}
    services = []
    for key in ordered:
        stats = nodes[key]
        name, node_type = key
        service: dict[str, Any] = {
            "ReferenceId": reference[key],
            "Name": name,
            "Names": [name],
            "Root": key in roots,
        }
        if node_type:
            service["Type"] = node_type
        # X-Ray reports nodes it has segments from as active, inferred ones as unknown.
        service["State"] = "unknown" if key in inferred else "active"
        if stats.start is not None:
            service["StartTime"] = stats.start
            service["EndTime"] = stats.end
        service["Edges"] = [
            _edge(reference[target], edge_stats)
            for (source, target), edge_stats in sorted(edges.items(), key=lambda item: reference[item[0][1]])
            if source == key
        ]
        service["SummaryStatistics"] = stats.statistics()
        service["DurationHistogram"] = stats.histogram_entries()
        service["ResponseTimeHistogram"] = stats.histogram_entries()
        services.append(service)
    return services


def _edge(reference_id: int, stats: Stats) -> dict[str, Any]:
    return {
        "ReferenceId": reference_id,
        "StartTime": stats.start,
        "EndTime": stats.end,
        "SummaryStatistics": stats.statistics(),
        "ResponseTimeHistogram": stats.histogram_entries(),
        "Aliases": [],
    }


def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))
