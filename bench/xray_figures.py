"""The local X-Ray's figures: the daemon's sustained ingest, its cost per document and share of
the stack's CPU, and GetServiceGraph at 100,000 segments.

Baselines from the same run: a bare UDP socket that only counts datagrams (what loopback and
this machine allow at all), TraceStore.insert in transactions of 2,000 (what a document costs
when transactions cost nothing), and the time to merely read the stored documents (what any
answer over them costs at least). Ingest is counted in the store, when stored, never when
received: a queue that absorbs a burst is not a rate the daemon sustains.
"""

import contextlib
import json
import multiprocessing
import os
import socket
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from bench.http_load import Request, measure_latency
from bench.local_stack import LocalStack, free_port
from emulator.apigateway import stage_segment
from emulator.lambda_ import segments as lambda_segments
from emulator.tracing import documents as seg
from emulator.tracing.segment_sender import DAEMON_HEADER
from emulator.tracing.trace_header import new_segment_id, new_trace_id
from emulator.xray.backend import XRayBackend
from emulator.xray.daemon import BATCH_WINDOW_SECONDS, RECEIVE_BUFFER_BYTES, Daemon
from emulator.xray.documents import parse_document
from emulator.xray.store import TraceStore

FUNCTION = seg.LambdaFunctionRef(
    name="sam-app-SamDdbFunction-BENCH0000000",
    arn="arn:aws:lambda:ap-northeast-1:123456789012:function:sam-app-SamDdbFunction-BENCH0000000",
    region="ap-northeast-1",
    account_id="123456789012",
)


def tutorial_trace(now: float) -> list[dict[str, Any]]:
    """One POST /ddb trace as the local stack records it: 3 segments + the SDK's subsegment."""
    trace_id = new_trace_id(now)
    stage_id, call_id, service_id, function_id = (new_segment_id() for _ in range(4))
    span = seg.Span(now - 0.020, now)
    call = stage_segment.LambdaCall(call_id, FUNCTION, seg.Span(now - 0.019, now - 0.001), "POST", 200, 95)
    request = seg.HttpRequest("http://127.0.0.1:3000/Prod/ddb", "POST", "127.0.0.1", "curl/8.5.0")
    stage_request = stage_segment.StageRequest(
        api_name="sam-app", stage="Prod", api_id="benchapi00", account_id="123456789012",
        region="ap-northeast-1", request_id="bench", extended_request_id="benchbenchbench=",
    )  # fmt: skip
    stage = stage_segment.api_gateway_stage_segment(
        trace_id=trace_id, segment_id=stage_id, parent_id=None, stage=stage_request, span=span,
        request=request, status=200, content_length=95, lambda_call=call,
    )  # fmt: skip
    service = lambda_segments.lambda_service_segment(
        trace_id=trace_id, segment_id=service_id, parent_id=call_id, function=FUNCTION,
        request_id="bench", span=seg.Span(now - 0.018, now - 0.002),
    )  # fmt: skip
    ids = lambda_segments.SubsegmentIds(new_segment_id(), new_segment_id(), new_segment_id())
    function = lambda_segments.lambda_function_segment(
        trace_id=trace_id, segment_id=function_id, parent_id=service_id, function=FUNCTION,
        initialization=None, invocation=seg.Span(now - 0.017, now - 0.004),
        overhead=seg.Span(now - 0.004, now - 0.003), subsegment_ids=ids,
    )  # fmt: skip
    put_item = {
        "type": "subsegment", "id": new_segment_id(), "trace_id": trace_id, "parent_id": ids.invocation,
        "name": "put_item ddb", "start_time": now - 0.016, "end_time": now - 0.005,
        "subsegments": [{
            "id": new_segment_id(), "name": "dynamodb", "namespace": "aws",
            "start_time": now - 0.015, "end_time": now - 0.006, "http": {"response": {"status": 200}},
            "aws": {"operation": "PutItem", "table_name": "Demo", "region": "ap-northeast-1"},
        }],
    }  # fmt: skip
    return [stage, service, function, put_item]


def _datagram_template() -> bytes:
    """An AWS::Lambda segment datagram with %-slots for a unique trace id and segment id.

    Filled in as it is sent (`template % (n, n)`): a million distinct datagrams cost no memory
    and about a microsecond each, so the sender is not what limits the rate.
    """
    now = time.time()
    document = lambda_segments.lambda_service_segment(
        trace_id="TRACE-ID", segment_id="SEGMENT-ID", parent_id=None, function=FUNCTION,
        request_id="bench", span=seg.Span(now - 0.01, now),
    )  # fmt: skip
    text = (DAEMON_HEADER + json.dumps(document, separators=(",", ":")).encode()).replace(b"%", b"%%")
    assert text.count(b'"TRACE-ID"') == 1 and text.count(b'"SEGMENT-ID"') == 1
    trace_slot = f'"1-{int(now):08x}-%024x"'.encode()
    return text.replace(b'"TRACE-ID"', trace_slot).replace(b'"SEGMENT-ID"', b'"%016x"')


def _send_paced(template: bytes, first: int, count: int, target: tuple[str, int], rate: int) -> float:
    """Send datagrams first .. first+count-1 at `rate` per second (in 1 ms slices); return the
    seconds it took."""
    per_slice = max(1, rate // 1000)
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sendto = sender.sendto
        for index in range(0, count, per_slice):
            for number in range(first + index, first + min(index + per_slice, count)):
                sendto(template % (number, number), target)
            ahead = started + (index + per_slice) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    return time.perf_counter() - started


# What a receiver child publishes, read by the bench process while it sends.
STORED, REJECTED, QUEUED_BYTES, BATCHES, WAL_BYTES = range(5)
PUBLISH_SECONDS = 0.01


def _run_daemon(port: int, db_path: str, batch_window: float, counts: Any, ready: Any, stop: Any) -> None:
    """Child process: the local daemon over a real store, publishing what the store holds."""
    # No cap: every step's documents stay, so the store's count is what was stored.
    store = TraceStore(Path(db_path), max_documents=100_000_000)
    daemon = Daemon(store, port=port, batch_window=batch_window, index_process=True)
    daemon.start()
    ready.set()
    wal = Path(f"{db_path}-wal")
    try:
        while not stop.wait(PUBLISH_SECONDS):
            counts[STORED] = store.count()
            counts[REJECTED] = sum(daemon.rejected.values())
            counts[QUEUED_BYTES] = daemon.queued_bytes
            counts[BATCHES] = daemon.batches
            with contextlib.suppress(OSError):
                # The largest the write-ahead log grew: a checkpoint that never completes
                # lets it grow without bound.
                counts[WAL_BYTES] = max(counts[WAL_BYTES], wal.stat().st_size)
    finally:
        daemon.stop()
        store.close()


def _run_bare_socket(port: int, counts: Any, ready: Any, stop: Any) -> None:
    """Child process: the baseline, a UDP socket with the daemon's buffer that only counts."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        receiver.bind(("127.0.0.1", port))
        receiver.settimeout(PUBLISH_SECONDS)
        ready.set()
        count = 0
        published = time.monotonic()
        while not stop.is_set():
            try:
                receiver.recv(65536)
                count += 1
            except TimeoutError:
                pass
            if time.monotonic() - published >= PUBLISH_SECONDS:
                counts[STORED] = count
                published = time.monotonic()
        counts[STORED] = count


class _Receiver:
    """A receiver in a process of its own, so that it never shares a GIL with the sender."""

    def __init__(self, target: Any, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.counts = context.Array("q", 5)
        self._ready, self._stop = context.Event(), context.Event()
        # Per step: the receiver process's CPU seconds per second of sending (1.0: a whole core).
        self.step_cpu: list[float] = []
        self._process = context.Process(
            target=target, args=(self.port, *args, self.counts, self._ready, self._stop), daemon=True
        )

    def __enter__(self) -> "_Receiver":
        self._process.start()
        if not self._ready.wait(60):
            raise RuntimeError("the receiver process did not start")
        return self

    @property
    def stored(self) -> int:
        return int(self.counts[STORED])

    def own_cpu_seconds(self) -> float:
        """utime + stime of the receiver process alone (the daemon's writer and receive
        threads, not its indexer)."""
        return _cpu_seconds(self._process.pid or 0)

    def cpu_seconds(self) -> float:
        """utime + stime of the receiver process, all its threads, and of its children (the
        daemon's indexer process computes the traces' facts: work every document costs)."""
        return sum(_cpu_seconds(pid) for pid in _process_tree(self._process.pid or 0))

    def settled(self, timeout: float = 120.0) -> int:
        """The stored count once the queue is empty and the count has stopped moving."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            time.sleep(0.3)
            current = self.stored
            if current == last and self.counts[QUEUED_BYTES] == 0:
                return current
            last = current
        return last

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.kill()


# Offered rates, in segments per second, tried in turn (from a rate any store keeps up with).
OFFERED_RATES = (1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000)
# Each rate is offered this long (or for the bench's `--segments`, if fewer): at a rate the
# store cannot keep up with, the queue (64 MiB, about 90,000 of these datagrams) fills in a few
# seconds, so what a step stores is what the daemon sustains, not a burst the queue absorbed.
STEP_SECONDS = 10.0
# A rate is kept up with when, as its step's sending ends, at most this much of it is still
# waiting (a batch being written, the window) and nothing is lost once the queue drains.
KEPT_UP_BACKLOG_SECONDS = 0.25
# Rates tried after the first one not kept up with: enough to show how the loss grows.
STEPS_PAST_THE_LIMIT = 2


@dataclass(frozen=True)
class IngestStep:
    offered: int  # asked of the sender, per second
    sent: int
    seconds: float  # the sending took
    stored_by_end: int  # in the store when the sending ended
    lost: int  # never stored, once the queue had drained

    @property
    def sent_rate(self) -> float:
        return self.sent / self.seconds

    @property
    def stored_rate(self) -> float:
        """Documents stored per second of the step: counted in the store, not at receipt."""
        return self.stored_by_end / self.seconds

    @property
    def kept_up(self) -> bool:
        waiting = self.sent - self.stored_by_end
        return self.lost == 0 and waiting <= self.sent_rate * KEPT_UP_BACKLOG_SECONDS


def _ingest_steps(
    receiver: _Receiver, template: bytes, segments: int, rates: tuple[int, ...] = OFFERED_RATES
) -> list[IngestStep]:
    steps: list[IngestStep] = []
    first = 0
    for rate in rates:
        count = int(min(segments, rate * STEP_SECONDS))
        before = receiver.settled()
        cpu_before = receiver.own_cpu_seconds()
        seconds = _send_paced(template, first, count, ("127.0.0.1", receiver.port), rate)
        stored_by_end = receiver.stored - before
        receiver.step_cpu.append((receiver.own_cpu_seconds() - cpu_before) / seconds)
        stored = receiver.settled() - before
        first += count
        steps.append(IngestStep(rate, count, seconds, stored_by_end, count - stored))
        if sum(not step.kept_up for step in steps) > STEPS_PAST_THE_LIMIT:
            break
    return steps


def _sustained(steps: list[IngestStep]) -> tuple[float, str]:
    """The highest rate kept up with (as sent), and what happened at the rates above it."""
    best = max((step.sent_rate for step in steps if step.kept_up), default=0.0)
    above = [step for step in steps if not step.kept_up]
    if not above:
        return best, "none up to the highest rate"
    return best, "; ".join(
        f"{step.sent_rate:,.0f}/s sent: {step.stored_rate:,.0f}/s stored,"
        f" {step.lost / step.sent:.1%} lost" for step in above
    )  # fmt: skip


# One request's pace when requests follow one another: its 4 segments 0.5 ms apart (the SDK's
# subsegment, then Lambda's two segments, then the stage's), the next request 2 ms later.
SEGMENT_GAP_SECONDS = 0.0005
REQUEST_GAP_SECONDS = 0.002
LOW_RATE_REQUESTS = 500


def _low_rate_cost(tmp: Path, batch_window: float) -> tuple[float, float]:
    """The daemon's CPU per stored document, and documents per transaction, at a request's pace."""
    with _Receiver(_run_daemon, str(tmp / f"low-rate-{batch_window}.db"), batch_window) as daemon:
        now = time.time()
        traces = [
            [DAEMON_HEADER + json.dumps(document).encode() for document in tutorial_trace(now - index * 0.01)]
            for index in range(LOW_RATE_REQUESTS)
        ]
        time.sleep(0.5)  # the child's start-up is not the figure
        cpu_before = daemon.cpu_seconds()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for trace in traces:
                for datagram in trace:
                    sender.sendto(datagram, ("127.0.0.1", daemon.port))
                    time.sleep(SEGMENT_GAP_SECONDS)
                time.sleep(REQUEST_GAP_SECONDS)
        stored = daemon.settled()
        _facts_settled(tmp / f"low-rate-{batch_window}.db")
        cpu = daemon.cpu_seconds() - cpu_before
        batches = int(daemon.counts[BATCHES])
    return cpu / stored, stored / batches


def _facts_settled(path: Path, timeout: float = 60.0) -> None:
    """Wait until the daemon's indexer process has computed every dirty trace of the file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if db.execute("SELECT 1 FROM dirty_traces LIMIT 1").fetchone() is None:
                return
        finally:
            db.close()
        time.sleep(0.05)


def _insert_cost(tmp: Path, batch_size: int, documents: int = 4000) -> float:
    """CPU seconds per document of TraceStore.insert in transactions of `batch_size`, with the
    traces' facts computed once at the end (as the daemon's writer does, not at each insert):
    without them the figure would leave out work every stored trace costs."""
    store = TraceStore(tmp / f"insert-{batch_size}.db")
    try:
        now = time.time()
        parsed = [
            parse_document(json.dumps(document))
            for index in range(documents // 4)
            for document in tutorial_trace(now - index * 0.01)
        ]
        store.insert(parsed[:batch_size])  # the file and its pages exist before timing
        rest = parsed[batch_size:]
        started = time.process_time()
        for index in range(0, len(rest), batch_size):
            store.insert(rest[index : index + batch_size])
        store.refresh_index()
        return (time.process_time() - started) / len(rest)
    finally:
        store.close()


_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """utime + stime from /proc/<pid>/stat (0 if the process is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


STACK_REQUESTS = 1000


@dataclass(frozen=True)
class CpuShare:
    route: str
    stack_ms: float  # CPU of every process of the stack, per request
    xray_ms: float  # of the X-Ray child alone


def _xray_cpu_share() -> list[CpuShare]:
    """X-Ray's share of the stack's CPU per request: `make run`'s process tree, sequential
    requests on one connection, the X-Ray child's utime+stime against the whole tree's."""
    shares = []
    with LocalStack() as stack:
        # The stack's processes: `make run` (its arguments name the stack's ports) and below.
        marker = f"--xray-port={stack.xray_port}".encode()
        named = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
        root = max((pid for pid in named if marker in _cmdline(pid)), key=lambda pid: len(_process_tree(pid)))
        routes = {
            "GET /hello": Request("GET", f"{stack.url}/hello"),
            "POST /ddb": Request("POST", f"{stack.url}/ddb", json.dumps({"key": "bench"}).encode()),
        }
        for route, request in routes.items():
            measure_latency(request, count=50)
            tree = _process_tree(root)
            # The X-Ray process and its indexer child (the traces' facts).
            xray = [pid for pid in tree if b"emulator.xray." in _cmdline(pid)]
            before = {pid: _cpu_seconds(pid) for pid in tree}
            measure_latency(request, count=STACK_REQUESTS, warmup=0)
            # The last request's segments reach the store, and the indexer computes the
            # facts of the traces still dirty: work the requests caused.
            time.sleep(1.0)
            used = {pid: _cpu_seconds(pid) - before[pid] for pid in tree}
            shares.append(
                CpuShare(
                    route,
                    sum(used.values()) / STACK_REQUESTS * 1000,
                    sum(used[pid] for pid in xray) / STACK_REQUESTS * 1000,
                )
            )
    return shares


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@dataclass(frozen=True)
class IngestFigures:
    daemon_steps: list[IngestStep]
    bare_steps: list[IngestStep]
    insert_cost: dict[int, float]  # batch size -> CPU seconds per document
    low_rate_before: tuple[float, float]  # window 0: CPU per document, documents per transaction
    low_rate_after: tuple[float, float]  # the daemon's window
    cpu_shares: list[CpuShare]

    def table(self) -> RenderableType:
        return Group(self._rate_table(), self._cost_table(), self._share_table())

    def _rate_table(self) -> Table:
        table = Table(
            title=f"X-Ray daemon, sustained ingest over loopback UDP ({STEP_SECONDS:.0f} s steps, segments/s)"
        )
        for column in ("receiver", "highest rate kept up with", "most stored in a step", "above it"):
            table.add_column(column, justify="right")
        daemon_rate, daemon_above = _sustained(self.daemon_steps)
        bare_rate, bare_above = _sustained(self.bare_steps)
        daemon_most = max(step.stored_rate for step in self.daemon_steps)
        bare_most = max(step.stored_rate for step in self.bare_steps)
        table.add_row(
            "local daemon (stored in SQLite)", f"{daemon_rate:,.0f}", f"{daemon_most:,.0f}", daemon_above
        )
        table.add_row("bare UDP socket (counts only)", f"{bare_rate:,.0f}", f"{bare_most:,.0f}", bare_above)
        table.add_row(
            "daemon / bare",
            f"{daemon_rate / bare_rate:.2f}" if bare_rate else "",
            f"{daemon_most / bare_most:.2f}" if bare_most else "",
            "",
        )
        table.caption = (
            "counted in the store when each step's sending ends; kept up with: at most"
            f" {KEPT_UP_BACKLOG_SECONDS} s of the step still queued, nothing lost once drained"
        )
        return table

    def _cost_table(self) -> Table:
        big = self.insert_cost[max(self.insert_cost)]
        table = Table(title="X-Ray store, CPU per stored document")
        for column in (
            "work",
            "µs per document",
            "documents per transaction",
            f"× a {max(self.insert_cost):,} batch",
        ):
            table.add_column(column, justify="right")
        for size, cost in sorted(self.insert_cost.items()):
            table.add_row(
                f"TraceStore.insert, {size:,} per transaction, then the facts",
                f"{cost * 1e6:.0f}",
                f"{size:,}",
                f"{cost / big:.2f}",
            )
        for name, (cost, per_batch) in (
            ("daemon, one transaction per datagram (before)", self.low_rate_before),
            (f"daemon, {BATCH_WINDOW_SECONDS * 1000:.0f} ms batch window (now)", self.low_rate_after),
        ):
            table.add_row(name, f"{cost * 1e6:.0f}", f"{per_batch:.1f}", f"{cost / big:.2f}")
        table.caption = (
            f"daemon rows: {LOW_RATE_REQUESTS} traces of 4 segments sent at a request's pace"
            " (0.5 ms apart, 2 ms between requests); the whole daemon process's CPU (receive, parse, store)"
        )
        return table

    def _share_table(self) -> Table:
        table = Table(title=f"X-Ray's share of the stack's CPU, {STACK_REQUESTS:,} sequential requests")
        for column in ("route", "stack ms CPU / request", "X-Ray ms CPU / request", "X-Ray share"):
            table.add_column(column, justify="right")
        for share in self.cpu_shares:
            table.add_row(
                share.route,
                f"{share.stack_ms:.2f}",
                f"{share.xray_ms:.2f}",
                f"{share.xray_ms / share.stack_ms:.0%}",
            )
        table.caption = "utime+stime from /proc of every process under `make run`, and of the X-Ray child"
        return table


def measure_ingest(*, segments: int) -> IngestFigures:
    """The daemon's sustained rate beside a bare socket's, its CPU per document at a request's
    pace before and after batching, and its share of the stack's CPU per request."""
    template = _datagram_template()
    with tempfile.TemporaryDirectory(prefix="xray-bench-") as tmp_name:
        tmp = Path(tmp_name)
        insert_cost = {size: _insert_cost(tmp, size) for size in (1, 4, 2000)}
        before = _low_rate_cost(tmp, 0.0)
        after = _low_rate_cost(tmp, BATCH_WINDOW_SECONDS)
        with _Receiver(_run_daemon, str(tmp / "traces.db"), BATCH_WINDOW_SECONDS) as daemon:
            daemon_steps = _ingest_steps(daemon, template, segments)
    with _Receiver(_run_bare_socket) as bare:
        bare_steps = _ingest_steps(bare, template, segments)
    return IngestFigures(daemon_steps, bare_steps, insert_cost, before, after, _xray_cpu_share())


@dataclass(frozen=True)
class GraphFigures:
    stored_segments: int
    stored_documents: int
    graph_seconds: float
    read_seconds: float
    services: int

    def table(self) -> Table:
        table = Table(title=f"GetServiceGraph over {self.stored_segments:,} stored segments")
        for column in ("work", "median seconds"):
            table.add_column(column, justify="right")
        table.add_row(f"GetServiceGraph ({self.services} services)", f"{self.graph_seconds:.3f}")
        table.add_row(f"read the {self.stored_documents:,} stored documents", f"{self.read_seconds:.3f}")
        table.add_row("graph / read", f"{self.graph_seconds / self.read_seconds:.2f}")
        table.caption = "target: GetServiceGraph under 1 s"
        return table


def measure_graph_query(*, stored: int, repeats: int = 5) -> GraphFigures:
    with tempfile.TemporaryDirectory(prefix="xray-bench-") as tmp:
        store = TraceStore(Path(tmp) / "traces.db", max_documents=stored * 2)
        try:
            now = time.time()
            segments = documents = 0
            while segments < stored:
                batch = []
                for index in range(500):
                    batch.extend(tutorial_trace(now - 3000 + (segments / 3 + index) * 0.01))
                parsed = [parse_document(json.dumps(document)) for document in batch]
                store.insert(parsed)
                documents += len(parsed)
                segments += sum(1 for document in batch if document.get("type") != "subsegment")
            backend = XRayBackend(store)
            graph_times, read_times, services = [], [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                services = len(backend.get_service_graph(now - 3600, now + 60)["Services"])
                graph_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                with store.reader() as db:
                    rows = db.execute("SELECT document FROM bodies").fetchall()
                read_times.append(time.perf_counter() - started)
                assert len(rows) == documents
        finally:
            store.close()
    return GraphFigures(
        segments, documents, statistics.median(graph_times), statistics.median(read_times), services
    )


def measure_daemon_steps(rates: tuple[int, ...], segments: int) -> tuple[list[IngestStep], int, list[float]]:
    """The daemon's steps alone at `rates` (a finer ladder than the bench's, around the rate it
    sustains), the most bytes its write-ahead log held meanwhile, and the cores its process
    (not the indexer) used in each step."""
    template = _datagram_template()
    with (
        tempfile.TemporaryDirectory(prefix="xray-bench-") as tmp,
        _Receiver(_run_daemon, str(Path(tmp) / "traces.db"), BATCH_WINDOW_SECONDS) as daemon,
    ):
        steps = _ingest_steps(daemon, template, segments, rates)
        return steps, int(daemon.counts[WAL_BYTES]), daemon.step_cpu


def main() -> None:
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m bench.xray_figures", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=int, nargs="+", default=list(OFFERED_RATES), help="segments/s, in turn"
    )
    parser.add_argument("--segments", type=int, default=320_000, help="most segments per step")
    args = parser.parse_args()
    steps, wal_bytes, cores = measure_daemon_steps(tuple(args.rates), args.segments)
    table = Table(title=f"X-Ray daemon, {STEP_SECONDS:.0f} s steps (segments/s, counted when stored)")
    for column in ("offered", "sent", "stored by the step's end", "lost", "kept up", "daemon's cores"):
        table.add_column(column, justify="right")
    for step, used in zip(steps, cores, strict=True):
        table.add_row(
            f"{step.offered:,}",
            f"{step.sent_rate:,.0f}",
            f"{step.stored_rate:,.0f}",
            f"{step.lost:,}",
            "yes" if step.kept_up else "no",
            f"{used:.2f}",
        )
    table.caption = f"the write-ahead log held at most {wal_bytes / 1e6:.1f} MB"
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
