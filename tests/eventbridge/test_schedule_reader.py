"""A template's Schedule and ScheduleV2 events as the local stack reads them: what is refused at
start-up (one line naming the event, as a deployment would fail), and the ScheduleV2 properties
it acts on (the SAM ScheduleV2 page; EventBridge Scheduler's CreateSchedule)."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from emulator.app.errors import TemplateError
from emulator.app.event_sources import EventSourceSet, read_event_sources
from emulator.app.intrinsics import Resolver
from emulator.app.model import ScheduleSpec


def read(events: dict[str, Any]) -> EventSourceSet:
    document = {
        "Resources": {"Worker": {"Type": "AWS::Serverless::Function", "Properties": {"Events": events}}}
    }
    resolver = Resolver(document, stack_name="sam-app", region="ap-northeast-1", account_id="123456789012")
    return read_event_sources(document["Resources"], {"Worker"}, resolver)


def one(kind: str, **props: Any) -> ScheduleSpec:
    [schedule] = read({"Nightly": {"Type": kind, "Properties": props}}).schedules
    return schedule


@pytest.mark.parametrize(
    ("kind", "props", "message"),
    [
        (
            "Schedule",
            {"Schedule": "cron(0 3 * * ?)"},
            r"^Worker\.Events\.Nightly\.Schedule: cron\(\) needs 6 fields \(Minutes Hours Day-of-month Month "
            r"Day-of-week Year\), got 5: '0 3 \* \* \?': cron\(0 3 \* \* \?\)$",
        ),
        ("Schedule", {"Schedule": "rate(1 hours)"}, r"^Worker\.Events\.Nightly\.Schedule: rate\(\): 1 takes"),
        (
            "Schedule",
            {"Schedule": "at(2027-01-01T00:00:00)"},
            r"\.Schedule: at\(\) is for EventBridge Scheduler",
        ),
        (
            "ScheduleV2",
            {"ScheduleExpression": "cron(0 3 * * * *)"},
            r"\.ScheduleExpression: one of Day-of-month",
        ),
        (
            "Schedule",
            {"Schedule": "rate(1 day)", "State": "DISABLED", "Enabled": False},
            r"^Worker\.Events\.Nightly: State and Enabled Properties cannot both be specified\.$",
        ),
        (
            "ScheduleV2",
            {"ScheduleExpression": "rate(1 day)", "ScheduleExpressionTimezone": "Mars/Olympus"},
            r"\.ScheduleExpressionTimezone: not a time zone name: 'Mars/Olympus'",
        ),
        (
            "Schedule",
            {"Schedule": "rate(1 day)", "Input": "{job: 1}"},
            r"\.Input: not JSON text: '\{job: 1\}'",
        ),
        (
            "ScheduleV2",
            {"ScheduleExpression": "rate(1 day)", "StartDate": "tomorrow"},
            r"\.StartDate: not an ISO 8601 date and time: 'tomorrow'",
        ),
        (
            "ScheduleV2",
            {"ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "FLEXIBLE"}},
            r"\.FlexibleTimeWindow: Mode OFF, or Mode FLEXIBLE with MaximumWindowInMinutes 1-1440",
        ),
    ],
)
def test_what_a_deployment_would_refuse_stops_the_start_with_one_line(kind, props, message):
    with pytest.raises(TemplateError, match=message):
        read({"Nightly": {"Type": kind, "Properties": props}})


def test_enabled_false_is_state_disabled():
    assert one("Schedule", Schedule="rate(1 day)", Enabled=False).enabled is False
    assert one("Schedule", Schedule="rate(1 day)", State="DISABLED").enabled is False
    assert one("ScheduleV2", ScheduleExpression="rate(1 day)", State="DISABLED").enabled is False


def test_an_input_written_as_an_object_is_sent_as_its_json():
    assert one("Schedule", Schedule="rate(1 day)", Input={"job": "sweep"}).input == '{"job": "sweep"}'


def test_start_and_end_dates_without_an_offset_are_utc():
    schedule = one(
        "ScheduleV2",
        ScheduleExpression="rate(1 day)",
        StartDate="2027-01-01T00:00:00",
        EndDate="2027-02-01T09:00:00+09:00",
    )
    assert schedule.start == datetime(2027, 1, 1, tzinfo=UTC)
    assert schedule.end == datetime(2027, 2, 1, 9, tzinfo=timezone(timedelta(hours=9)))


def test_the_flexible_window_group_and_time_zone_are_kept():
    schedule = one(
        "ScheduleV2",
        ScheduleExpression="cron(0 9 * * ? *)",
        ScheduleExpressionTimezone="Asia/Tokyo",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        GroupName="ops",
    )
    assert (schedule.flexible_window_minutes, schedule.group, schedule.timezone) == (15, "ops", "Asia/Tokyo")
    assert one("ScheduleV2", ScheduleExpression="rate(1 day)").flexible_window_minutes == 0


def test_properties_not_acted_on_are_named():
    found = read(
        {
            "Nightly": {
                "Type": "Schedule",
                "Properties": {"Schedule": "rate(1 day)", "RetryPolicy": {"MaximumRetryAttempts": 1}},
            }
        }
    )
    assert found.ignored == ["Worker.Events.Nightly.RetryPolicy: not emulated"]
