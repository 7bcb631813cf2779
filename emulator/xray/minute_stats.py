"""Per-minute aggregates of the service graph, so GetServiceGraph over hours reads minutes, not
every document.

graph.py's three queries (nodes, segment edges, inferred edges) are run once per minute, grouped
as GetServiceGraph groups them, and stored by the minute their rows start in. A window's whole
minutes are then summed from `graph_minutes`; the rest of the window (its partial first and
last minutes, spans that started before it and still overlap it, and minutes changed since they
were summed) is read from the documents exactly as before. Sums of counts, times, minimums and
maximums add up across minutes, so the answer is the same.

A minute is summed once it has settled (SETTLE_SECONDS old), by the writer, at most every
AGGREGATE_INTERVAL_SECONDS. A later write that changes an already summed minute (a late
document, one that resolves an edge or answers a call, one dropped by retention or the cap)
marks it dirty: its rows are removed, readers compute it exactly, and the next pass sums it again.
"""

import json
import math
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.xray.documents import MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS, DocumentFacts

SETTLE_SECONDS = 120.0
AGGREGATE_INTERVAL_SECONDS = 30.0
# Fewer whole minutes than this in a window: the documents are read directly.
MIN_MINUTES = 3
PARTS = ("node", "edge", "inferred")

SCHEMA = """
CREATE TABLE IF NOT EXISTS graph_minutes (
    minute INTEGER NOT NULL,
    part TEXT NOT NULL,
    a_name TEXT, a_type TEXT, b_name TEXT, b_type TEXT,
    bucket REAL, count INTEGER, total REAL, faults INTEGER, errors INTEGER, throttles INTEGER,
    first_start REAL, last_end REAL
);
CREATE INDEX IF NOT EXISTS graph_minutes_minute ON graph_minutes (part, minute);
-- until: minutes below it are summed (unless dirty); longest: the longest span stored, so a
-- window knows how far before its start an overlapping span can begin.
CREATE TABLE IF NOT EXISTS graph_minutes_state (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS graph_minutes_dirty (minute INTEGER PRIMARY KEY);
-- Where a window's edges start: the documents and spans starting in a time range.
CREATE INDEX IF NOT EXISTS docs_starts ON docs (start_time) WHERE kind = 'segment';
CREATE INDEX IF NOT EXISTS spans_starts ON spans (start_time) WHERE inferred_name IS NOT NULL;
"""

# (db, part, first, last) -> graph rows of that part starting in [first, last), minute first.
MinuteRows = Callable[[sqlite3.Connection, str, float, float], Iterable[tuple[Any, ...]]]


def _drawable_start(column: str) -> str:
    return f"{column} >= {MIN_EPOCH_SECONDS} AND {column} < {MAX_EPOCH_SECONDS}"


def _state(db: sqlite3.Connection, key: str) -> float | None:
    row = db.execute("SELECT value FROM graph_minutes_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else float(row[0])


def _set_state(db: sqlite3.Connection, key: str, value: float) -> None:
    db.execute("INSERT OR REPLACE INTO graph_minutes_state (key, value) VALUES (?, ?)", (key, value))


# -- writing (the store's writer, inside its transaction) ----------------------------------------


def note_documents(db: sqlite3.Connection, documents: Iterable[DocumentFacts]) -> None:
    """Keep `longest` at least the longest drawable span stored."""
    longest = 0.0
    for doc in documents:
        for start, end in [(doc.start_time, doc.end_time), *((s.start_time, s.end_time) for s in doc.spans)]:
            if end is not None and MIN_EPOCH_SECONDS <= start <= end < MAX_EPOCH_SECONDS:
                longest = max(longest, end - start)
    if longest > (_state(db, "longest") or 0.0):
        _set_state(db, "longest", longest)


def mark_dirty(db: sqlite3.Connection, trace_ids: Iterable[str], minutes: Iterable[int]) -> None:
    """The summed minutes that the documents of `trace_ids` start in, and `minutes` (those of
    documents just deleted), no longer hold: remove their rows until they are summed again."""
    until = _state(db, "until")
    if until is None:
        return
    ids = sorted(set(trace_ids))
    found = set(minutes)
    if ids:
        in_ids = "trace_id IN (SELECT value FROM json_each(?))"
        found.update(
            row[0]
            for row in db.execute(
                f"SELECT CAST(start_time / 60 AS INTEGER) FROM docs WHERE {in_ids}"
                f" AND {_drawable_start('start_time')}"
                f" UNION SELECT CAST(start_time / 60 AS INTEGER) FROM spans WHERE {in_ids}"
                f" AND inferred_name IS NOT NULL AND {_drawable_start('start_time')}",
                (json.dumps(ids), json.dumps(ids)),
            )
        )
    dirty = [minute for minute in found if minute < until]
    db.executemany("INSERT OR IGNORE INTO graph_minutes_dirty (minute) VALUES (?)", [(m,) for m in dirty])
    db.executemany(
        "DELETE FROM graph_minutes WHERE part = ? AND minute = ?", [(p, m) for p in PARTS for m in dirty]
    )


def minutes_of(start_times: Iterable[float]) -> set[int]:
    """The minutes drawable start times fall in."""
    return {int(start // 60) for start in start_times if MIN_EPOCH_SECONDS <= start < MAX_EPOCH_SECONDS}


def settle(db: sqlite3.Connection, now: float, minute_rows: MinuteRows) -> None:
    """Sum every settled minute not summed yet, and the dirty ones again."""
    horizon = math.floor((now - SETTLE_SECONDS) / 60)
    until = _state(db, "until")
    if until is None:
        first = db.execute(
            f"SELECT min(start_time) FROM docs WHERE kind = 'segment' AND {_drawable_start('start_time')}"
        ).fetchone()[0]
        until = horizon if first is None else min(horizon, math.floor(first / 60))
    if horizon > until:
        _sum(db, until * 60.0, horizon * 60.0, minute_rows)
        _set_state(db, "until", horizon)
    elif _state(db, "until") is None:
        _set_state(db, "until", until)
    dirty = [
        row[0] for row in db.execute("SELECT minute FROM graph_minutes_dirty WHERE minute < ?", (horizon,))
    ]
    for minute in dirty:
        db.executemany(
            "DELETE FROM graph_minutes WHERE part = ? AND minute = ?", [(p, minute) for p in PARTS]
        )
        _sum(db, minute * 60.0, minute * 60.0 + 60.0, minute_rows)
    db.executemany("DELETE FROM graph_minutes_dirty WHERE minute = ?", [(m,) for m in dirty])


def _sum(db: sqlite3.Connection, first: float, last: float, minute_rows: MinuteRows) -> None:
    for part in PARTS:
        rows = []
        for row in minute_rows(db, part, first, last):
            if part == "node":
                # (minute, name, origin, is_root, *stats): is_root kept as b_name.
                rows.append((row[0], part, row[1], row[2], str(int(row[3])), None, *row[4:]))
            else:
                rows.append((row[0], part, *row[1:]))
        db.executemany(f"INSERT INTO graph_minutes VALUES ({', '.join('?' * 14)})", rows)


# -- reading -------------------------------------------------------------------------------------


@dataclass
class Plan:
    """A window as whole summed minutes [first_minute, last_minute) and start ranges read exactly."""

    first_minute: int
    last_minute: int
    exact_starts: list[tuple[float, float]] = field(default_factory=list)

    def summed_rows(self, db: sqlite3.Connection, part: str) -> Iterable[tuple[Any, ...]]:
        """The part's rows over the summed minutes, shaped as graph.py's queries shape them."""
        rows = db.execute(
            "SELECT a_name, a_type, b_name, b_type, bucket, sum(count), sum(total), sum(faults),"
            " sum(errors), sum(throttles), min(first_start), max(last_end) FROM graph_minutes"
            " WHERE part = ? AND minute >= ? AND minute < ?"
            " GROUP BY a_name, a_type, b_name, b_type, bucket",
            (part, self.first_minute, self.last_minute),
        )
        if part != "node":
            return rows
        return ((a, b, root == "1", *stats) for a, b, root, _, *stats in rows)


def plan(db: sqlite3.Connection, start: float, end: float) -> Plan | None:
    """How to read [start, end]: None when it holds too few summed minutes to be worth it."""
    try:
        until = _state(db, "until")
    except sqlite3.OperationalError:
        return None
    if until is None or not (math.isfinite(start) and math.isfinite(end)):
        return None
    first_minute = math.ceil(start / 60)
    last_minute = min(math.floor(end / 60), int(until))
    if last_minute - first_minute < MIN_MINUTES:
        return None
    longest = _state(db, "longest") or 0.0
    result = Plan(first_minute, last_minute)
    # Spans starting before the window that last into it, and the window's partial first minute.
    result.exact_starts.append((start - longest, first_minute * 60.0))
    # The minutes not summed yet (and the partial last one).
    result.exact_starts.append((last_minute * 60.0, float(MAX_EPOCH_SECONDS)))
    for (minute,) in db.execute(
        "SELECT minute FROM graph_minutes_dirty WHERE minute >= ? AND minute < ? ORDER BY minute",
        (first_minute, last_minute),
    ):
        result.exact_starts.append((minute * 60.0, minute * 60.0 + 60.0))
    return result
