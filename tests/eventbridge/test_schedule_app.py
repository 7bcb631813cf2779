"""tests/schedule_app/ built by the real `sam build` and run by the real stack on the system
clock: start-up names every rule and schedule with its next time (a DISABLED one as never
running), an EventBridge Scheduler rate without StartDate fires at once with Scheduler's default
notification, a one-time at() in Tokyo time fires at that time with its Input, and each scheduled
invocation is a trace of its own whose function subsegments sit under Invocation.

Nothing here fakes the clock or the scheduler: the template's at() time is a parameter the test
sets a few seconds ahead, as a user would write a time, so the wait is seconds, not a minute.
"""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emulator.app.resource_names import physical_name
from tests.conftest import REPO_ROOT, sam_build
from tests.stack_helpers import RunningStack, running_stack

pytestmark = pytest.mark.slow

SCHEDULE_APP = REPO_ROOT / "tests" / "schedule_app"
# Far enough ahead that the stack is up before it (it starts in a few seconds).
ONCE_AHEAD = timedelta(seconds=12)
WAIT_SECONDS = 40.0


@pytest.fixture(scope="module")
def schedule_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sam_build(SCHEDULE_APP / "template.yaml", tmp_path_factory.mktemp("schedule-build")).template


@pytest.fixture(scope="module")
def once_at() -> datetime:
    return (datetime.now(UTC) + ONCE_AHEAD).replace(microsecond=0)


@pytest.fixture(scope="module")
def stack(schedule_app_template: Path, lambda_runtime_dir: Path, once_at: datetime) -> Iterator[RunningStack]:
    tokyo = once_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M:%S")
    with running_stack(
        schedule_app_template, lambda_runtime_dir, parameter_overrides={"OnceAt": tokyo}
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


def test_start_up_names_each_rule_and_schedule(stack: RunningStack, once_at: datetime):
    lines = events_lines(stack)
    nightly = physical_name("sam-app", "SweepFunctionNightly")
    paused = physical_name("sam-app", "SweepFunctionPaused")
    tomorrow_3am = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT03:00:00Z")
    today_3am = datetime.now(UTC).strftime("%Y-%m-%dT03:00:00Z")
    assert any(
        line
        in (
            f"SweepFunction ← rule {nightly}: cron(0 3 * * ? *), next at {when}"
            for when in (today_3am, tomorrow_3am)
        )
        for line in lines
    ), lines
    assert f"SweepFunction ← rule {paused}: rate(5 minutes): DISABLED, never runs" in lines
    assert any(
        line.startswith("SweepFunction ← schedule SweepFunctionHourly: rate(1 hour), next at ")
        for line in lines
    )
    once = once_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(line.endswith(f"(Asia/Tokyo), next at {once}") for line in lines), lines


def test_a_scheduler_rate_fires_at_once_with_the_default_notification(stack: RunningStack):
    event = received(stack, lambda event: event.get("source") == "aws.scheduler")
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == "{}"
    assert event["resources"] == [
        "arn:aws:scheduler:ap-northeast-1:123456789012:schedule/default/SweepFunctionHourly"
    ]
    assert (event["account"], event["region"], event["version"]) == ("123456789012", "ap-northeast-1", "0")


def test_the_one_time_schedule_fires_at_its_tokyo_time_with_its_input(stack: RunningStack, once_at: datetime):
    assert received(stack, lambda event: event == {"job": "once"}) == {"job": "once"}
    assert datetime.now(UTC) >= once_at
    once = once_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(
        line.startswith(f"SweepFunction ← schedule SweepFunctionOnce fired for {once}")
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
