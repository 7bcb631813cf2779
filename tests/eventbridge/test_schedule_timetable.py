"""When a rule or an EventBridge Scheduler schedule fires: its start, its time zone with daylight
saving, StartDate and EndDate, as the EventBridge and Scheduler user guides and AWS re:Post's
daylight-saving article describe them."""

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from emulator.eventbridge.expressions import parse_expression
from emulator.eventbridge.timetable import Timetable

CREATED = datetime(2026, 11, 30, 12, 0, 7, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def timetable(expression: str, *, scheduler: bool, zone=UTC, created=CREATED, **dates) -> Timetable:
    return Timetable(parse_expression(expression, scheduler=scheduler), zone, created, scheduler, **dates)


def run(table: Timetable, count: int) -> list[datetime]:
    times: list[datetime] = []
    moment = table.first()
    while moment is not None and len(times) < count:
        times.append(moment)
        moment = table.next_after(moment)
    return times


def test_a_rule_s_rate_first_fires_one_interval_after_it_is_created():
    assert run(timetable("rate(5 minutes)", scheduler=False), 3) == [
        CREATED + timedelta(minutes=5),
        CREATED + timedelta(minutes=10),
        CREATED + timedelta(minutes=15),
    ]


def test_a_scheduler_rate_without_start_date_fires_at_once():
    # "If you do not provide a StartDate for a rate-based schedule, your schedule starts
    # invoking the target immediately."
    assert run(timetable("rate(1 hour)", scheduler=True), 2) == [CREATED, CREATED + timedelta(hours=1)]


def test_a_scheduler_rate_s_start_date_is_its_first_occurrence():
    start = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    assert run(timetable("rate(2 hours)", scheduler=True, start=start), 2) == [
        start,
        start + timedelta(hours=2),
    ]


def test_a_start_date_in_the_past_keeps_the_rate_s_steps_from_it():
    start = CREATED - timedelta(minutes=25)
    table = timetable("rate(10 minutes)", scheduler=True, start=start)
    assert table.first() == start + timedelta(minutes=30)


def test_nothing_fires_at_or_after_the_end_date():
    end = CREATED + timedelta(minutes=10)
    assert run(timetable("rate(5 minutes)", scheduler=False, end=end), 5) == [CREATED + timedelta(minutes=5)]


def test_cron_waits_for_the_start_date():
    start = datetime(2027, 1, 1, tzinfo=UTC)
    assert timetable("cron(0 9 * * ? *)", scheduler=True, start=start).first() == datetime(
        2027, 1, 1, 9, tzinfo=UTC
    )


def test_a_start_date_on_a_cron_time_is_its_first_run():
    start = datetime(2027, 1, 1, 9, tzinfo=UTC)
    table = timetable("cron(0 9 * * ? *)", scheduler=True, start=start)
    assert run(table, 2) == [start, start + timedelta(days=1)]


def test_a_cron_that_only_names_times_that_never_exist_never_fires():
    # 02:30 on the second Sunday of March: the hour New York skips every year.
    assert timetable("cron(30 2 ? 3 1#2 *)", scheduler=True, zone=NEW_YORK).first() is None


def test_a_rule_s_cron_is_utc():
    assert timetable("cron(0 9 * * ? *)", scheduler=False).first() == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_a_scheduler_cron_is_read_in_its_time_zone():
    # 09:00 in Tokyo is 00:00 UTC.
    table = timetable("cron(0 9 * * ? *)", scheduler=True, zone=TOKYO)
    assert run(table, 2) == [datetime(2026, 12, 1, 0, tzinfo=UTC), datetime(2026, 12, 2, 0, tzinfo=UTC)]


def test_at_fires_once_at_its_wall_clock_time_in_the_zone():
    table = timetable("at(2026-12-01T18:30:00)", scheduler=True, zone=TOKYO)
    assert run(table, 3) == [datetime(2026, 12, 1, 9, 30, tzinfo=UTC)]


def test_an_at_in_the_past_never_fires():
    assert timetable("at(2026-11-30T11:00:00)", scheduler=True).first() is None


def test_spring_forward_skips_a_time_that_does_not_exist():
    # New York, 2027-03-14: 02:00 jumps to 03:00, so 02:30 does not happen that day.
    created = datetime(2027, 3, 12, tzinfo=UTC)
    table = timetable("cron(30 2 * * ? *)", scheduler=True, zone=NEW_YORK, created=created)
    local = [moment.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for moment in run(table, 3)]
    assert local == ["03-12 02:30", "03-13 02:30", "03-15 02:30"]


def test_fall_back_runs_a_repeated_time_only_once():
    # New York, 2026-11-01: 01:00-01:59 happens twice (EDT, then EST).
    created = datetime(2026, 10, 31, tzinfo=UTC)
    table = timetable("cron(30 1 * * ? *)", scheduler=True, zone=NEW_YORK, created=created)
    assert run(table, 3) == [
        datetime(2026, 10, 31, 5, 30, tzinfo=UTC),  # 01:30 EDT
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first of the two
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST
    ]


def test_a_rate_of_days_is_24_hours_whatever_the_clock_does():
    start = datetime(2026, 10, 31, 12, tzinfo=UTC)
    created = start - timedelta(hours=1)
    table = timetable("rate(1 day)", scheduler=True, zone=NEW_YORK, start=start, created=created)
    times = run(table, 3)
    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [timedelta(hours=24)] * 2
    # So the wall clock in New York moves by the hour the clocks went back on 2026-11-01.
    assert [moment.astimezone(NEW_YORK).strftime("%H:%M") for moment in times] == ["08:00", "07:00", "07:00"]
