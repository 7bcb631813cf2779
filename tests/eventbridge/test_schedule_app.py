"""tests/schedule_app/ built by the real `sam build` and run by the real stack: start-up names
every rule and schedule with its next time (a DISABLED one as never running); the rule's cron
fires with the Scheduled Event, an EventBridge Scheduler rate without StartDate fires at once with
Scheduler's default notification, a one-time at() in Tokyo time fires with its Input; each
scheduled invocation is a trace of its own whose function subsegments sit under Invocation.

The scheduler thread runs for real, on a clock that runs at real speed but starts three seconds
before the rule's 03:00 UTC (StackConfig.schedule_clock, which only tests set): a far time comes
in seconds, and nothing about when or how it fires is faked.
"""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emulator.app.resource_names import physical_name
from emulator.lambda_.event_sources.schedules import MAX_WAIT_SECONDS
from tests.conftest import REPO_ROOT, sam_build
from tests.stack_helpers import RunningStack, running_stack

pytestmark = pytest.mark.slow

SCHEDULE_APP = REPO_ROOT / "tests" / "schedule_app"
# Tomorrow, three seconds before the rule's cron(0 3 * * ? *).
START = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=59, second=57, microsecond=0)
NIGHTLY_AT = START + timedelta(seconds=3)
ONCE_AT = START + timedelta(seconds=5)
WAIT_SECONDS = 30.0
ACCOUNT, REGION = "123456789012", "ap-northeast-1"


class ShiftedClock:
    """The system clock, moved: the first time it is read it says `start`, and from there it
    runs at real speed (the scheduler reads it first when the stack creates the schedules)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._offset: timedelta | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._offset is None:
                self._offset = self._start - datetime.now(UTC)
            return datetime.now(UTC) + self._offset

    def wait(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(min(seconds, MAX_WAIT_SECONDS))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def schedule_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sam_build(SCHEDULE_APP / "template.yaml", tmp_path_factory.mktemp("schedule-build")).template


@pytest.fixture(scope="module")
def stack(schedule_app_template: Path, lambda_runtime_dir: Path) -> Iterator[RunningStack]:
    once_in_tokyo = ONCE_AT.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M:%S")
    with running_stack(
        schedule_app_template,
        lambda_runtime_dir,
        parameter_overrides={"OnceAt": once_in_tokyo},
        schedule_clock=ShiftedClock(START),
    ) as running:
        yield running


def events_lines(stack: RunningStack) -> list[str]:
    return [line for name, line in list(stack.logs) if name == "events"]


def received(stack: RunningStack, accept: Any) -> dict[str, Any]:
    """The first event the function printed that `accept` takes, waiting for it."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for _, line in list(stack.logs):
            if line.startswith("EVENT "):
                event = json.loads(line[len("EVENT ") :])
                if accept(event):
                    return event
        time.sleep(0.1)
    raise AssertionError(f"no such event; the log was: {stack.logs}")


def test_start_up_names_each_rule_and_schedule_with_its_next_time(stack: RunningStack):
    lines = events_lines(stack)
    nightly = physical_name("sam-app", "SweepFunctionNightly")
    paused = physical_name("sam-app", "SweepFunctionPaused")
    assert f"SweepFunction ← rule {nightly}: cron(0 3 * * ? *), next at {iso(NIGHTLY_AT)}" in lines
    assert f"SweepFunction ← rule {paused}: rate(5 minutes): DISABLED, never runs" in lines
    assert f"SweepFunction ← schedule SweepFunctionHourly: rate(1 hour), next at {iso(START)}" in lines
    once = ONCE_AT.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M:%S")
    assert (
        f"SweepFunction ← schedule SweepFunctionOnce: at({once}) (Asia/Tokyo), next at {iso(ONCE_AT)}"
        in lines
    )


def test_the_rule_fires_at_its_cron_time_with_the_scheduled_event(stack: RunningStack):
    event = received(stack, lambda event: event.get("source") == "aws.events")
    assert isinstance(event.pop("id"), str)
    assert event == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": iso(NIGHTLY_AT),
        "region": REGION,
        "resources": [
            f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{physical_name('sam-app', 'SweepFunctionNightly')}"
        ],
        "detail": {},
    }


def test_a_scheduler_rate_fires_at_once_with_the_default_notification(stack: RunningStack):
    event = received(stack, lambda event: event.get("source") == "aws.scheduler")
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == "{}"
    assert event["resources"] == [
        f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/SweepFunctionHourly"
    ]
    assert (event["account"], event["region"], event["time"]) == (ACCOUNT, REGION, iso(START))


def test_the_one_time_schedule_fires_at_its_tokyo_time_with_its_input(stack: RunningStack):
    assert received(stack, lambda event: event == {"job": "once"}) == {"job": "once"}
    assert any(
        line.startswith(f"SweepFunction ← schedule SweepFunctionOnce fired for {iso(ONCE_AT)}")
        for line in events_lines(stack)
    )


def test_a_scheduled_invocation_is_a_trace_lambda_starts_with_the_function_s_subsegments(stack: RunningStack):
    received(stack, lambda event: event.get("source") == "aws.scheduler")
    trace = complete_trace(stack)
    [sweep] = trace["sweep"]
    [function] = trace["AWS::Lambda::Function"]
    [service] = trace["AWS::Lambda"]
    [invocation] = [sub for sub in function["subsegments"] if sub["name"] == "Invocation"]
    assert sweep["parent_id"] == invocation["id"]  # the function's own work, under Invocation
    assert function["parent_id"] == service["id"]
    assert "parent_id" not in service  # no EventBridge node: scheduled events are not traced
    assert [sub["name"] for sub in service["subsegments"]] == ["Dwell Time", "Attempt #1"]


def complete_trace(stack: RunningStack) -> dict[str, list[dict[str, Any]]]:
    """The documents of the first trace that has the function's subsegment and both Lambda
    segments, by origin (the subsegment under the name "sweep")."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        documents = list(stack.collector.documents)
        for sweep in (d for d in documents if d.get("name") == "sweep"):
            trace = [d for d in documents if d.get("trace_id") == sweep["trace_id"]]
            by_kind: dict[str, list[dict[str, Any]]] = {"sweep": [sweep]}
            for origin in ("AWS::Lambda", "AWS::Lambda::Function"):
                by_kind[origin] = [d for d in trace if d.get("origin") == origin]
            if all(by_kind.values()):
                return by_kind
        time.sleep(0.1)
    raise AssertionError(f"no complete trace of a scheduled invocation in {stack.collector.documents}")
