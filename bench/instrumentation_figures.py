"""The functions' handler latency with each Instrumentation (xray-sdk, opentelemetry), cold and warm.

Each round starts the local stack with `make run ARGS="--parameter-overrides Instrumentation=..."`
(a child process, as the user runs it), the two variants in turn so both see the same machine load,
and reads the functions' own REPORT lines from its log, as Lambda writes them:

- cold: the first invocation of a fresh execution environment, `Init Duration` (the runtime started
  and the handler module imported: the tracing SDK set up) and its `Duration`;
- warm: `Duration` of the next invocations (sequential requests on one connection, so one
  environment serves them).

Duration is the time from the runtime taking the event to its answer (the Runtime API's /next to
/response), the handler and its tracing included; the gateway and the client are not in it.
"""

import re
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.table import Table

from bench.http_load import Request, measure_latency
from bench.local_stack import LocalStack

VARIANTS = ("xray-sdk", "opentelemetry")
ROUTES = {
    "HelloWorldFunction": ("GET", "/hello", None),
    "SamDdbFunction": ("POST", "/ddb", b'{"key": "bench"}'),
}
_REPORT = re.compile(r"^(?P<function>\S+) REPORT RequestId: \S+\tDuration: (?P<duration>[\d.]+) ms")
_INIT = re.compile(r"Init Duration: (?P<init>[\d.]+) ms")


@dataclass
class Samples:
    init_ms: list[float] = field(default_factory=list)  # one per round (cold start)
    cold_ms: list[float] = field(default_factory=list)  # the cold invocation's Duration
    warm_ms: list[float] = field(default_factory=list)


@dataclass
class InstrumentationFigures:
    rounds: int
    warm_requests: int
    samples: dict[tuple[str, str], Samples]  # (function logical id, variant)

    def table(self) -> Table:
        table = Table(
            title=f"Handler latency by Instrumentation: medians of {self.rounds} cold starts, "
            f"warm p50 / p99 of {self.rounds} × {self.warm_requests} invocations (ms)"
        )
        for column in ("function", "figure", "xray-sdk", "opentelemetry", "otel / sdk"):
            table.add_column(column, justify="right")
        for function in ROUTES:
            sdk, otel = self.samples[(function, "xray-sdk")], self.samples[(function, "opentelemetry")]
            rows = {
                "cold: Init Duration": (statistics.median(sdk.init_ms), statistics.median(otel.init_ms)),
                "cold: Duration": (statistics.median(sdk.cold_ms), statistics.median(otel.cold_ms)),
                "warm: Duration p50": (_percentile(sdk.warm_ms, 50), _percentile(otel.warm_ms, 50)),
                "warm: Duration p99": (_percentile(sdk.warm_ms, 99), _percentile(otel.warm_ms, 99)),
            }
            for figure, (ours, theirs) in rows.items():
                table.add_row(function, figure, f"{ours:.2f}", f"{theirs:.2f}", f"{theirs / ours:.2f}")
        table.caption = (
            "stack: `make run` child per variant and round; Duration from the functions' REPORT lines"
        )
        return table


@contextmanager
def _started(variant: str, attempts: int = 3) -> Iterator[LocalStack]:
    """A started stack of this variant. `make run` builds first, and a `sam build` of another process
    in this checkout (a cached one deletes the others' .aws-sam/deps folders) can fail it: try again."""
    for attempt in range(attempts):
        stack = LocalStack(["--parameter-overrides", f"Instrumentation={variant}"])
        try:
            stack.__enter__()  # stops what it started if it raises
        except RuntimeError as error:
            if "exited early" not in str(error) or attempt == attempts - 1:
                raise
            continue
        try:
            yield stack
        finally:
            stack.__exit__()
        return


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def measure(rounds: int = 3, warm_requests: int = 200) -> InstrumentationFigures:
    samples: dict[tuple[str, str], Samples] = defaultdict(Samples)
    for _ in range(rounds):
        for variant in VARIANTS:
            with _started(variant) as stack:
                # LocalStack waited for a 200 on /hello: HelloWorldFunction's cold start is done.
                # POST /ddb's first request is its cold start; then the warm ones, on one connection.
                for method, path, body in ROUTES.values():
                    request = Request(method, f"{stack.url}{path}", body)
                    try:
                        measure_latency(request, count=warm_requests, warmup=0)
                    except RuntimeError as error:  # a failed request: say what the stack logged
                        tail = "\n".join(stack.log_path.read_text().splitlines()[-20:])
                        raise RuntimeError(
                            f"{error} (Instrumentation={variant}); the stack's log ends:\n{tail}"
                        ) from None
                log = stack.log_path.read_text()
            _read_reports(log, variant, samples)
    return InstrumentationFigures(rounds, warm_requests, dict(samples))


def _read_reports(log: str, variant: str, samples: dict[tuple[str, str], Samples]) -> None:
    """Each REPORT line (prefixed by the function's name, sam-app-<logical id>-<suffix>) as a sample."""
    for line in log.splitlines():
        report = _REPORT.match(line)
        function = next((logical for logical in ROUTES if report and logical in report["function"]), None)
        if report is None or function is None:
            continue
        figures = samples[(function, variant)]
        init = _INIT.search(line)
        if init is not None:
            figures.init_ms.append(float(init["init"]))
            figures.cold_ms.append(float(report["duration"]))
        else:
            figures.warm_ms.append(float(report["duration"]))
