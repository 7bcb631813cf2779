"""Per-trace facts kept in indexed tables, written by the store as documents arrive.

GetTraceSummaries (and the filters compiled to SQL) read these instead of recomputing every
trace of the window. They are not computed here: `refresh` asks traces.computed_traces (what
traces.trace_facts and traces.summary answer, the reference and the fallback, from one read of
the rows; tests hold them equal) for the traces writes touched, and stores what it answers.
Documents of one trace arrive in any order and over time; the store marks each trace a write
touches dirty and computes it from all its documents before the next query (store.py:
dirty_traces), once for many arrivals.

Tables:
  trace_index     one row per trace: the TraceFacts the filters read, as columns, and the
                  TraceSummary as GetTraceSummaries returns it (JSON).
  trace_services  the (name, type) of every node of the trace, for `service("x")` in SQL.
Annotations are already kept per trace in the store's `annotations` table.
"""

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from emulator.xray import traces
from emulator.xray.filters import TraceFacts, Value

SCHEMA = """
CREATE TABLE IF NOT EXISTS trace_index (
    trace_id TEXT PRIMARY KEY,
    trace_epoch INTEGER NOT NULL,
    start_time REAL NOT NULL,
    duration REAL,
    response_time REAL,
    error INTEGER NOT NULL,
    fault INTEGER NOT NULL,
    throttle INTEGER NOT NULL,
    partial INTEGER NOT NULL,
    inferred INTEGER NOT NULL,
    http_url TEXT,
    http_method TEXT,
    http_status INTEGER,
    http_useragent TEXT,
    http_clientip TEXT,
    revision INTEGER NOT NULL,
    users TEXT NOT NULL,
    services TEXT NOT NULL,
    annotations TEXT NOT NULL,
    summary TEXT NOT NULL
);
-- Newest first, page after page: the keyset GetTraceSummaries pages on.
CREATE INDEX IF NOT EXISTS trace_index_newest ON trace_index (start_time, trace_id);
CREATE INDEX IF NOT EXISTS trace_index_epoch ON trace_index (trace_epoch, start_time, trace_id);
CREATE TABLE IF NOT EXISTS trace_services (
    trace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trace_services_trace ON trace_services (trace_id, name, type);
"""

# Stored JSON is only read back by json.loads: no cycle check (the values are plain trees) and
# no spaces, a fifth of the encoding's cost.
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode

# The columns a row is read back from, in order (row_facts reads them so).
COLUMNS = (
    "trace_id, start_time, duration, response_time, error, fault, throttle, partial, inferred,"
    " http_url, http_method, http_status, http_useragent, http_clientip, revision, users, services,"
    " annotations"
)


def refresh(db: sqlite3.Connection, trace_ids: Iterable[str]) -> None:
    """Recompute and store the facts of `trace_ids` from their documents (inside the writer's
    transaction); a trace with nothing drawable left is removed."""
    ids = sorted(set(trace_ids))
    if not ids:
        return
    computed = traces.computed_traces(db, ids)
    remove(db, ids)
    rows = []
    services: list[tuple[str, str, str]] = []
    for trace, summary in computed:
        rows.append(
            (
                trace.trace_id,
                int(trace.trace_id[2:10], 16),
                trace.start_time,
                trace.duration,
                trace.response_time,
                trace.error,
                trace.fault,
                trace.throttle,
                trace.partial,
                trace.inferred,
                trace.http_url,
                trace.http_method,
                trace.http_status,
                trace.http_useragent,
                trace.http_clientip,
                trace.revision,
                _encode(trace.users),
                _encode(trace.services),
                _encode(trace.annotations),
                _encode(summary),
            )
        )
        services.extend((trace.trace_id, name, node_type or "") for name, node_type in set(trace.services))
    db.executemany(f"INSERT INTO trace_index VALUES ({', '.join('?' * 20)})", rows)
    db.executemany("INSERT INTO trace_services (trace_id, name, type) VALUES (?, ?, ?)", services)


def remove(db: sqlite3.Connection, trace_ids: list[str]) -> None:
    """Drop the stored facts of `trace_ids`."""
    marks = "trace_id IN (SELECT value FROM json_each(?))"
    db.execute(f"DELETE FROM trace_index WHERE {marks}", (json.dumps(trace_ids),))
    db.execute(f"DELETE FROM trace_services WHERE {marks}", (json.dumps(trace_ids),))


def row_facts(db: sqlite3.Connection, row: tuple[Any, ...]) -> TraceFacts:
    """A stored row (COLUMNS) as the TraceFacts a filter evaluates; the detail, when a filter
    needs it, is read from the documents as traces.trace_facts would."""
    (trace_id, start, duration, response_time, error, fault, throttle, partial, inferred) = row[:9]
    annotations: dict[str, list[Value]] = json.loads(row[17])
    return TraceFacts(
        trace_id=trace_id,
        start_time=start,
        duration=duration,
        response_time=response_time,
        error=bool(error),
        fault=bool(fault),
        throttle=bool(throttle),
        partial=bool(partial),
        inferred=bool(inferred),
        http_url=row[9],
        http_method=row[10],
        http_status=row[11],
        http_useragent=row[12],
        http_clientip=row[13],
        revision=row[14],
        users=json.loads(row[15]),
        services=[(name, node_type) for name, node_type in json.loads(row[16])],
        annotations=annotations,
        load_detail=traces.detail_loader(db, trace_id),
    )


def stored_facts(db: sqlite3.Connection, trace_ids: list[str]) -> dict[str, TraceFacts]:
    """The stored facts of `trace_ids` (those that are stored)."""
    return {
        row[0]: row_facts(db, row)
        for row in db.execute(
            f"SELECT {COLUMNS} FROM trace_index WHERE trace_id IN (SELECT value FROM json_each(?))",
            (json.dumps(trace_ids),),
        )
    }
