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
  trace_minutes   how many traces start in each minute (by trace id), for TracesProcessedCount.
Annotations are already kept per trace in the store's `annotations` table.
"""

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from emulator.xray import traces
from emulator.xray.filters import RootCause, TraceFacts, Value, root_causes_from_json

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
    summary TEXT NOT NULL,
    first_received REAL,
    last_received REAL,
    first_end REAL,
    last_end REAL
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
-- How many traces of trace_index start (trace id epoch) in each minute: TracesProcessedCount
-- of a TraceId window sums these, and counts only its partial first and last minutes' rows.
CREATE TABLE IF NOT EXISTS trace_minutes (minute INTEGER PRIMARY KEY, traces INTEGER NOT NULL);
"""

SECONDS_PER_MINUTE = 60


# Each trace's first and last document by time received and by end time, newest first: the
# traces an Event or a Service window holds are counted from these (count_in_window), not
# looked for among the window's documents.
_SPAN_INDEXES = """
CREATE INDEX IF NOT EXISTS trace_index_received ON trace_index (last_received, first_received);
CREATE INDEX IF NOT EXISTS trace_index_ends ON trace_index (last_end, first_end);
"""
_SPANS = (
    "UPDATE trace_index SET (first_received, last_received, first_end, last_end) ="
    " (SELECT min(received), max(received), min(end_time), max(end_time) FROM docs d"
    " WHERE d.trace_id = trace_index.trace_id)"
)


def create(db: sqlite3.Connection) -> None:
    """The tables; trace_minutes counted from trace_index, and each trace's first and last
    documents found, when a file is older than they are."""
    had_counts = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'trace_minutes'").fetchone()
    db.executescript(SCHEMA)
    if "first_received" not in {row[1] for row in db.execute("PRAGMA table_info(trace_index)")}:
        for column in ("first_received", "last_received", "first_end", "last_end"):
            db.execute(f"ALTER TABLE trace_index ADD COLUMN {column} REAL")
        db.execute(_SPANS)
    db.executescript(_SPAN_INDEXES)
    if had_counts is None:
        db.execute(
            "INSERT INTO trace_minutes (minute, traces)"
            f" SELECT trace_epoch / {SECONDS_PER_MINUTE}, count(*) FROM trace_index GROUP BY 1"
        )


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
    store_computed(db, ids, traces.computed_traces(db, ids))


# The columns store_computed writes, in order (the spans are found after).
_STORED = (
    "trace_id, trace_epoch, start_time, duration, response_time, error, fault, throttle, partial,"
    " inferred, http_url, http_method, http_status, http_useragent, http_clientip, revision, users,"
    " services, annotations, summary"
)


def store_computed(
    db: sqlite3.Connection, trace_ids: list[str], computed: Iterable[tuple[TraceFacts, dict[str, Any]]]
) -> None:
    """Replace the stored facts of `trace_ids` with `computed` (traces.computed_traces of them:
    a trace it left out has nothing drawable and is removed)."""
    remove(db, trace_ids)
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
    db.executemany(f"INSERT INTO trace_index ({_STORED}) VALUES ({', '.join('?' * 20)})", rows)
    # From the documents as they are now: in the writer's transaction, or the indexer's, which
    # stores only traces no write touched since its snapshot.
    db.execute(f"{_SPANS} WHERE trace_id IN (SELECT value FROM json_each(?))", (json.dumps(trace_ids),))
    db.executemany("INSERT INTO trace_services (trace_id, name, type) VALUES (?, ?, ?)", services)
    _count(db, [row[1] for row in rows], +1)


def remove(db: sqlite3.Connection, trace_ids: list[str]) -> None:
    """Drop the stored facts of `trace_ids`."""
    marks = "trace_id IN (SELECT value FROM json_each(?))"
    removed = db.execute(
        f"DELETE FROM trace_index WHERE {marks} RETURNING trace_epoch", (json.dumps(trace_ids),)
    ).fetchall()
    db.execute(f"DELETE FROM trace_services WHERE {marks}", (json.dumps(trace_ids),))
    _count(db, [row[0] for row in removed], -1)


def _count(db: sqlite3.Connection, epochs: list[int], sign: int) -> None:
    """Add (sign +1) or take (-1) traces starting at `epochs` to trace_minutes."""
    by_minute = Counter(epoch // SECONDS_PER_MINUTE for epoch in epochs)
    db.executemany(
        "INSERT INTO trace_minutes (minute, traces) VALUES (?, ?)"
        " ON CONFLICT (minute) DO UPDATE SET traces = traces + excluded.traces",
        [(minute, sign * count) for minute, count in by_minute.items()],
    )
    if sign < 0:
        db.executemany("DELETE FROM trace_minutes WHERE minute = ? AND traces = 0", [(m,) for m in by_minute])


def count_by_epoch(db: sqlite3.Connection, first: int, last: int) -> int:
    """How many indexed traces start (trace id epoch) in [first, last]: the whole minutes from
    trace_minutes, the partial ones counted in the index. Counting the index alone read every
    trace of the window on each first page (30 ms at the cap, 30 times the page itself)."""
    first_minute = -(-first // SECONDS_PER_MINUTE)
    last_minute = (last + 1) // SECONDS_PER_MINUTE - 1
    in_index = (
        "SELECT count(*) FROM trace_index INDEXED BY trace_index_epoch"
        " WHERE trace_epoch >= ? AND trace_epoch <= ?"
    )
    if first_minute > last_minute:
        return int(db.execute(in_index, (first, last)).fetchone()[0])
    # One statement: the whole minutes, then the partial first and last minutes.
    counted = db.execute(
        "SELECT (SELECT coalesce(sum(traces), 0) FROM trace_minutes WHERE minute >= ? AND minute <= ?)"
        f" + ({in_index}) + ({in_index})",
        (
            first_minute,
            last_minute,
            first,
            first_minute * SECONDS_PER_MINUTE - 1,
            (last_minute + 1) * SECONDS_PER_MINUTE,
            last,
        ),
    ).fetchone()[0]
    return int(counted)


# Per TimeRangeType: the columns of each trace's first and last document in its terms, and the
# document column a window is on.
SPAN_COLUMNS = {
    "Event": ("first_received", "last_received", "received"),
    "Service": ("first_end", "last_end", "end_time"),
}


def count_in_window(db: sqlite3.Connection, time_range_type: str, start: float, end: float) -> int:
    """How many indexed traces have a document received (Event) or ending (Service) in
    [start, end]: those whose first and last such documents surround part of the window, less
    those that only straddle it (documents before and after it, none in it).

    Read from the index newest first: a window that ends near now reads its own traces only.
    Looking for them among the window's documents read every document of the window (46 ms
    for 100,000 documents)."""
    first, last, column = SPAN_COLUMNS[time_range_type]
    counted = db.execute(
        f"SELECT count(*) FROM trace_index WHERE {last} >= :start AND {first} <= :end",
        {"start": start, "end": end},
    ).fetchone()[0]
    # Only a trace whose documents begin before the window and end after it can have none in it.
    straddling = db.execute(
        f"SELECT count(*) FROM trace_index t WHERE t.{last} > :end AND t.{first} < :start"
        f" AND NOT EXISTS (SELECT 1 FROM docs d WHERE d.trace_id = t.trace_id"
        f" AND d.{column} >= :start AND d.{column} <= :end)",
        {"start": start, "end": end},
    ).fetchone()[0]
    return int(counted) - int(straddling)


_COLUMN_COUNT = len(COLUMNS.split(","))
# TraceSummary's field for each root cause kind of the filter language.
_ROOT_CAUSE_FIELDS = {
    "fault": "FaultRootCauses",
    "error": "ErrorRootCauses",
    "responsetime": "ResponseTimeRootCauses",
}


def row_facts(db: sqlite3.Connection, row: tuple[Any, ...]) -> TraceFacts:
    """A stored row (COLUMNS, then optionally the summary) as the TraceFacts a filter evaluates;
    the detail, when a filter needs it, is read from the documents as traces.trace_facts would.
    With the summary, `rootcause.*` filters read the root causes it holds instead (reading each
    trace's documents for them took 0.8 s a page at the document cap)."""
    (trace_id, start, duration, response_time, error, fault, throttle, partial, inferred) = row[:9]
    annotations: dict[str, list[Value]] = json.loads(row[17])
    load_root_causes = None
    if len(row) > _COLUMN_COUNT:
        stored_summary: str = row[_COLUMN_COUNT]
        parsed: dict[str, Any] = {}

        def load_root_causes(kind: str) -> list[RootCause]:
            if not parsed:
                parsed.update(json.loads(stored_summary))
            return root_causes_from_json(parsed[_ROOT_CAUSE_FIELDS[kind]])

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
        load_root_causes=load_root_causes,
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
