"""OpenTelemetry ingest: OTLP spans per second the local daemon stores with zero loss, beside
the X-Ray SDK's segments per second and a bare UDP socket, in the same run.

Each datagram is what ADOT's X-Ray UDP span exporter sends for one tutorial request: the
daemon header, `T1S` and the base64 of an ExportTraceServiceRequest holding the request's
3 spans (the function's SERVER span, `put_item ddb`, the DynamoDB CLIENT call), each datagram a
trace of its own. The receivers, the pacing and the "kept up with" rule are xray_figures'
(counted in the store when each step's sending ends; nothing lost once the queue drains).
"""

import base64
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from rich.table import Table

from bench.xray_figures import (
    KEPT_UP_BACKLOG_SECONDS,
    OFFERED_RATES,
    STEP_SECONDS,
    STEPS_PAST_THE_LIMIT,
    IngestStep,
    _datagram_template,
    _ingest_steps,
    _Receiver,
    _run_bare_socket,
    _run_daemon,
    _sustained,
)
from emulator.xray.daemon import BATCH_WINDOW_SECONDS

HEADER = b'{"format":"json","version":1}\n'
SPANS_PER_DATAGRAM = 3
# Placeholders in the encoded request, swapped for each datagram's own ids (raw bytes inside the
# protobuf: the swap happens before base64). Long enough not to occur by chance.
TRACE_MARK = b"\xa5TRACE-ID-MARK\xa5\x5a"
SPAN_MARKS = (b"\xa5SPAN-0\x5a", b"\xa5SPAN-1\x5a", b"\xa5SPAN-2\x5a")


def _string(value: str) -> AnyValue:
    return AnyValue(string_value=value)


def request_template(now: float) -> bytes:
    """One request's 3 spans, encoded, with TRACE_MARK and SPAN_MARKS where the ids go."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [
            KeyValue(key="service.name", value=_string("SamDdbFunction")),
            KeyValue(key="cloud.provider", value=_string("aws")),
            KeyValue(key="cloud.platform", value=_string("aws_lambda")),
            KeyValue(key="telemetry.sdk.name", value=_string("opentelemetry")),
            KeyValue(key="telemetry.sdk.language", value=_string("python")),
        ]
    )
    spans = resource_spans.scope_spans.add().spans
    start = int((now - 0.02) * 1e9)
    millisecond = 1_000_000
    # (name, kind, parent mark, start and end in ms after `start`): one request, as in the tutorial.
    shapes = (
        ("lambda_handler", Span.SPAN_KIND_SERVER, b"", 0, 17),
        ("put_item ddb", Span.SPAN_KIND_INTERNAL, SPAN_MARKS[0], 1, 12),
        ("DynamoDB.PutItem", Span.SPAN_KIND_CLIENT, SPAN_MARKS[1], 2, 11),
    )
    for mark, (name, kind, parent, begin, end) in zip(SPAN_MARKS, shapes, strict=True):
        spans.add(
            trace_id=TRACE_MARK, span_id=mark, parent_span_id=parent, name=name, kind=kind,
            start_time_unix_nano=start + begin * millisecond, end_time_unix_nano=start + end * millisecond,
        )  # fmt: skip
    table_names = AnyValue(array_value=ArrayValue(values=[_string("Demo")]))
    spans[2].attributes.extend(
        [
            KeyValue(key="rpc.system", value=_string("aws-api")),
            KeyValue(key="rpc.service", value=_string("DynamoDB")),
            KeyValue(key="rpc.method", value=_string("PutItem")),
            KeyValue(key="aws.region", value=_string("ap-northeast-1")),
            KeyValue(key="aws.dynamodb.table_names", value=table_names),
            KeyValue(key="http.status_code", value=AnyValue(int_value=200)),
        ]
    )
    encoded = request.SerializeToString()
    assert encoded.count(TRACE_MARK) == SPANS_PER_DATAGRAM
    return encoded


class OtlpDatagrams:
    """Datagram number n: the template with a trace id of its own (the X-Ray epoch first)."""

    def __init__(self, now: float) -> None:
        self._template = request_template(now)
        self._epoch = int(now).to_bytes(4, "big")

    def __call__(self, number: int) -> bytes:
        payload = self._template.replace(TRACE_MARK, self._epoch + number.to_bytes(12, "big"))
        for index, mark in enumerate(SPAN_MARKS):
            payload = payload.replace(mark, (number * 4 + index + 1).to_bytes(8, "big"))
        return HEADER + b"T1S" + base64.b64encode(payload)


def _send_paced(
    datagrams: OtlpDatagrams, first: int, count: int, target: tuple[str, int], rate: int
) -> float:
    """Send datagrams first .. first+count-1 at `rate` datagrams per second (1 ms slices)."""
    per_slice = max(1, rate // 1000)
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for index in range(0, count, per_slice):
            for number in range(first + index, first + min(index + per_slice, count)):
                sender.sendto(datagrams(number), target)
            ahead = started + (index + per_slice) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    return time.perf_counter() - started


def _otlp_steps(receiver: _Receiver, spans: int, counted_per_datagram: int) -> list[IngestStep]:
    """Like xray_figures' steps, in spans: offered span rates, datagrams of 3 spans.

    counted_per_datagram: what the receiver counts for one datagram (the daemon stores 3
    documents; the bare socket counts 1), so every figure is in spans.
    """
    datagrams = OtlpDatagrams(time.time())
    steps: list[IngestStep] = []
    first = 1
    for rate in OFFERED_RATES:
        count = int(min(spans, rate * STEP_SECONDS)) // SPANS_PER_DATAGRAM
        before = receiver.settled()
        seconds = _send_paced(
            datagrams, first, count, ("127.0.0.1", receiver.port), rate // SPANS_PER_DATAGRAM
        )
        scale = SPANS_PER_DATAGRAM / counted_per_datagram
        stored_by_end = int((receiver.stored - before) * scale)
        stored = int((receiver.settled() - before) * scale)
        first += count
        sent = count * SPANS_PER_DATAGRAM
        steps.append(IngestStep(rate, sent, seconds, stored_by_end, sent - stored))
        if sum(not step.kept_up for step in steps) > STEPS_PAST_THE_LIMIT:
            break
    return steps


@dataclass(frozen=True)
class OtlpFigures:
    sdk_steps: list[IngestStep]  # X-Ray SDK segment datagrams into the daemon, documents
    otlp_steps: list[IngestStep]  # OTLP datagrams into the daemon, spans
    bare_steps: list[IngestStep]  # OTLP datagrams into a bare socket, spans

    def table(self) -> Table:
        table = Table(
            title=f"X-Ray daemon, OpenTelemetry beside the X-Ray SDK ({STEP_SECONDS:.0f} s steps, per second)"
        )
        for column in ("sender → receiver", "highest rate kept up with", "most stored in a step", "above it"):
            table.add_column(column, justify="right")
        rows = (
            ("X-Ray SDK segments → local daemon", self.sdk_steps),
            (f"OTLP spans ({SPANS_PER_DATAGRAM} a datagram) → local daemon", self.otlp_steps),
            ("OTLP spans → bare UDP socket (counts only)", self.bare_steps),
        )
        rates = {}
        for name, steps in rows:
            rate, above = _sustained(steps)
            rates[name] = rate
            table.add_row(name, f"{rate:,.0f}", f"{max(step.stored_rate for step in steps):,.0f}", above)
        sdk, otlp, bare = (rates[name] for name, _ in rows)
        table.add_row("OTLP spans / SDK segments", f"{otlp / sdk:.2f}" if sdk else "", "", "")
        table.add_row("OTLP spans / bare socket", f"{otlp / bare:.2f}" if bare else "", "", "")
        table.caption = (
            "counted in the store when each step's sending ends; kept up with: at most"
            f" {KEPT_UP_BACKLOG_SECONDS} s of the step still queued, nothing lost once drained;"
            f" batch window {BATCH_WINDOW_SECONDS * 1000:.0f} ms"
        )
        return table


def measure(*, segments: int) -> OtlpFigures:
    """The three receivers in turn, each in a process of its own; `segments` caps a step."""
    with tempfile.TemporaryDirectory(prefix="otlp-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with _Receiver(_run_daemon, str(tmp / "sdk.db"), BATCH_WINDOW_SECONDS) as daemon:
            sdk_steps = _ingest_steps(daemon, _datagram_template(), segments)
        with _Receiver(_run_daemon, str(tmp / "otlp.db"), BATCH_WINDOW_SECONDS) as daemon:
            otlp_steps = _otlp_steps(daemon, segments, SPANS_PER_DATAGRAM)
    with _Receiver(_run_bare_socket) as bare:
        bare_steps = _otlp_steps(bare, segments, 1)
    return OtlpFigures(sdk_steps, otlp_steps, bare_steps)


if __name__ == "__main__":
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m bench.otlp_figures", description=__doc__)
    parser.add_argument("--segments", type=int, default=320_000, help="most segments or spans per step")
    Console().print(measure(segments=parser.parse_args().segments).table())
