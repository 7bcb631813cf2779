"""GetTraceSummaries' pages, read from the per-trace facts (trace_index) newest first.

Pages are keyed, not counted: a page starts after the (start time, trace id) of the last
trace of the page before, so every page costs what the first one does, and only the traces a
page shows (plus those a filter turns down on the way) are read. The part of a filter that
SQL can say is a WHERE clause over trace_index; the rest is evaluated in Python on each row
(filter_sql.py decides which part is which).
"""

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulator.xray import trace_index
from emulator.xray.filters import Predicate

# Up to this many traces in a TraceId window, the page is sorted from the window's own index;
# beyond, the newest-first index is walked (a sort would read the whole window every page).
SORT_LIMIT = 5_000


@dataclass(frozen=True)
class Keyset:
    """Where a page starts: after this trace, newest first."""

    start_time: float
    trace_id: str


@dataclass(frozen=True)
class SqlFilter:
    """The SQL part of a filter over `t` (a trace_index row), and what is left for Python."""

    where: str = "1"
    params: tuple[Any, ...] = ()
    residual: Predicate | None = None

    @property
    def filters(self) -> bool:
        """Whether it turns any trace down (otherwise every trace of the window matches)."""
        return self.where != "1" or self.residual is not None


class Page:
    """One page of a GetTraceSummaries query: a window by TimeRangeType, a filter, a start."""

    def __init__(
        self,
        db: sqlite3.Connection,
        start: float,
        end: float,
        time_range_type: str,
        after: Keyset | None,
        processed: int | None = None,
    ) -> None:
        """processed: the window's TracesProcessedCount when an earlier page counted it (the
        NextToken carries it, so only a first page counts)."""
        self.db = db
        self.time_range_type = time_range_type
        self.after = after
        self.window_params = {"start": start, "end": end, "start_floor": int(start)}
        self.next_after: Keyset | None = None
        self._processed = processed

    def processed_count(self) -> int:
        """How many traces the window holds (TracesProcessedCount: "including traces that did
        not match the specified filter expression", botocore's model), on every page."""
        if self._processed is None:
            p = self.window_params
            if self.time_range_type == "TraceId":
                self._processed = trace_index.count_by_epoch(
                    self.db, int(p["start_floor"]), math.floor(p["end"])
                )
            else:
                self._processed = trace_index.count_in_window(
                    self.db, self.time_range_type, float(p["start"]), float(p["end"])
                )
        return self._processed

    def read(self, size: int, sql_filter: SqlFilter | None = None) -> list[str]:
        """Up to `size` TraceSummary objects as stored (JSON text: the API sends them as they
        are); sets `next_after` when more traces match."""
        found = sql_filter or SqlFilter()
        rows = self.db.execute(self._query(found, size), (*self._params(), *found.params))
        self.next_after = None
        if found.residual is None:
            # SQL chose the page (and one row more): no row is looked at one by one.
            page = rows.fetchmany(size + 1)
            if len(page) > size:
                last = page[size - 1]
                self.next_after = Keyset(last[1], last[0])
                del page[size:]
            elif self.after is None and self._processed is None and not found.filters:
                # The whole window fits in one page: it is its own count.
                self._processed = len(page)
            return [row[-1] for row in page]
        summaries: list[str] = []
        last_row: tuple[Any, ...] | None = None
        for row in rows:
            if not found.residual(trace_index.row_facts(self.db, row)):
                continue
            if len(summaries) == size:
                assert last_row is not None
                self.next_after = Keyset(last_row[1], last_row[0])
                break
            summaries.append(row[-1])
            last_row = row
        return summaries

    def _query(self, sql_filter: SqlFilter, size: int) -> str:
        index = "trace_index_newest"
        if self.time_range_type == "TraceId":
            window = "t.trace_epoch >= ? AND t.trace_epoch <= ?"
            if self.processed_count() <= SORT_LIMIT:
                index = "trace_index_epoch"
        else:
            window = _in_window(self.time_range_type)
        keyset = "" if self.after is None else " AND (t.start_time, t.trace_id) < (?, ?)"
        # One more than a page, to know whether another page follows.
        limit = "" if sql_filter.residual is not None else f" LIMIT {size + 1}"
        # The facts a Python filter reads, only when there is one (the key and the summary else).
        columns = trace_index.COLUMNS if sql_filter.residual is not None else "t.trace_id, t.start_time"
        return (
            f"SELECT {columns}, t.summary FROM trace_index t INDEXED BY {index}"
            f" WHERE {window}{keyset} AND ({sql_filter.where})"
            f" ORDER BY t.start_time DESC, t.trace_id DESC{limit}"
        )

    def _params(self) -> tuple[Any, ...]:
        p = self.window_params
        window = (
            (p["start_floor"], p["end"]) if self.time_range_type == "TraceId" else (p["start"], p["end"]) * 3
        )
        keyset = () if self.after is None else (self.after.start_time, self.after.trace_id)
        return (*window, *keyset)


def _in_window(time_range_type: str) -> str:
    """A trace is in an Event or Service window when any of its documents is: its first or last
    such document is (read from the index), or it has one between them that is (read from the
    documents, only for a trace whose documents begin before the window and end after it)."""
    first, last, column = trace_index.SPAN_COLUMNS[time_range_type]
    return (
        f"t.{last} >= ? AND t.{first} <= ? AND (t.{first} >= ? OR t.{last} <= ? OR EXISTS"
        f" (SELECT 1 FROM docs d WHERE d.trace_id = t.trace_id AND d.{column} >= ? AND d.{column} <= ?))"
    )
