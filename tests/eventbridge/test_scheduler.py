"""The scheduler that fires rules and schedules, driven by a clock the test sets: when each
fires, the event it sends (the "Scheduled Event" of a rule, EventBridge Scheduler's default
notification, or the Input instead), DISABLED ones never firing, what it does with runs missed
while the machine slept, the flexible time window, and its start-up lines."""

import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.app.model import AppSpec, ScheduleSpec
from emulator.app.resource_names import physical_name
from emulator.lambda_.event_sources.schedules import MAX_WAIT_SECONDS, Scheduler, build_targets

CREATED = datetime(2026, 11, 30, 12, 0, 7, tzinfo=UTC)
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
RULE_NAME = physical_name("sam-app", "WorkerNightly")
HOURLY_NAME = physical_name("sam-app", "WorkerHourly")


class FakeClock:
    """Time that moves only when the test (or a wait) moves it."""

    def __init__(self, now: datetime) -> None:
        self.current = now
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.current

    def wait(self, seconds: float, stop: threading.Event) -> None:
        self.waits.append(seconds)
        self.current += timedelta(seconds=seconds)
        stop.wait(0.001)  # let the test's thread run


class Harness:
    def __init__(self, *specs: ScheduleSpec, rng: random.Random | None = None) -> None:
        self.clock = FakeClock(CREATED)
        self.submitted: list[tuple[str, bytes]] = []
        self.lines: list[str] = []
        self.fired = threading.Event()
        app = AppSpec(
            "sam-app", REGION, ACCOUNT, "Prod", "abcdefghij", False, {}, [], [], schedules=list(specs)
        )
        self.scheduler = Scheduler(
            build_targets(app, self.clock.now()),
            submit=self._submit,
            region=REGION,
            account_id=ACCOUNT,
            log=self.lines.append,
            clock=self.clock,
            rng=rng,
        )

    def _submit(self, logical_id: str, event: bytes) -> str:
        self.submitted.append((logical_id, event))
        self.fired.set()
        return f"request-{len(self.submitted)}"

    def at(self, moment: datetime) -> list[tuple[str, bytes]]:
        """Set the clock, run a round; what was submitted in it."""
        before = len(self.submitted)
        self.clock.current = moment
        self.scheduler.run_due()
        return self.submitted[before:]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(event) for _, event in self.submitted]


def nightly(**changes: Any) -> ScheduleSpec:
    fields: dict[str, Any] = {"function": "Worker", "event_id": "Nightly", "expression": "rate(5 minutes)"}
    fields.update(changes)
    return ScheduleSpec(**fields)


def test_a_rule_fires_at_its_time_and_not_before():
    harness = Harness(nightly())
    assert harness.at(CREATED + timedelta(minutes=4, seconds=59)) == []
    fired = harness.at(CREATED + timedelta(minutes=5))
    assert [logical_id for logical_id, _ in fired] == ["Worker"]
    assert harness.at(CREATED + timedelta(minutes=9)) == []
    assert len(harness.at(CREATED + timedelta(minutes=10))) == 1


def test_a_rule_sends_the_scheduled_event():
    harness = Harness(nightly())
    harness.at(CREATED + timedelta(minutes=5))
    [event] = harness.events()
    assert uuid.UUID(event.pop("id"))
    assert event == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-30T12:05:07Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE_NAME}"],
        "detail": {},
    }


def test_each_firing_is_its_own_event():
    harness = Harness(nightly())
    harness.at(CREATED + timedelta(minutes=5))
    harness.at(CREATED + timedelta(minutes=10))
    first, second = harness.events()
    assert first["id"] != second["id"]
    assert (first["time"], second["time"]) == ("2026-11-30T12:05:07Z", "2026-11-30T12:10:07Z")


def test_a_rule_s_name_property_names_it():
    harness = Harness(nightly(name="nightly-sweep"))
    harness.at(CREATED + timedelta(minutes=5))
    assert harness.events()[0]["resources"] == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly-sweep"]


def test_input_replaces_the_event():
    harness = Harness(nightly(input='{"job": "sweep", "dry": false}'))
    harness.at(CREATED + timedelta(minutes=5))
    assert harness.submitted == [("Worker", b'{"job": "sweep", "dry": false}')]


def test_a_scheduler_schedule_sends_its_default_notification():
    harness = Harness(nightly(expression="rate(1 hour)", scheduler=True))
    harness.at(CREATED)  # a rate without StartDate starts at once
    [event] = harness.events()
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == "{}"  # a string, as Scheduler sends it
    assert event["resources"] == [f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/WorkerNightly"]
    assert event["time"] == "2026-11-30T12:00:07Z"


def test_a_scheduler_schedule_s_group_and_name_are_in_its_arn():
    harness = Harness(nightly(expression="rate(1 hour)", scheduler=True, name="sweep", group="ops"))
    harness.at(CREATED)
    assert harness.events()[0]["resources"] == [f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/ops/sweep"]


def test_a_disabled_schedule_never_fires_and_start_up_says_so():
    harness = Harness(nightly(enabled=False), nightly(event_id="Hourly", expression="rate(1 hour)"))
    assert harness.scheduler.startup_lines() == [
        f"Worker ← rule {RULE_NAME}: rate(5 minutes): DISABLED, never runs",
        f"Worker ← rule {HOURLY_NAME}: rate(1 hour), next at 2026-11-30T13:00:07Z",
    ]
    for minutes in (5, 60, 120):
        harness.at(CREATED + timedelta(minutes=minutes))
    hourly = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{HOURLY_NAME}"
    assert [event["resources"] for event in harness.events()] == [[hourly], [hourly]]


def test_start_up_names_the_next_time_and_the_time_zone():
    harness = Harness(
        nightly(expression="rate(5 minutes)"),
        nightly(event_id="Morning", expression="cron(0 9 * * ? *)", scheduler=True, timezone="Asia/Tokyo"),
        nightly(event_id="Once", expression="at(2026-01-01T00:00:00)", scheduler=True),
    )
    assert harness.scheduler.startup_lines() == [
        f"Worker ← rule {RULE_NAME}: rate(5 minutes), next at 2026-11-30T12:05:07Z",
        "Worker ← schedule WorkerMorning: cron(0 9 * * ? *) (Asia/Tokyo), next at 2026-12-01T00:00:00Z",
        "Worker ← schedule WorkerOnce: at(2026-01-01T00:00:00): "
        "no run ahead (its time or EndDate has passed)",
    ]


def test_a_run_reached_a_little_late_still_fires_for_its_time():
    harness = Harness(nightly())
    harness.at(CREATED + timedelta(minutes=5, seconds=40))
    assert [event["time"] for event in harness.events()] == ["2026-11-30T12:05:07Z"]


def test_runs_missed_while_the_machine_slept_are_named_not_caught_up():
    harness = Harness(nightly())
    woke = CREATED + timedelta(hours=1, minutes=2)  # twelve runs were due, from 12:05:07 to 13:00:07
    assert harness.at(woke) == []
    assert harness.lines == [  # 13:00:07 was due 1 min 55 s ago: missed too
        f"Worker ← rule {RULE_NAME}: 12 runs due 2026-11-30T12:05:07Z to 2026-11-30T13:00:07Z missed "
        "(the machine slept, or its clock moved); not caught up, as EventBridge has no missed runs to replay"
    ]
    # It goes on from the next time after waking, on the rule's own steps.
    assert harness.at(CREATED + timedelta(hours=1, minutes=5)) != []
    assert harness.events()[0]["time"] == "2026-11-30T13:05:07Z"


def test_after_a_sleep_a_run_due_within_the_minute_still_fires():
    harness = Harness(nightly())
    fired = harness.at(CREATED + timedelta(minutes=15, seconds=30))  # 12:05 and 12:10 missed, 12:15 due
    assert [event["time"] for event in harness.events()] == ["2026-11-30T12:15:07Z"]
    assert len(fired) == 1
    assert harness.lines[0].startswith(
        f"Worker ← rule {RULE_NAME}: 2 runs due 2026-11-30T12:05:07Z to 2026-11-30T12:10:07Z missed"
    )


def test_a_flexible_window_fires_within_the_window_after_the_time():
    spec = nightly(expression="cron(0 13 * * ? *)", scheduler=True, flexible_window_minutes=10)
    harness = Harness(spec, rng=random.Random(7))
    [target] = harness.scheduler.targets
    assert target.next_at == datetime(2026, 11, 30, 13, tzinfo=UTC)
    assert target.fire_at is not None
    assert target.next_at <= target.fire_at <= target.next_at + timedelta(minutes=10)
    assert harness.at(target.fire_at - timedelta(seconds=1)) == []
    assert len(harness.at(target.fire_at)) == 1
    assert harness.events()[0]["time"] == "2026-11-30T13:00:00Z"


def test_a_run_that_cannot_be_handed_over_is_named_and_the_others_go_on():
    harness = Harness(nightly(), nightly(event_id="Other"))
    calls: list[str] = []

    def submit(logical_id: str, event: bytes) -> str:
        calls.append(json.loads(event)["resources"][0])
        if len(calls) == 1:
            raise KeyError("no function with logical id 'Worker'")
        return "request-2"

    harness.scheduler._submit = submit
    harness.at(CREATED + timedelta(minutes=5))
    assert len(calls) == 2
    assert harness.lines[0] == (
        f"Worker ← rule {RULE_NAME}: the run for 2026-11-30T12:05:07Z failed: "
        "KeyError(\"no function with logical id 'Worker'\")"
    )
    harness.at(CREATED + timedelta(minutes=10))
    assert len(calls) == 4  # both go on to their next time


def test_each_firing_is_logged_with_its_request_id():
    harness = Harness(nightly())
    harness.at(CREATED + timedelta(minutes=5))
    assert harness.lines == [f"Worker ← rule {RULE_NAME} fired for 2026-11-30T12:05:07Z (request request-1)"]


def test_the_thread_fires_on_the_clock_it_is_given():
    harness = Harness(nightly(expression="rate(1 minute)"))
    harness.scheduler.start()
    try:
        for _ in range(3):
            assert harness.fired.wait(timeout=10)
            harness.fired.clear()
    finally:
        harness.scheduler.stop()
    times = [event["time"] for event in harness.events()]
    assert times[:3] == ["2026-11-30T12:01:07Z", "2026-11-30T12:02:07Z", "2026-11-30T12:03:07Z"]
    # It never sleeps longer than MAX_WAIT_SECONDS at once, so a clock change is noticed.
    assert max(harness.clock.waits) <= MAX_WAIT_SECONDS


@pytest.mark.parametrize("expression", ["rate(1 day)", "cron(0 0 1 1 ? *)"])
def test_a_far_time_is_waited_for_in_bounded_steps(expression):
    harness = Harness(nightly(expression=expression))
    harness.scheduler.start()
    try:
        assert not harness.fired.wait(timeout=0.3)
    finally:
        harness.scheduler.stop()
    assert harness.clock.waits and max(harness.clock.waits) <= MAX_WAIT_SECONDS
