"""The trace store: SQLite in WAL mode, one row per segment document plus extracted facts.

Tables:
  docs         one row per stored document (segment, or subsegment sent on its own), with the
               columns queries filter and group on, and `owner_name`/`owner_type`: the service
               node the document belongs to (itself for a segment; for a subsegment document,
               the segment its parent_id chain leads to, resolved as documents arrive).
               For a segment with a parent, `edge_src_name`/`edge_src_type` is the node of the
               document holding the parent span: the graph edge, resolved as documents arrive
               (in any order), so the graph is one index scan, not a join.
  spans        every segment and subsegment id inside every document, with timing, status
               flags and, for aws/remote subsegments, the inferred downstream node; `answered`
               is set once a real segment names that span as its parent (then no inferred node).
  annotations  annotation values, for `annotation.X` filters and TraceSummary.Annotations.
  trace_index, trace_services   each trace's facts and summary (emulator/xray/trace_index.py).
  dirty_traces the traces written (or deleted from) since their facts were last computed.

A write does not recompute the facts of the traces it touches: it marks them in dirty_traces,
in its own transaction (so a crash cannot leave a stale index behind: the marks are there at
the next start). A trace's documents arrive over several transactions (the SDK's subsegments,
then the function's, Lambda's and the stage's segments), and its facts cost far more than
storing a document, so they are computed later, once for all those writes: by the daemon's
indexer process beside the writer (index_dirty: from a read snapshot, stored only for traces no
write touched since), or by the writer when it has time (refresh_index), and always before a
query reads them (reader).

Writes come from one thread at a time (the daemon's writer, the API's PutTraceSegments) under
a lock; reads open their own connection so they never wait for a write (WAL).
"""

import gc
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from emulator.xray import graph, minute_stats, trace_index, traces
from emulator.xray.documents import DocumentFacts, InvalidDocument, parse_document

logger = logging.getLogger(__name__)

DEFAULT_DB_PATH = Path("build/xray/traces.db")
# X-Ray keeps traces for 30 days.
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
DEFAULT_MAX_DOCUMENTS = 1_000_000
# Retention is checked at most this often: deleting by time scans an index, not free per insert.
PRUNE_INTERVAL_SECONDS = 60.0
READER_MMAP_BYTES = 1 << 30
# Read connections kept open between queries: as many as queries usually run at once.
READER_POOL_SIZE = 8
# Bumped when the tables change; an older file is refused rather than misread.
SCHEMA_VERSION = 5
# Subsegment documents can hang off other subsegment documents; owners resolve one level per pass.
MAX_OWNER_PASSES = 16
# Documents whose parent has not arrived are retried on each insert for this long, then left
# alone (a parent this late is not coming), so orphans do not slow every insert down.
RESOLVE_WINDOW_SECONDS = 600.0

# How many dirty traces index_dirty computes at once: about half a second's work.
INDEX_BATCH_LIMIT = 2000
# Past a checkpoint, the write-ahead log file is cut back to this size (SQLite otherwise keeps
# it at the largest it ever grew, and reuses it from the start).
WAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024
# Past this size, the writer waits (up to WAL_RESTART_WAIT_SECONDS, at most once per
# WAL_RESTART_INTERVAL_SECONDS) for readers to move to the newest snapshot, copies the whole log
# into the file and starts it again. A passive checkpoint cannot: the indexer's snapshots
# overlap the writer's commits under load, and the log grew past 150 MB.
WAL_RESTART_BYTES = 64 * 1024 * 1024
WAL_RESTART_WAIT_SECONDS = 0.5
WAL_RESTART_INTERVAL_SECONDS = 2.0
# How long index_dirty waits for the write lock to store what it computed, asking this often.
INDEX_LOCK_WAIT_SECONDS = 60.0
# Python's sqlite3 default (its `timeout`, 5 s), restored after a shorter wait.
BUSY_TIMEOUT_MS = 5000
LOCK_POLL_SECONDS = 0.001


class WriteLockBusy(sqlite3.OperationalError):
    """Another connection held the write lock for longer than the caller would wait."""


# Kept in the same file by other modules, and carried into a new file on a schema change.
TABLES_OF_OTHER_MODULES = ("xray_groups",)  # emulator/xray/groups.py

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    parent_id TEXT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    origin TEXT NOT NULL,
    trace_epoch INTEGER NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    in_progress INTEGER NOT NULL,
    error INTEGER NOT NULL,
    fault INTEGER NOT NULL,
    throttle INTEGER NOT NULL,
    http_url TEXT,
    http_method TEXT,
    http_status INTEGER,
    http_useragent TEXT,
    http_clientip TEXT,
    user TEXT,
    owner_name TEXT,
    owner_type TEXT,
    edge_src_name TEXT,
    edge_src_type TEXT,
    received REAL NOT NULL,
    UNIQUE (trace_id, id)
);
-- The JSON apart from the facts, so graph queries read narrow rows only.
CREATE TABLE IF NOT EXISTS bodies (
    seq INTEGER PRIMARY KEY,
    document TEXT NOT NULL
);
-- Covering indexes: the graph queries read these and never the table.
CREATE INDEX IF NOT EXISTS docs_graph ON docs (
    kind, end_time, start_time, name, origin, error, fault, throttle, parent_id, edge_src_name, edge_src_type
);
CREATE INDEX IF NOT EXISTS docs_parent ON docs (trace_id, parent_id, kind);
CREATE INDEX IF NOT EXISTS docs_trace_epoch ON docs (trace_epoch);
CREATE INDEX IF NOT EXISTS docs_received ON docs (received);
CREATE INDEX IF NOT EXISTS docs_expiry ON docs (coalesce(end_time, start_time));
CREATE INDEX IF NOT EXISTS docs_unowned ON docs (received) WHERE owner_name IS NULL;
CREATE INDEX IF NOT EXISTS docs_unlinked ON docs (received)
    WHERE edge_src_name IS NULL AND parent_id IS NOT NULL AND kind = 'segment';
CREATE TABLE IF NOT EXISTS spans (
    doc_seq INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    error INTEGER NOT NULL,
    fault INTEGER NOT NULL,
    throttle INTEGER NOT NULL,
    inferred_name TEXT,
    inferred_type TEXT,
    answered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS spans_id ON spans (trace_id, span_id, doc_seq);
CREATE INDEX IF NOT EXISTS spans_doc ON spans (doc_seq);
CREATE INDEX IF NOT EXISTS spans_inferred ON spans
    (end_time, start_time, inferred_name, inferred_type, error, fault, throttle, answered, doc_seq)
    WHERE inferred_name IS NOT NULL;
CREATE TABLE IF NOT EXISTS annotations (
    doc_seq INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    num REAL,
    str TEXT,
    bool INTEGER
);
CREATE INDEX IF NOT EXISTS annotations_trace ON annotations (trace_id);
CREATE INDEX IF NOT EXISTS annotations_doc ON annotations (doc_seq);
-- mark: when the trace was last written (a value each write raises), so facts computed from a
-- snapshot are stored only if no write touched the trace since (TraceStore.index_dirty).
CREATE TABLE IF NOT EXISTS dirty_traces (trace_id TEXT PRIMARY KEY, mark INTEGER NOT NULL DEFAULT 0)
    WITHOUT ROWID;
"""


class TraceStore:
    """Segment documents in SQLite, bounded by age (by end time) and by count (oldest dropped)."""

    def __init__(
        self,
        path: Path | str = DEFAULT_DB_PATH,
        *,
        max_documents: int = DEFAULT_MAX_DOCUMENTS,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_documents < 1:
            raise ValueError(f"max_documents must be at least 1, got {max_documents}")
        if retention_seconds <= 0:
            raise ValueError(f"retention_seconds must be positive, got {retention_seconds}")
        self.path = Path(path)
        self.max_documents = max_documents
        self.retention_seconds = retention_seconds
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # The pool of read connections (reader()), under its own lock: taking one never waits
        # for a write. as_uri() percent-encodes, so a path with "?" or "#" still names the file.
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._reader_uri = f"{self.path.resolve().as_uri()}?mode=ro"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can
        # lose the last transactions, an acceptable trade for a local trace store.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        carried_over: list[str] = []
        if version not in (0, SCHEMA_VERSION):
            carried_over = self._set_aside_older_file(version)
        self._db.executescript(SCHEMA)
        # A file of this schema from before the marks: its table gains the column (a mark of 0
        # is older than any new write's), rather than a new schema version re-importing it all.
        if "mark" not in {row[1] for row in self._db.execute("PRAGMA table_info(dirty_traces)")}:
            self._db.execute("ALTER TABLE dirty_traces ADD COLUMN mark INTEGER NOT NULL DEFAULT 0")
        trace_index.create(self._db)
        self._db.executescript(minute_stats.SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._count = self._db.execute("SELECT count(*) FROM docs").fetchone()[0]
        self._last_prune = 0.0
        self._closed = False
        # The traces the current transaction wrote or deleted documents of: marked dirty
        # before it commits.
        self._touched: set[str] = set()
        # The minutes of the documents it deleted (their graph aggregates no longer hold).
        self._deleted_minutes: set[int] = set()
        self._last_settle = 0.0
        self._wal_path = Path(f"{self.path}-wal")
        self._last_wal_restart = 0.0
        # The last dirty mark written: marks only rise (nanoseconds, so a store opened later, or
        # in another process, starts above every mark already in the file).
        self._last_mark = 0
        # Whether dirty_traces may hold rows (under _lock): spares a reader a transaction when
        # nothing is dirty. Read from the file, so marks left by a crash are computed too.
        self._any_dirty = self._db.execute("SELECT 1 FROM dirty_traces LIMIT 1").fetchone() is not None
        if carried_over:
            self._import(carried_over)

    def _set_aside_older_file(self, version: int) -> list[str]:
        """Move a file of another schema aside (never delete traces) and return its documents.

        Every schema keeps each document's JSON, so the documents are read back and stored
        again under the current schema; the old file stays next to the new one.
        """
        try:
            documents = [row[0] for row in self._db.execute("SELECT document FROM bodies")]
        except sqlite3.Error:
            documents = []
        self._db.close()
        kept = self.path.with_name(f"{self.path.name}.schema-{version}")
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{self.path}{suffix}")
            if old.exists():
                old.rename(Path(f"{kept}{suffix}"))
        logger.warning(
            "%s had schema %d, not %d: moved to %s, %d documents carried over",
            self.path, version, SCHEMA_VERSION, kept, len(documents),
        )  # fmt: skip
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        self._carry_over_other_tables(kept)
        return documents

    def _carry_over_other_tables(self, kept: Path) -> None:
        """Tables other modules keep in this file are not the store's schema: they go into the
        new file as they were. (Named, not guessed: an old schema's own tables stay behind.)"""
        self._db.execute("ATTACH DATABASE ? AS kept", (str(kept),))
        try:
            tables = self._db.execute(
                "SELECT name, sql FROM kept.sqlite_master WHERE type = 'table'"
            ).fetchall()
            for name, sql in tables:
                if name not in TABLES_OF_OTHER_MODULES:
                    continue
                self._db.execute(sql)
                self._db.execute(f'INSERT INTO main."{name}" SELECT * FROM kept."{name}"')
        finally:
            self._db.execute("DETACH DATABASE kept")

    def _import(self, documents: list[str]) -> None:
        facts = []
        for text in documents:
            try:
                facts.append(parse_document(text))
            except InvalidDocument:
                logger.warning("a stored document no longer parses; left in the set-aside file")
        self.insert(facts)

    # -- writing ---------------------------------------------------------------------------

    def insert(self, documents: Iterable[DocumentFacts]) -> int:
        """Store documents in one transaction; return how many were stored or replaced.

        A document whose (trace_id, id) is already stored replaces it, except that an
        in-progress document never replaces a complete one (UDP may reorder them).
        """
        now = self._clock()
        stored = 0
        with self._lock:
            self._check_open()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                batch = list(documents)
                for doc in batch:
                    if self._insert_one(db, doc, now):
                        stored += 1
                minute_stats.note_documents(db, batch)
                self._touched.update(self._resolve(db, now))
                self._enforce_bounds(db, now)
                self._refresh_touched(db)
                db.execute("COMMIT")
                self._bound_wal(db)
            except BaseException:
                self._touched.clear()
                self._deleted_minutes.clear()
                # SQLite ends the transaction itself on some errors (a full disk): a second
                # ROLLBACK would raise and hide the error that matters.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._count = db.execute("SELECT count(*) FROM docs").fetchone()[0]
                raise
        return stored

    def _bound_wal(self, db: sqlite3.Connection) -> None:
        """Restart the write-ahead log when it has grown past WAL_RESTART_BYTES (see there)."""
        now = time.monotonic()
        if now - self._last_wal_restart < WAL_RESTART_INTERVAL_SECONDS:
            return
        try:
            size = self._wal_path.stat().st_size
        except OSError:
            return
        if size <= WAL_RESTART_BYTES:
            return
        self._last_wal_restart = now
        db.execute(f"PRAGMA busy_timeout={int(WAL_RESTART_WAIT_SECONDS * 1000)}")
        try:
            # Not done if a reader keeps an older snapshot past the wait: tried again later.
            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def insert_salvaging(
        self, documents: Sequence[DocumentFacts]
    ) -> tuple[int, list[tuple[DocumentFacts, Exception]]]:
        """Like insert, but a document the database refuses costs only itself.

        The batch goes in as one transaction (fast); if that fails, each document is tried in
        a transaction of its own, so the good ones are stored and only the failing ones come
        back, with their errors. Returns (stored or replaced, failures).
        """
        try:
            return self.insert(documents), []
        except Exception as error:
            if len(documents) == 1:
                return 0, [(documents[0], error)]
        stored = 0
        failures: list[tuple[DocumentFacts, Exception]] = []
        for document in documents:
            try:
                stored += self.insert([document])
            except Exception as error:
                failures.append((document, error))
        return stored, failures

    def _insert_one(self, db: sqlite3.Connection, doc: DocumentFacts, now: float) -> bool:
        existing = db.execute(
            "SELECT seq, in_progress FROM docs WHERE trace_id = ? AND id = ?", (doc.trace_id, doc.id)
        ).fetchone()
        if existing is not None:
            seq, was_in_progress = existing
            if doc.in_progress and not was_in_progress:
                return False
            self._delete_seqs(db, [seq])
        self._touched.add(doc.trace_id)
        parent_owner = self._owner_of(db, doc.trace_id, doc.parent_id) if doc.parent_id else (None, None)
        if doc.kind == "segment":
            owner: tuple[str | None, str | None] = (doc.name, doc.origin)
            edge_src = parent_owner
        else:
            owner = parent_owner
            edge_src = (None, None)
        cursor = db.execute(
            "INSERT INTO docs (trace_id, id, parent_id, kind, name, origin, trace_epoch, start_time,"
            " end_time, in_progress, error, fault, throttle, http_url, http_method, http_status,"
            " http_useragent, http_clientip, user, owner_name, owner_type, edge_src_name, edge_src_type,"
            " received)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.trace_id,
                doc.id,
                doc.parent_id,
                doc.kind,
                doc.name,
                doc.origin,
                doc.trace_epoch,
                doc.start_time,
                doc.end_time,
                doc.in_progress,
                doc.status.error,
                doc.status.fault,
                doc.status.throttle,
                doc.http_url,
                doc.http_method,
                doc.http_status,
                doc.http_useragent,
                doc.http_clientip,
                doc.user,
                owner[0],
                owner[1],
                edge_src[0],
                edge_src[1],
                now,
            ),
        )
        seq = cursor.lastrowid
        db.execute("INSERT INTO bodies (seq, document) VALUES (?, ?)", (seq, doc.document))
        if doc.kind == "segment" and doc.parent_id:
            db.execute(
                "UPDATE spans SET answered = 1 WHERE trace_id = ? AND span_id = ?",
                (doc.trace_id, doc.parent_id),
            )
        db.executemany(
            "INSERT INTO spans (doc_seq, trace_id, span_id, start_time, end_time, error, fault, throttle,"
            " inferred_name, inferred_type, answered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    seq,
                    doc.trace_id,
                    span.span_id,
                    span.start_time,
                    span.end_time,
                    span.status.error,
                    span.status.fault,
                    span.status.throttle,
                    span.inferred_name,
                    span.inferred_type,
                    span.inferred_name is not None and self._is_answered(db, doc.trace_id, span.span_id),
                )
                for span in doc.spans
            ],
        )
        db.executemany(
            "INSERT INTO annotations (doc_seq, trace_id, key, num, str, bool) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    seq,
                    doc.trace_id,
                    note.key,
                    note.value
                    if isinstance(note.value, int | float) and not isinstance(note.value, bool)
                    else None,
                    note.value if isinstance(note.value, str) else None,
                    note.value if isinstance(note.value, bool) else None,
                )
                for note in doc.annotations
            ],
        )
        if existing is None:
            self._count += 1
        return True

    @staticmethod
    def _owner_of(
        db: sqlite3.Connection, trace_id: str, span_id: str | None
    ) -> tuple[str | None, str | None]:
        row = db.execute(
            "SELECT d.owner_name, d.owner_type FROM spans s JOIN docs d ON d.seq = s.doc_seq"
            " WHERE s.trace_id = ? AND s.span_id = ? AND d.owner_name IS NOT NULL LIMIT 1",
            (trace_id, span_id),
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    @staticmethod
    def _is_answered(db: sqlite3.Connection, trace_id: str, span_id: str) -> bool:
        row = db.execute(
            "SELECT 1 FROM docs WHERE trace_id = ? AND parent_id = ? AND kind = 'segment' LIMIT 1",
            (trace_id, span_id),
        ).fetchone()
        return row is not None

    @staticmethod
    def _resolve(db: sqlite3.Connection, now: float) -> set[str]:
        """Link documents that arrived before the document holding their parent span; return
        the traces changed (a long chain can finish resolving in a later transaction)."""
        since = now - RESOLVE_WINDOW_SECONDS
        changed: set[str] = set()
        # Subsegment documents take their segment's node; a chain resolves one level a pass.
        for _ in range(MAX_OWNER_PASSES):
            cursor = db.execute(
                "UPDATE docs AS d INDEXED BY docs_unowned"
                " SET owner_name = p.owner_name, owner_type = p.owner_type"
                " FROM spans AS s JOIN docs AS p ON p.seq = s.doc_seq"
                " WHERE d.owner_name IS NULL AND d.received >= :since"
                " AND s.trace_id = d.trace_id AND s.span_id = d.parent_id AND p.owner_name IS NOT NULL"
                " RETURNING trace_id",
                {"since": since},
            )
            resolved = {row[0] for row in cursor}
            if not resolved:
                break
            changed |= resolved
        # Segments take the edge from the node that holds their parent span.
        cursor = db.execute(
            "UPDATE docs AS c INDEXED BY docs_unlinked"
            " SET edge_src_name = p.owner_name, edge_src_type = p.owner_type"
            " FROM spans AS s JOIN docs AS p ON p.seq = s.doc_seq"
            " WHERE c.edge_src_name IS NULL AND c.parent_id IS NOT NULL AND c.received >= :since"
            " AND c.kind = 'segment' AND s.trace_id = c.trace_id AND s.span_id = c.parent_id"
            " AND p.owner_name IS NOT NULL RETURNING trace_id",
            {"since": since},
        )
        changed |= {row[0] for row in cursor}
        return changed

    def _refresh_touched(self, db: sqlite3.Connection) -> None:
        touched, self._touched = self._touched, set()
        deleted, self._deleted_minutes = self._deleted_minutes, set()
        if touched:
            self._last_mark = mark = max(self._last_mark + 1, time.time_ns())
            db.executemany(
                "INSERT INTO dirty_traces (trace_id, mark) VALUES (?, ?)"
                " ON CONFLICT (trace_id) DO UPDATE SET mark = excluded.mark",
                [(t, mark) for t in touched],
            )
            self._any_dirty = True
        minute_stats.mark_dirty(db, touched, deleted)
        now = self._clock()
        if now - self._last_settle >= minute_stats.AGGREGATE_INTERVAL_SECONDS:
            self._last_settle = now
            minute_stats.settle(db, now, graph.minute_rows)

    def refresh_index(self) -> int:
        """Compute the facts of every dirty trace now, each once however many writes touched
        it; return how many traces that was.

        A trace whose facts cannot be computed (a bug in traces.py) costs only itself: it is
        logged and left out of the index rather than failing every query after it.
        """
        with self._lock:
            self._check_open()
            if not self._any_dirty:
                return 0
            db = self._db
            # A refresh builds many small objects per trace (the documents' dicts, the trace's
            # graph) and keeps few: the collector's passes over them were a third of its cost.
            # What cycles it leaves (an entity and its parent) are collected once it is done.
            collecting = gc.isenabled()
            gc.disable()
            db.execute("BEGIN IMMEDIATE")
            try:
                dirty = [row[0] for row in db.execute("SELECT trace_id FROM dirty_traces")]
                try:
                    db.execute("SAVEPOINT refresh")
                    trace_index.refresh(db, dirty)
                    db.execute("RELEASE refresh")
                except Exception:
                    db.execute("ROLLBACK TO refresh")
                    db.execute("RELEASE refresh")
                    self._refresh_one_by_one(db, dirty)
                db.execute("DELETE FROM dirty_traces")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                if collecting:
                    gc.enable()
            self._any_dirty = False
            return len(dirty)

    def index_dirty(self, limit: int = INDEX_BATCH_LIMIT, lock_wait: float = INDEX_LOCK_WAIT_SECONDS) -> int:
        """Compute the facts of up to `limit` dirty traces without holding the write lock while
        computing; return how many were stored (0: none was dirty, or every one was written
        again meanwhile and stays dirty).

        For a process of its own beside the writer (emulator/xray/indexer.py): the facts are
        computed from a read snapshot, which blocks no writer (WAL), and only stored, in a short
        write transaction, for the traces whose dirty mark is still the one the snapshot read.
        A trace written since keeps its newer mark and is computed again later; a trace the
        writer's refresh_index computed meanwhile has no mark left and is not overwritten.
        The write lock is waited for up to `lock_wait` seconds (then WriteLockBusy), the facts
        kept meanwhile.
        """
        with self._lock:
            self._check_open()
            db = self._db
            collecting = gc.isenabled()
            gc.disable()  # as in refresh_index: many small objects, few kept
            try:
                db.execute("BEGIN")
                try:
                    marks = dict(
                        db.execute("SELECT trace_id, mark FROM dirty_traces LIMIT ?", (limit,)).fetchall()
                    )
                    ids = sorted(marks)
                    read = traces.read_traces(db, ids) if ids else None
                finally:
                    db.execute("COMMIT")
                if read is None:
                    return 0
                # Computed outside the snapshot: held while computing (seconds for a batch
                # when the machine is busy and this process yields), it kept the writer from
                # starting the write-ahead log again, which grew past 120 MB.
                computed = traces.compute_traces(read)
                self._begin_write_waiting(db, lock_wait)
                try:
                    current = {
                        row[0]
                        for row in db.execute(
                            # Not correlated: the marks still current are found once, then
                            # deleted by key (a correlated subquery read the whole batch per row).
                            "DELETE FROM dirty_traces WHERE trace_id IN (SELECT m.key FROM json_each(?) AS m"
                            " JOIN dirty_traces AS d ON d.trace_id = m.key AND d.mark = m.value)"
                            " RETURNING trace_id",
                            (json.dumps(marks),),
                        )
                    }
                    trace_index.store_computed(
                        db, sorted(current), [item for item in computed if item[0].trace_id in current]
                    )
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                return len(current)
            finally:
                if collecting:
                    gc.enable()

    @staticmethod
    def _begin_write_waiting(db: sqlite3.Connection, lock_wait: float) -> None:
        """BEGIN IMMEDIATE, asking again every millisecond until the write lock is free.

        Under sustained ingest the daemon's writer takes the lock again within microseconds
        of each commit, while SQLite's own busy handler sleeps up to 100 ms between tries: the
        indexer lost every race for seconds, gave up, and its batch's work was lost."""
        deadline = time.monotonic() + lock_wait
        previous = db.execute("PRAGMA busy_timeout").fetchone()[0]
        db.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if db.in_transaction or error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                        raise
                    if time.monotonic() >= deadline:
                        raise WriteLockBusy(f"the write lock stayed taken for {lock_wait:.0f} s") from error
                time.sleep(LOCK_POLL_SECONDS)
        finally:
            db.execute(f"PRAGMA busy_timeout={int(previous)}")

    @staticmethod
    def _refresh_one_by_one(db: sqlite3.Connection, trace_ids: list[str]) -> None:
        for trace_id in trace_ids:
            db.execute("SAVEPOINT one")
            try:
                trace_index.refresh(db, [trace_id])
            except Exception:
                logger.exception(
                    "the facts of trace %s could not be computed; left out of the index", trace_id
                )
                db.execute("ROLLBACK TO one")
                trace_index.remove(db, [trace_id])
            db.execute("RELEASE one")

    def settle_minutes(self) -> None:
        """Sum the settled minutes of the service graph now (otherwise done on insert)."""
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._last_settle = self._clock()
                minute_stats.settle(self._db, self._last_settle, graph.minute_rows)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _enforce_bounds(self, db: sqlite3.Connection, now: float) -> None:
        if now - self._last_prune >= PRUNE_INTERVAL_SECONDS:
            self._last_prune = now
            cutoff = now - self.retention_seconds
            expired = [
                row[0]
                for row in db.execute(
                    "SELECT seq FROM docs WHERE coalesce(end_time, start_time) < ?", (cutoff,)
                )
            ]
            if expired:
                logger.info("dropping %d documents older than the retention period", len(expired))
                self._delete_seqs(db, expired)
        excess = self._count - self.max_documents
        if excess > 0:
            oldest = [
                row[0]
                for row in db.execute(
                    "SELECT seq FROM docs ORDER BY coalesce(end_time, start_time), seq LIMIT ?", (excess,)
                )
            ]
            self._delete_seqs(db, oldest)

    def _delete_seqs(self, db: sqlite3.Connection, seqs: list[int]) -> None:
        # In chunks: SQLite bounds the number of bound parameters per statement.
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for trace_id, start in db.execute(
                f"SELECT trace_id, start_time FROM docs WHERE seq IN ({marks})", chunk
            ):
                self._touched.add(trace_id)
                self._deleted_minutes |= minute_stats.minutes_of([start])
            self._deleted_minutes |= minute_stats.minutes_of(
                row[0]
                for row in db.execute(
                    f"SELECT start_time FROM spans WHERE inferred_name IS NOT NULL AND doc_seq IN ({marks})",
                    chunk,
                )
            )
            db.execute(f"DELETE FROM spans WHERE doc_seq IN ({marks})", chunk)
            db.execute(f"DELETE FROM annotations WHERE doc_seq IN ({marks})", chunk)
            db.execute(f"DELETE FROM bodies WHERE seq IN ({marks})", chunk)
            cursor = db.execute(f"DELETE FROM docs WHERE seq IN ({marks})", chunk)
            self._count -= cursor.rowcount

    def prune(self) -> None:
        """Apply the retention and size bounds now (they are otherwise applied on insert)."""
        with self._lock:
            self._check_open()
            self._last_prune = 0.0
            self._db.execute("BEGIN IMMEDIATE")
            self._enforce_bounds(self._db, self._clock())
            self._refresh_touched(self._db)
            self._db.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own, so queries run beside writes (WAL readers), in
        one snapshot for the whole query, even across several statements.

        The dirty traces' facts are computed first, so a query sees every document stored
        before it was asked, as if the index were kept at insert.
        """
        self.refresh_index()
        db = self._take_reader()
        finished = False
        try:
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")
            finished = True
        finally:
            self._give_back(db, finished)

    def _take_reader(self) -> sqlite3.Connection:
        """A pooled read connection, or a new one when every pooled one is in use.

        Kept open between queries (not one per thread: the API serves each request on a
        thread of its own): a fresh connection read the schema and prepared every statement
        again on each query, about half of a first page's cost."""
        with self._readers_lock:
            self._check_open()
            if self._readers:
                return self._readers.pop()
        # check_same_thread off: a connection serves one query at a time, on whichever thread.
        db = sqlite3.connect(self._reader_uri, uri=True, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA query_only=ON")
        # Memory-mapped pages: reads skip a copy into SQLite's own cache.
        db.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
        return db

    def _give_back(self, db: sqlite3.Connection, finished: bool) -> None:
        """Pool a connection whose query finished; close one a query left in an unknown state
        (an error mid-query), or one beyond the pool's size, or after the store is closed."""
        if finished and not db.in_transaction:
            with self._readers_lock:
                if not self._closed and len(self._readers) < READER_POOL_SIZE:
                    self._readers.append(db)
                    return
        db.close()

    def count(self) -> int:
        """How many documents are stored."""
        with self._lock:
            return self._count

    def close(self) -> None:
        with self._lock, self._readers_lock:
            if not self._closed:
                self._closed = True
                self._db.close()
                # A reader in use now is closed when its query gives it back.
                for reader in self._readers:
                    reader.close()
                self._readers.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the trace store {self.path} is closed")
