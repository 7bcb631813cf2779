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

The statistics are graph.py's, not computed a second time: each period's graph is
`build_services` over the traces of that period, and an entry is read off it. A trace counts
in the period its last segment ended in (when the request was answered), so each request
counts once however long it took. Periods are aligned to the epoch (a 60 s period starts on a
whole minute); only periods in which the entity has statistics are listed, oldest first.

  * service(...) / id(...): ServiceSummaryStatistics and ResponseTimeHistogram are the
    node's (several nodes' added up when a bare name matches more than one type, e.g. a
    function's AWS::Lambda and AWS::Lambda::Function); EdgeSummaryStatistics are the edges
    into it, the `client` node's included.
  * edge(a, b): EdgeSummaryStatistics is that edge's; ServiceSummaryStatistics is b's.
  * no selector: the edges from the `client` nodes (what callers of the app saw), and the
    root services' statistics.
"""

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulator.xray import traces
from emulator.xray.filters import FilterError, Token, tokenize
from emulator.xray.graph import CLIENT_TYPE, Scope, Stats, build_services, drawable_times

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
    entries = []
    for index, ids in sorted(_traces_by_period(db, start, end, period, trace_ids).items()):
        services = build_services(db, Scope(trace_ids=tuple(ids)))
        entity = _entity(services, selector)
        if entity is None:
            continue
        edge, service, histogram = entity
        entries.append(
            {
                "Timestamp": float(index * period),
                "EdgeSummaryStatistics": edge,
                "ServiceSummaryStatistics": service,
                "ResponseTimeHistogram": histogram,
            }
        )
    return entries


def _traces_by_period(
    db: sqlite3.Connection, start: float, end: float, period: int, trace_ids: list[str] | None
) -> dict[int, list[str]]:
    """Trace ids by period index (last segment end // period), for traces that ended in the window."""
    candidates = traces.candidate_traces(db, start, end, "Service")
    if trace_ids is not None:
        wanted = set(trace_ids)
        candidates = [trace_id for trace_id in candidates if trace_id in wanted]
    by_period: dict[int, list[str]] = {}
    for trace_id, last_end in db.execute(
        "SELECT trace_id, max(end_time) FROM docs WHERE trace_id IN (SELECT value FROM json_each(:ids))"
        f" AND kind = 'segment' AND end_time IS NOT NULL AND {drawable_times('docs')} GROUP BY trace_id",
        {"ids": json.dumps(candidates)},
    ):
        if start <= last_end <= end:
            by_period.setdefault(int(last_end // period), []).append(trace_id)
    return by_period


Statistics = dict[str, Any]


def _entity(
    services: list[dict[str, Any]], selector: Selector | None
) -> tuple[Statistics, Statistics, list[dict[str, Any]]] | None:
    """(edge statistics, service statistics, histogram) of the selected entity in one graph;
    None when the entity is not in it."""
    clients = [service for service in services if service.get("Type") == CLIENT_TYPE]
    if selector is None:
        targets = [service for service in services if service.get("Root")]
        sources = clients
    else:
        targets = [service for service in services if _matches(service, selector.target)]
        sources = (
            list(services)
            if selector.source is None
            else [service for service in services if _matches(service, selector.source)]
        )
    target_ids = {service["ReferenceId"] for service in targets}
    edges = [
        edge for source in sources for edge in source.get("Edges", []) if edge["ReferenceId"] in target_ids
    ]
    if not targets or (selector is not None and selector.source is not None and not edges):
        return None
    edge_total = _sum_statistics(edge["SummaryStatistics"] for edge in edges)
    service_total = _sum_statistics(service["SummaryStatistics"] for service in targets)
    histogram: Counter[float] = Counter()
    for service in targets:
        for entry in service.get("ResponseTimeHistogram", []):
            histogram[entry["Value"]] += entry["Count"]
    return edge_total, service_total, [{"Value": v, "Count": c} for v, c in sorted(histogram.items())]


def _matches(service: dict[str, Any], node: Node) -> bool:
    """A selector's node names a real node (never a `client`): by name, and by type if given."""
    if service.get("Type") == CLIENT_TYPE or service["Name"] != node.name:
        return False
    return node.node_type is None or service.get("Type", "") == node.node_type


def _sum_statistics(statistics: Iterable[Statistics]) -> Statistics:
    """ServiceStatistics / EdgeStatistics added member by member (Stats().statistics() is zero)."""
    total = Stats().statistics()
    for item in statistics:
        total["OkCount"] += item["OkCount"]
        total["TotalCount"] += item["TotalCount"]
        total["TotalResponseTime"] = round(total["TotalResponseTime"] + item["TotalResponseTime"], 6)
        for group in ("ErrorStatistics", "FaultStatistics"):
            for member, value in item[group].items():
                total[group][member] += value
    return total
