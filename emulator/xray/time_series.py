"""GetTimeSeriesServiceStatistics: one node's (or edge's) statistics per period, from the store.

The request and answer are botocore's xray service model (GetTimeSeriesServiceStatistics,
POST /TimeSeriesServiceStatistics) and the X-Ray API reference
(docs.aws.amazon.com/xray/latest/api/API_GetTimeSeriesServiceStatistics.html):

  * EntitySelectorExpression "defin[es] entities that will be aggregated for statistics.
    Supports ID, service, and edge functions. If no selector expression is specified, edge
    statistics are returned": `service("name")`, `service(id(name: "n", type: "t"))`,
    `id(name: "n", type: "t")`, `edge("a", "b")` (each side a name or an id(...)).
  * Period is the "aggregation period in seconds"; Grafana's X-Ray data source sends 60 unless
    told otherwise (grafana/x-ray-datasource, getTimeSeriesServiceStatistics.go), and so does
    this when it is left out.
  * Each TimeSeriesServiceStatistics has Timestamp, EdgeSummaryStatistics,
    ServiceSummaryStatistics and ResponseTimeHistogram. Grafana reads every member of
    EdgeSummaryStatistics without a nil check, so every entry carries all of them.

The statistics are graph.py's: the same per-bucket aggregates (`_stats_columns`), added up by
the same `Stats`, over the same rows GetServiceGraph draws (segments for real nodes, unanswered
aws/remote subsegments for inferred ones). What is new here is only the period: a segment
counts in the period its end time falls in (when the request was answered), so each request
counts once however long it took. Periods are aligned to the epoch (a 60 s period starts on
a whole minute) and only periods with data are listed, oldest first.

An edge's statistics are the callee's as graph.py records them, so a service's incoming
edges (its callers' and the client's) add up to the service's own statistics; with no
selector, the edges are the client's: every root segment.
"""

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulator.xray.filters import FilterError, Token, tokenize
from emulator.xray.graph import Stats, _stats_columns, drawable_times

DEFAULT_PERIOD_SECONDS = 60
MAX_SELECTOR_LENGTH = 500  # EntitySelectorExpression in the service model


class SelectorError(ValueError):
    """The EntitySelectorExpression cannot be parsed; the message says where and why."""


@dataclass(frozen=True)
class Node:
    """A node as a selector names it: a name, and a type when id(...) gives one."""

    name: str
    node_type: str | None = None


@dataclass(frozen=True)
class Selector:
    """service(...)/id(...): `target` only; edge(a, b): `source` -> `target`."""

    target: Node
    source: Node | None = None


def parse_selector(expression: str) -> Selector:
    if not 1 <= len(expression) <= MAX_SELECTOR_LENGTH:
        raise SelectorError(f"EntitySelectorExpression must be 1 to {MAX_SELECTOR_LENGTH} characters")
    try:
        tokens = tokenize(expression)
    except FilterError as error:
        raise SelectorError(str(error)) from None
    reader = _Reader(tokens)
    word = reader.word()
    if word == "service":
        reader.op("(")
        selector = Selector(target=reader.node())
        reader.op(")")
    elif word == "id":
        selector = Selector(target=reader.id_arguments())
    elif word == "edge":
        reader.op("(")
        source = reader.node()
        reader.op(",")
        target = reader.node()
        reader.op(")")
        selector = Selector(target=target, source=source)
    else:
        raise SelectorError(f'expected service(...), id(...) or edge(...), got "{word}"')
    if reader.peek.kind != "end":
        raise SelectorError(f"unexpected {reader.peek.text!r} at position {reader.peek.position}")
    return selector


class _Reader:
    """Reads selector tokens (the filter language's tokenizer) one at a time."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._index = 0

    @property
    def peek(self) -> Token:
        return self._tokens[self._index]

    def _take(self) -> Token:
        token = self.peek
        if token.kind != "end":
            self._index += 1
        return token

    def word(self) -> str:
        token = self._take()
        if token.kind != "word":
            raise SelectorError(f"expected a function name at position {token.position}")
        return token.text.lower()

    def op(self, op: str) -> None:
        token = self._take()
        if token.kind != "op" or token.text != op:
            shown = repr(token.text) if token.text else "the end"
            raise SelectorError(f"expected {op!r} at position {token.position}, got {shown}")

    def string(self) -> str:
        token = self._take()
        if token.kind != "string":
            raise SelectorError(f'expected a "quoted name" at position {token.position}')
        return json.loads(token.text) if _is_json_string(token.text) else token.text[1:-1]

    def node(self) -> Node:
        """A quoted name, or id(name: "...", type: "...")."""
        if self.peek.kind == "string":
            return Node(self.string())
        if self.word() != "id":
            raise SelectorError('expected a "name" or id(name: "...", type: "...")')
        return self.id_arguments()

    def id_arguments(self) -> Node:
        self.op("(")
        fields: dict[str, str] = {}
        while True:
            key = self.word()
            if key not in ("name", "type") or key in fields:
                raise SelectorError(f'id(...) takes name: "..." and type: "..." once each, got {key!r}')
            self.op(":")
            fields[key] = self.string()
            if self.peek.kind == "op" and self.peek.text == ",":
                self._take()
                continue
            break
        self.op(")")
        if "name" not in fields:
            raise SelectorError('id(...) needs name: "..."')
        return Node(fields["name"], fields.get("type"))


def _is_json_string(text: str) -> bool:
    try:
        return isinstance(json.loads(text), str)
    except ValueError:
        return False


def time_series(
    db: sqlite3.Connection,
    start: float,
    end: float,
    period: int,
    selector: Selector | None,
    trace_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The TimeSeriesServiceStatistics list; `trace_ids` limits it to a group's traces."""
    if selector is None:
        service = _aggregate(db, _ROOT_SEGMENTS, {}, start, end, period, trace_ids)
        edge = service
    else:
        service = _node(db, selector.target, start, end, period, trace_ids)
        edge = service if selector.source is None else _edge(db, selector, start, end, period, trace_ids)
    entries = []
    for index in sorted(set(service) | set(edge)):
        node_stats = service.get(index, Stats())
        edge_stats = edge.get(index, Stats())
        entries.append(
            {
                "Timestamp": float(index * period),
                "EdgeSummaryStatistics": edge_stats.statistics(),
                "ServiceSummaryStatistics": node_stats.statistics(),
                "ResponseTimeHistogram": node_stats.histogram_entries(),
            }
        )
    return entries


# The rows each kind of entity counts, as graph.build_services selects them ("d" = docs, "s" =
# spans). Each is completed with the window, the period and the optional group.
_ROOT_SEGMENTS = (
    "docs d",
    "d",
    "d.kind = 'segment' AND d.parent_id IS NULL",
)
_SEGMENTS_OF_NODE = (
    "docs d",
    "d",
    "d.kind = 'segment' AND d.name = :name AND (:type IS NULL OR d.origin = :type)",
)
_INFERRED_NODE = (
    "spans s JOIN docs d ON d.seq = s.doc_seq",
    "s",
    "s.inferred_name = :name AND (:type IS NULL OR s.inferred_type = :type) AND s.answered = 0",
)
_SEGMENT_EDGE = (
    "docs d",
    "d",
    "d.kind = 'segment' AND d.name = :name AND (:type IS NULL OR d.origin = :type)"
    " AND d.edge_src_name = :source AND (:source_type IS NULL OR d.edge_src_type = :source_type)",
)
_INFERRED_EDGE = (
    "spans s JOIN docs d ON d.seq = s.doc_seq",
    "s",
    _INFERRED_NODE[2]
    + " AND d.owner_name = :source AND (:source_type IS NULL OR d.owner_type = :source_type)",
)


def _node(
    db: sqlite3.Connection, node: Node, start: float, end: float, period: int, trace_ids: list[str] | None
) -> dict[int, Stats]:
    params = {"name": node.name, "type": node.node_type}
    by_period = _aggregate(db, _SEGMENTS_OF_NODE, params, start, end, period, trace_ids)
    # graph.py: an inferred node is one no segment stands for (DynamoDB's `Demo`).
    if not by_period:
        by_period = _aggregate(db, _INFERRED_NODE, params, start, end, period, trace_ids)
    return by_period


def _edge(
    db: sqlite3.Connection,
    selector: Selector,
    start: float,
    end: float,
    period: int,
    trace_ids: list[str] | None,
) -> dict[int, Stats]:
    assert selector.source is not None
    params = {
        "name": selector.target.name,
        "type": selector.target.node_type,
        "source": selector.source.name,
        "source_type": selector.source.node_type,
    }
    by_period = _aggregate(db, _SEGMENT_EDGE, params, start, end, period, trace_ids)
    if not by_period:
        by_period = _aggregate(db, _INFERRED_EDGE, params, start, end, period, trace_ids)
    return by_period


def _aggregate(
    db: sqlite3.Connection,
    rows: tuple[str, str, str],
    params: dict[str, Any],
    start: float,
    end: float,
    period: int,
    trace_ids: list[str] | None,
) -> dict[int, Stats]:
    """Stats per period index (end time // period) of the rows that ended in [start, end]."""
    source, alias, condition = rows
    a = alias
    where = (
        f"{condition} AND {a}.end_time IS NOT NULL AND {a}.end_time >= :start AND {a}.end_time <= :end"
        f" AND {drawable_times(a)}"
    )
    if trace_ids is not None:
        where += f" AND {a}.trace_id IN (SELECT value FROM json_each(:trace_ids))"
    query = (
        f"SELECT CAST({a}.end_time / :period AS INTEGER) AS period_index, {_stats_columns(a)}"
        f" FROM {source} WHERE {where} GROUP BY period_index, bucket"
    )
    values = {
        **params,
        "start": start,
        "end": end,
        "period": period,
        "trace_ids": json.dumps(trace_ids or []),
    }
    by_period: dict[int, Stats] = {}
    for row in db.execute(query, values):
        by_period.setdefault(row[0], Stats()).add(row[1:])
    return by_period
