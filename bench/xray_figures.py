"""The local X-Ray's figures: daemon ingest with zero loss, and GetServiceGraph at 100,000 segments.

Baselines from the same run: a bare UDP socket that only counts datagrams (what loopback and
this machine allow at all), and the time to merely read the stored documents (what any
answer over them costs at least).
"""

import json
import multiprocessing
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.local_stack import free_port
from emulator.apigateway import stage_segment
from emulator.lambda_ import segments as lambda_segments
from emulator.tracing import documents as seg
from emulator.tracing.segment_sender import DAEMON_HEADER
from emulator.tracing.trace_header import new_segment_id, new_trace_id
from emulator.xray.backend import XRayBackend
from emulator.xray.documents import parse_document
from emulator.xray.server import XRayServer
from emulator.xray.store import TraceStore

# Offered rates, in datagrams per second, tried in turn until one loses datagrams.
OFFERED_RATES = (5_000, 10_000, 20_000, 40_000, 80_000, 160_000)
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


def _segment_datagrams(count: int) -> Iterator[bytes]:
    """`count` distinct single-segment datagrams (AWS::Lambda segments of fresh traces)."""
    now = time.time()
    for _ in range(count):
        document = lambda_segments.lambda_service_segment(
            trace_id=new_trace_id(now), segment_id=new_segment_id(), parent_id=None, function=FUNCTION,
            request_id="bench", span=seg.Span(now - 0.01, now),
        )  # fmt: skip
        yield DAEMON_HEADER + json.dumps(document, separators=(",", ":")).encode()


def _send_paced(datagrams: list[bytes], target: tuple[str, int], rate: int) -> float:
    """Send at `rate` per second (in 1 ms slices); return the seconds it took."""
    per_slice = max(1, rate // 1000)
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for index in range(0, len(datagrams), per_slice):
            for datagram in datagrams[index : index + per_slice]:
                sender.sendto(datagram, target)
            ahead = started + (index + per_slice) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    return time.perf_counter() - started


def _run_daemon(port: int, db_path: str, accepted: Any, ready: Any, stop: Any) -> None:
    """Child process: the real local X-Ray server, publishing its accepted count."""
    with XRayServer(port=port, db_path=Path(db_path)) as server:
        ready.set()
        while not stop.wait(0.02):
            accepted.value = server.accepted
        server.wait_idle(timeout=60)
        accepted.value = server.accepted


def _run_bare_socket(port: int, accepted: Any, ready: Any, stop: Any) -> None:
    """Child process: the baseline, a UDP socket with the daemon's buffer that only counts."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        receiver.bind(("127.0.0.1", port))
        receiver.settimeout(0.02)
        ready.set()
        count = 0
        while not stop.is_set():
            try:
                receiver.recv(65536)
                count += 1
            except TimeoutError:
                accepted.value = count
        accepted.value = count


class _Receiver:
    """A receiver in a process of its own, so that it never shares a GIL with the sender."""

    def __init__(self, target: Any, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.accepted = context.Value("q", 0)
        self._ready, self._stop = context.Event(), context.Event()
        self._process = context.Process(
            target=target, args=(self.port, *args, self.accepted, self._ready, self._stop), daemon=True
        )

    def __enter__(self) -> "_Receiver":
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the receiver process did not start")
        return self

    def settled_count(self, timeout: float = 60.0) -> int:
        """The count once it has stopped moving (everything sent has been taken in)."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            time.sleep(0.3)
            current = self.accepted.value
            if current == last:
                return current
            last = current
        return last

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()


@dataclass(frozen=True)
class IngestFigures:
    daemon_zero_loss_rate: int
    daemon_first_loss: str
    bare_zero_loss_rate: int
    bare_first_loss: str

    def table(self) -> Table:
        table = Table(title="X-Ray daemon ingest over loopback UDP (segments/s)")
        for column in ("receiver", "highest zero-loss rate sent", "first loss"):
            table.add_column(column, justify="right")
        daemon = f"{self.daemon_zero_loss_rate:,}"
        table.add_row("local daemon (parsed, stored in SQLite)", daemon, self.daemon_first_loss)
        table.add_row("bare UDP socket (counts only)", f"{self.bare_zero_loss_rate:,}", self.bare_first_loss)
        ratio = self.daemon_zero_loss_rate / self.bare_zero_loss_rate if self.bare_zero_loss_rate else 0.0
        table.add_row("daemon / bare", f"{ratio:.2f}", "")
        table.caption = "each receiver in its own process; rates rise until the first lost datagram"
        return table


def _zero_loss_rate(receiver: _Receiver, segments: int) -> tuple[int, str]:
    best, first_loss = 0, "none up to the highest rate"
    for rate in OFFERED_RATES:
        batch = list(_segment_datagrams(min(segments, rate * 2)))
        before = receiver.settled_count()
        sent_in = _send_paced(batch, ("127.0.0.1", receiver.port), rate)
        taken = receiver.settled_count() - before
        if taken < len(batch):
            return best, f"at {rate:,}/s offered: {len(batch) - taken:,} of {len(batch):,} lost"
        # What the sender really achieved: at the top rates Python's sendto is the limit.
        best = round(min(rate, len(batch) / sent_in))
    return best, first_loss


def measure_ingest(*, segments: int) -> IngestFigures:
    """Offer rising rates for 2 s each (`segments` datagrams at most); stop at the first loss.

    Two seconds outlast the socket buffer, so this is a sustained rate, not a burst absorbed.
    """
    with (
        tempfile.TemporaryDirectory(prefix="xray-bench-") as tmp,
        _Receiver(_run_daemon, str(Path(tmp) / "traces.db")) as daemon,
    ):
        daemon_rate, daemon_loss = _zero_loss_rate(daemon, segments)
    with _Receiver(_run_bare_socket) as bare:
        bare_rate, bare_loss = _zero_loss_rate(bare, segments)
    return IngestFigures(daemon_rate, daemon_loss, bare_rate, bare_loss)


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
