"""The local X-Ray's figures: daemon ingest with zero loss, and GetServiceGraph at 100,000 segments.

Baselines from the same run: a bare UDP socket that only counts datagrams (what loopback and
this machine allow at all), and the time to merely read the stored documents (what any
answer over them costs at least).
"""

import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from emulator import service_segments as seg
from emulator.segment_sender import DAEMON_HEADER
from emulator.trace_header import new_segment_id, new_trace_id
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
    call = seg.LambdaCall(call_id, FUNCTION, seg.Span(now - 0.019, now - 0.001), 200)
    request = seg.HttpRequest("http://127.0.0.1:3000/Prod/ddb", "POST", "127.0.0.1", "curl/8.5.0")
    stage = seg.api_gateway_stage_segment(
        trace_id=trace_id, segment_id=stage_id, parent_id=None, stack_name="sam-app", stage="Prod",
        api_id="benchapi00", region="ap-northeast-1", request_id="bench", span=span, request=request,
        status=200, lambda_call=call,
    )  # fmt: skip
    service = seg.lambda_service_segment(
        trace_id=trace_id, segment_id=service_id, parent_id=call_id, function=FUNCTION,
        request_id="bench", span=seg.Span(now - 0.018, now - 0.002),
    )  # fmt: skip
    ids = seg.SubsegmentIds(new_segment_id(), new_segment_id(), new_segment_id())
    function = seg.lambda_function_segment(
        trace_id=trace_id, segment_id=function_id, parent_id=service_id, function=FUNCTION,
        request_id="bench", initialization=None, invocation=seg.Span(now - 0.017, now - 0.004),
        overhead=seg.Span(now - 0.004, now - 0.003), subsegment_ids=ids,
    )  # fmt: skip
    put_item = {
        "type": "subsegment", "id": new_segment_id(), "trace_id": trace_id, "parent_id": function_id,
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
        document = seg.lambda_service_segment(
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


class _CountingSocket:
    """The baseline receiver: a UDP socket with the daemon's buffer size that only counts."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.received = 0
        self._thread = threading.Thread(target=self._count, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.socket.getsockname()

    def _count(self) -> None:
        while True:
            try:
                self.socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received += 1

    def settle(self) -> int:
        time.sleep(0.5)
        return self.received

    def close(self) -> None:
        self.socket.close()


@dataclass(frozen=True)
class IngestFigures:
    daemon_zero_loss_rate: int
    daemon_first_loss: str
    bare_zero_loss_rate: int
    daemon_drain_rate: float

    def table(self) -> Table:
        table = Table(title="X-Ray daemon ingest over loopback UDP (segments/s)")
        for column in ("receiver", "highest zero-loss rate sent", "first loss"):
            table.add_column(column, justify="right")
        table.add_row(
            "local daemon (stored in SQLite)", f"{self.daemon_zero_loss_rate:,}", self.daemon_first_loss
        )
        table.add_row("bare UDP socket (counts only)", f"{self.bare_zero_loss_rate:,}", "")
        ratio = self.daemon_zero_loss_rate / self.bare_zero_loss_rate if self.bare_zero_loss_rate else 0.0
        table.add_row("daemon / bare", f"{ratio:.2f}", "")
        table.caption = f"stored end to end at {self.daemon_drain_rate:,.0f} segments/s (send to last row)"
        return table


def measure_ingest(*, segments: int) -> IngestFigures:
    """Offer rising rates, each for `segments` datagrams at most; stop at the first loss."""
    with (
        tempfile.TemporaryDirectory(prefix="xray-bench-") as tmp,
        XRayServer(port=0, db_path=Path(tmp) / "traces.db") as server,
    ):
        daemon_best, first_loss, drain = 0, "none up to the highest rate", 0.0
        for rate in OFFERED_RATES:
            batch = list(_segment_datagrams(min(segments, rate * 2)))
            before = server.accepted
            started = time.perf_counter()
            sent_in = _send_paced(batch, ("127.0.0.1", server.udp_port), rate)
            server.wait_idle(timeout=60)
            stored = server.accepted - before
            drain = max(drain, stored / (time.perf_counter() - started))
            if stored < len(batch):
                first_loss = f"{rate:,}/s: {len(batch) - stored:,} of {len(batch):,} lost"
                break
            # What the sender really achieved: at the top rates Python's sendto is the limit.
            daemon_best = round(min(rate, len(batch) / sent_in))
    bare = _CountingSocket()
    try:
        bare_best = 0
        for rate in OFFERED_RATES:
            batch = list(_segment_datagrams(min(segments, rate * 2)))
            before = bare.received
            sent_in = _send_paced(batch, bare.address, rate)
            if bare.settle() - before < len(batch):
                break
            bare_best = round(min(rate, len(batch) / sent_in))
    finally:
        bare.close()
    return IngestFigures(daemon_best, first_loss, bare_best, drain)


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
