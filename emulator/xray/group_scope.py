"""What a group covers: the traces its filter expression matches, and their service graph.

GetServiceGraph, GetTimeSeriesServiceStatistics and GetInsightSummaries take GroupName or
GroupARN (botocore's xray service model): the answer is then about the group's traces only.
The Default group has no filter and covers every trace (None: no restriction).
"""

import sqlite3
from typing import Any

from emulator.xray import traces
from emulator.xray.backend import InvalidRequest
from emulator.xray.filters import FilterError, GroupLookup, compile_filter
from emulator.xray.graph import Scope, build_services
from emulator.xray.groups import Group


def group_trace_ids(
    db: sqlite3.Connection, start: float, end: float, group: Group, groups: GroupLookup
) -> list[str] | None:
    """The ids of the group's traces with a segment ending in [start, end]; None for every trace.

    `groups` resolves `group.name` / `group.arn` inside the group's own filter. A filter that
    no longer compiles (a group it names was deleted since) is an invalid request.
    """
    if group.filter_expression is None:
        return None
    try:
        predicate = compile_filter(group.filter_expression, groups)
    except FilterError as error:
        raise InvalidRequest(f"the filter expression of group {group.name!r} is not valid: {error}") from None
    candidates = traces.candidate_traces(db, start, end, "Service")
    return [trace.trace_id for trace in traces.trace_facts(db, candidates).values() if predicate(trace)]


def group_services(
    db: sqlite3.Connection, start: float, end: float, group: Group, groups: GroupLookup
) -> list[dict[str, Any]]:
    """GetServiceGraph's `Services` for a group: graph.py's graph of the group's traces."""
    trace_ids = group_trace_ids(db, start, end, group, groups)
    if trace_ids is None:
        return build_services(db, Scope(start=start, end=end))
    return build_services(db, Scope(trace_ids=tuple(trace_ids)))
