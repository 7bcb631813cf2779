"""EventBridge's schedule expressions: the examples of the EventBridge user guide's "Cron
expressions reference" and "Rate expressions reference" fire when AWS says they do, every
wildcard AWS lists (, - * ? / L W #) and the Year field behave as documented, and what AWS
refuses is refused with a line that says why."""

from datetime import UTC, datetime, timedelta

import pytest

from emulator.eventbridge.expressions import At, Rate, ScheduleExpressionError, parse_expression
from emulator.eventbridge.timetable import Timetable

FRIDAY_EVENING = datetime(2026, 12, 4, 17, 58, tzinfo=UTC)  # a Friday


def fires(expression: str, after: datetime, count: int = 3) -> list[str]:
    """The next `count` times a rule with `expression` fires after `after`, as ISO strings."""
    timetable = Timetable(parse_expression(expression, scheduler=False), UTC, after, scheduler=False)
    times: list[str] = []
    moment: datetime | None = after
    while len(times) < count:
        assert moment is not None
        moment = timetable.next_after(moment)
        if moment is None:
            break
        times.append(moment.strftime("%Y-%m-%d %a %H:%M"))
    return times


# The user guide's table of examples, each with what it says the expression does.
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # "Run at 10:00 am (UTC+0) every day"
        ("cron(0 10 * * ? *)", FRIDAY_EVENING, ["2026-12-05 Sat 10:00", "2026-12-06 Sun 10:00"]),
        # "Run at 12:15 pm (UTC+0) every day"
        ("cron(15 12 * * ? *)", FRIDAY_EVENING, ["2026-12-05 Sat 12:15", "2026-12-06 Sun 12:15"]),
        # "Run at 6:00 pm (UTC+0) every Monday through Friday"
        (
            "cron(0 18 ? * MON-FRI *)",
            FRIDAY_EVENING,
            ["2026-12-04 Fri 18:00", "2026-12-07 Mon 18:00", "2026-12-08 Tue 18:00"],
        ),
        # "Run at 8:00 am (UTC+0) every 1st day of the month"
        ("cron(0 8 1 * ? *)", FRIDAY_EVENING, ["2027-01-01 Fri 08:00", "2027-02-01 Mon 08:00"]),
        # "Run every 15 minutes"
        (
            "cron(0/15 * * * ? *)",
            FRIDAY_EVENING,
            ["2026-12-04 Fri 18:00", "2026-12-04 Fri 18:15", "2026-12-04 Fri 18:30"],
        ),
        # "Run every 10 minutes Monday through Friday"
        (
            "cron(0/10 * ? * MON-FRI *)",
            FRIDAY_EVENING.replace(hour=23, minute=45),
            ["2026-12-04 Fri 23:50", "2026-12-07 Mon 00:00", "2026-12-07 Mon 00:10"],
        ),
        # "Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)"
        (
            "cron(0/5 8-17 ? * MON-FRI *)",
            FRIDAY_EVENING.replace(minute=52),
            ["2026-12-04 Fri 17:55", "2026-12-07 Mon 08:00", "2026-12-07 Mon 08:05"],
        ),
        # "Run at 9 am (UTC) the first Monday of each month"
        (
            "cron(0 9 ? * 2#1 *)",
            FRIDAY_EVENING,
            ["2026-12-07 Mon 09:00", "2027-01-04 Mon 09:00", "2027-02-01 Mon 09:00"],
        ),
    ],
)
def test_the_user_guide_s_cron_examples_fire_when_it_says(expression, after, expected):
    assert fires(expression, after, len(expected)) == expected


def test_a_slash_counts_from_its_first_value():
    # "1/10 to specify every tenth minute, starting from the first minute of the hour (for
    # example, the 11th, 21st, and 31st minute, and so on)"
    assert fires("cron(1/10 * * * ? *)", FRIDAY_EVENING.replace(minute=5)) == [
        "2026-12-04 Fri 17:11",
        "2026-12-04 Fri 17:21",
        "2026-12-04 Fri 17:31",
    ]


def test_day_of_week_numbers_run_from_1_sunday_to_7_saturday():
    assert fires("cron(0 9 ? * 1 *)", FRIDAY_EVENING, 1) == ["2026-12-06 Sun 09:00"]
    assert fires("cron(0 9 ? * 7 *)", FRIDAY_EVENING, 1) == ["2026-12-05 Sat 09:00"]
    assert fires("cron(0 9 ? * 2-6 *)", FRIDAY_EVENING, 2) == ["2026-12-07 Mon 09:00", "2026-12-08 Tue 09:00"]
    # A step over the week: SUN, TUE, THU, SAT.
    assert fires("cron(0 9 ? * 1/2 *)", FRIDAY_EVENING, 4) == [
        "2026-12-05 Sat 09:00",
        "2026-12-06 Sun 09:00",
        "2026-12-08 Tue 09:00",
        "2026-12-10 Thu 09:00",
    ]


def test_hash_is_the_nth_weekday_of_the_month():
    # "3#2 is the second Tuesday of the month"
    assert fires("cron(0 9 ? * 3#2 *)", FRIDAY_EVENING, 2) == ["2026-12-08 Tue 09:00", "2027-01-12 Tue 09:00"]


def test_l_is_the_last_day_of_the_month_or_of_the_week():
    assert fires("cron(0 9 L * ? *)", FRIDAY_EVENING) == [
        "2026-12-31 Thu 09:00",
        "2027-01-31 Sun 09:00",
        "2027-02-28 Sun 09:00",
    ]
    # Alone in Day-of-week: the last day of the week, Saturday.
    assert fires("cron(0 9 ? * L *)", FRIDAY_EVENING, 2) == ["2026-12-05 Sat 09:00", "2026-12-12 Sat 09:00"]
    # After a day: the month's last such day (6L: the last Friday).
    assert fires("cron(0 9 ? * 6L *)", FRIDAY_EVENING) == [
        "2026-12-25 Fri 09:00",
        "2027-01-29 Fri 09:00",
        "2027-02-26 Fri 09:00",
    ]


def test_w_is_the_weekday_nearest_the_day():
    # "3W specifies the weekday closest to the third day of the month": 2026-10-03 is a Saturday
    # (Friday the 2nd is nearest), 2027-01-03 a Sunday (Monday the 4th).
    september = datetime(2026, 9, 15, tzinfo=UTC)
    assert fires("cron(0 9 3W * ? *)", september, 4) == [
        "2026-10-02 Fri 09:00",
        "2026-11-03 Tue 09:00",
        "2026-12-03 Thu 09:00",
        "2027-01-04 Mon 09:00",
    ]


def test_the_year_field_limits_the_years_and_a_past_year_never_fires():
    assert fires("cron(0 0 1 1 ? 2028-2029)", FRIDAY_EVENING) == [
        "2028-01-01 Sat 00:00",
        "2029-01-01 Mon 00:00",
    ]
    assert fires("cron(0 0 * * ? 2025)", FRIDAY_EVENING) == []
    # More than croniter's default 50 years ahead.
    assert fires("cron(0 0 1 1 ? 2095)", FRIDAY_EVENING) == ["2095-01-01 Sat 00:00"]


def test_names_and_lists_and_a_range_that_wraps():
    assert fires("cron(30 22-1 ? DEC,JAN SAT,SUN *)", FRIDAY_EVENING, 5) == [
        "2026-12-05 Sat 00:30",
        "2026-12-05 Sat 01:30",
        "2026-12-05 Sat 22:30",
        "2026-12-05 Sat 23:30",
        "2026-12-06 Sun 00:30",
    ]


def test_a_range_of_one_value_is_that_value():
    assert fires("cron(5-5 9 * * ? *)", FRIDAY_EVENING, 2) == ["2026-12-05 Sat 09:05", "2026-12-06 Sun 09:05"]


def test_lower_case_is_read_as_upper_case():
    assert fires("cron(0 18 ? * mon-fri *)", FRIDAY_EVENING, 1) == ["2026-12-04 Fri 18:00"]


@pytest.mark.parametrize(
    ("text", "every"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(12 hours)", timedelta(hours=12)),
    ],
)
def test_the_rate_examples(text, every):
    assert parse_expression(text, scheduler=False) == Rate(text, every)


def test_at_is_a_wall_clock_time_for_eventbridge_scheduler():
    parsed = parse_expression("at(2027-03-01T09:30:00)", scheduler=True)
    assert parsed == At("at(2027-03-01T09:30:00)", datetime(2027, 3, 1, 9, 30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cron(0 10 * * ?)", r"cron\(\) needs 6 fields .*, got 5: '0 10 \* \* \?'"),
        ("cron(0 10 * * * *)", "one of Day-of-month and Day-of-week must be ?"),
        ("cron(0 10 ? * ? *)", "one of Day-of-month and Day-of-week must be ?"),
        ("cron(0 9 ? * 3#1,6#3 *)", "with #, the field holds one expression"),
        ("cron(0 9 ? * 3#6 *)", "week of the month must be 1 to 5"),
        ("cron(60 10 * * ? *)", "Minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "Hours: 24 is outside 0-23"),
        ("cron(0 9 32 * ? *)", "Day-of-month: 32 is outside 1-31"),
        ("cron(0 9 * 13 ? *)", "Month: 13 is outside 1-12"),
        ("cron(0 9 ? * 0 *)", "Day-of-week: 0 is outside 1-7"),
        ("cron(0 9 * * ? 1969)", "Year: 1969 is outside 1970-2199"),
        ("cron(0/0 * * * ? *)", "the step in '0/0' must be at least 1"),
        ("cron(? 9 * * ? *)", r"Minutes: \? is only for Day-of-month or Day-of-week"),
        ("cron(0 9 * FOO ? *)", "Month: 'FOO' is not 1-12 or JAN-DEC"),
        ("cron(0 9 1W,15 * ? *)", "stands alone"),
        ("cron(0 L * * ? *)", "Hours: 'L' is not 0-23"),
        ("rate(1 hours)", "1 takes the unit 'hour'"),
        ("rate(5 hour)", "5 takes the unit 'hours'"),
        ("rate(0 minutes)", "a positive whole number"),
        ("rate(2 weeks)", "minute"),
        ("rate(minutes)", "a value and a unit"),
        ("every 5 minutes", r"not a schedule expression \(rate\(\) or cron\(\)\)"),
        ("at(2027-03-01T09:30:00)", r"at\(\) is for EventBridge Scheduler"),
    ],
)
def test_what_aws_refuses_is_refused_with_the_reason(text, message):
    with pytest.raises(ScheduleExpressionError, match=message):
        parse_expression(text, scheduler=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("at(2027-13-01T09:30:00)", "month must be in 1..12"),
        ("at(2027-03-01 09:30)", "yyyy-mm-ddThh:mm:ss"),
    ],
)
def test_a_bad_at_is_refused(text, message):
    with pytest.raises(ScheduleExpressionError, match=message):
        parse_expression(text, scheduler=True)


def test_a_year_croniter_cannot_compute_is_refused_and_says_so():
    with pytest.raises(
        ScheduleExpressionError, match="valid in AWS, but the local scheduler computes years up to"
    ):
        parse_expression("cron(0 0 1 1 ? 2150)", scheduler=False)
