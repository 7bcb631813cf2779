"""Schedules firing into a real LambdaService (awslambdaric workers) through Lambda's real queue
for asynchronous invocations, on a clock the test drives: the event the function receives, Input
in its place, and the X-Ray segments of a scheduled invocation (a new trace each time, started
by Lambda: EventBridge sends no trace header for a scheduled event)."""

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.app.model import AppSpec, FunctionSpec, ScheduleSpec
from emulator.app.resource_names import physical_name
from emulator.lambda_.async_invoke import AsyncInvoker
from emulator.lambda_.event_sources.context import EventSourceContext
from emulator.lambda_.event_sources.schedules import Scheduler, build_targets, start_schedules
from emulator.lambda_.service import LambdaService
from tests.eventbridge.test_scheduler import CREATED, FakeClock
from tests.lambda_ import test_lambda_service as service_tests
from tests.lambda_.test_lambda_service import LogRecorder, XRayDaemonStub, function_spec

pytestmark = pytest.mark.slow

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
note_children_before_test = service_tests.note_children_before_test
xray_daemon = service_tests.xray_daemon
logs = service_tests.logs
base_env = service_tests.base_env
make_service = service_tests.make_service
HANDLER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
"""


class Running:
    def __init__(self, service: LambdaService, invoker: AsyncInvoker, logs: LogRecorder) -> None:
        self.service = service
        self.invoker = invoker
        self.logs = logs
        self.events_log: list[str] = []

    def app(self, *schedules: ScheduleSpec) -> AppSpec:
        functions = self.service.functions
        return AppSpec(
            "sam-app",
            REGION,
            ACCOUNT,
            "Prod",
            "abcdefghij",
            False,
            functions,
            [],
            [],
            schedules=list(schedules),
        )

    def scheduler(self, *schedules: ScheduleSpec, clock: FakeClock) -> Scheduler:
        return Scheduler(
            build_targets(self.app(*schedules), clock.now()),
            submit=lambda logical_id, event: self.invoker.submit(logical_id, event),
            region=REGION,
            account_id=ACCOUNT,
            log=self.events_log.append,
            clock=clock,
        )

    def received(self, count: int, timeout: float = 20.0) -> list[Any]:
        """The events the function printed, once `count` of them have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                json.loads(line.split("EVENT ", 1)[1])
                for _, line in self.logs.lines
                if line.startswith("EVENT ")
            ]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture()
def running(
    make_service: Callable[..., LambdaService], tmp_path: Path, logs: LogRecorder
) -> Iterator[Running]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    spec: FunctionSpec = function_spec(code, "SweepFunction", tracing="Active")
    service = make_service([spec])
    invoker = AsyncInvoker(service, sqs_endpoint_url=None, region=REGION, log=lambda line: None)
    yield Running(service, invoker, logs)
    invoker.close()


def sweep(**changes: Any) -> ScheduleSpec:
    fields: dict[str, Any] = {
        "function": "SweepFunction",
        "event_id": "Nightly",
        "expression": "rate(5 minutes)",
    }
    fields.update(changes)
    return ScheduleSpec(**fields)


def test_the_function_receives_the_scheduled_event(running: Running):
    clock = FakeClock(CREATED)
    scheduler = running.scheduler(sweep(), clock=clock)
    clock.current = CREATED + timedelta(minutes=5)
    scheduler.run_due()
    [event] = running.received(1)
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{physical_name('sam-app', 'SweepFunctionNightly')}"
    ]
    assert (event["time"], event["detail"], event["account"], event["region"]) == (
        "2026-11-30T12:05:07Z",
        {},
        ACCOUNT,
        REGION,
    )


def test_the_function_receives_the_input_instead(running: Running):
    clock = FakeClock(CREATED)
    scheduler = running.scheduler(sweep(input='{"job": "sweep", "limit": 10}'), clock=clock)
    clock.current = CREATED + timedelta(minutes=5)
    scheduler.run_due()
    assert running.received(1) == [{"job": "sweep", "limit": 10}]


def test_each_scheduled_invocation_is_a_new_trace_that_lambda_starts(
    running: Running, xray_daemon: XRayDaemonStub
):
    clock = FakeClock(CREATED)
    scheduler = running.scheduler(sweep(), clock=clock)
    for minutes in (5, 10):
        clock.current = CREATED + timedelta(minutes=minutes)
        scheduler.run_due()
    assert len(running.received(2)) == 2
    documents = xray_daemon.collect(wait_seconds=2.0)
    services = [d for d in documents if d.get("origin") == "AWS::Lambda"]
    functions = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
    assert len(services) == 2 and len(functions) == 2
    # "X-Ray doesn't trace events that originate from ... scheduled events": nothing calls the
    # AWS::Lambda segment, and each run is its own trace.
    assert all("parent_id" not in service for service in services)
    assert len({service["trace_id"] for service in services}) == 2
    for service in services:
        # An asynchronous invoke: the time in Lambda's queue, then the try.
        assert [sub["name"] for sub in service["subsegments"]] == ["Dwell Time", "Attempt #1"]
        [function] = [f for f in functions if f["trace_id"] == service["trace_id"]]
        assert function["parent_id"] == service["id"]
        assert "Invocation" in [sub["name"] for sub in function["subsegments"]]


def test_start_schedules_names_each_schedule_and_fires_on_its_clock(
    running: Running, xray_daemon: XRayDaemonStub
):
    clock = FakeClock(CREATED)
    lines: list[str] = []
    context = EventSourceContext(
        app=running.app(
            sweep(expression="rate(1 hour)", scheduler=True, input='{"from": "scheduler"}'),
            sweep(event_id="Paused", enabled=False),
        ),
        lambda_service=running.service,
        async_invoker=running.invoker,
        endpoint_url="http://127.0.0.1:9",
        segment_sender=None,
        log=lines.append,
    )
    stop = start_schedules(context, clock=clock)
    assert stop is not None
    try:
        # A Scheduler rate starts at once (and the fake clock runs on: an hour passes in
        # about 120 waits of 30 s, so a second run may follow).
        assert running.received(1)[0] == {"from": "scheduler"}
    finally:
        stop()
    assert lines[:2] == [
        "SweepFunction ← schedule SweepFunctionNightly: rate(1 hour), next at 2026-11-30T12:00:07Z",
        f"SweepFunction ← rule {physical_name('sam-app', 'SweepFunctionPaused')}: rate(5 minutes): "
        "DISABLED, never runs",
    ]
    assert lines[2].startswith("SweepFunction ← schedule SweepFunctionNightly fired for 2026-11-30T12:00:07Z")
