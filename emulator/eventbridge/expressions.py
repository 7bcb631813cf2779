"""Schedule expressions: rate() and cron() for rules and EventBridge Scheduler, and at() for
EventBridge Scheduler's one-time schedules.

- rate(value unit): "value: a positive number; unit: minute | minutes | hour | hours | day | days.
  If the value is equal to 1, then the unit must be singular. If the value is greater than 1,
  the unit must be plural." (EventBridge user guide, "Rate expressions reference",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html; Scheduler's
  ScheduleExpression takes the same units.)
- cron(fields): cron.py.
- at(yyyy-mm-ddThh:mm:ss): Scheduler only, in the schedule's time zone (Scheduler API
  reference, CreateSchedule ScheduleExpression).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from emulator.eventbridge.cron import AwsCron, CronError, parse_cron

_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_RATE = re.compile(r"^rate\((?P<body>.*)\)$", re.DOTALL)
_CRON = re.compile(r"^cron\((?P<body>.*)\)$", re.DOTALL)
_AT = re.compile(r"^at\((?P<body>.*)\)$", re.DOTALL)
_AT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


class ScheduleExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    text: str
    every: timedelta


@dataclass(frozen=True)
class Cron:
    text: str
    cron: AwsCron


@dataclass(frozen=True)
class At:
    text: str
    moment: datetime  # naive: a wall-clock time in the schedule's time zone


ScheduleExpression = Rate | Cron | At


def parse_expression(text: str, *, scheduler: bool) -> ScheduleExpression:
    """`scheduler`: an EventBridge Scheduler schedule (ScheduleV2), which also takes at()."""
    text = text.strip()
    if match := _RATE.match(text):
        return Rate(text, _rate(match["body"]))
    if match := _CRON.match(text):
        try:
            return Cron(text, parse_cron(match["body"]))
        except CronError as error:
            raise ScheduleExpressionError(f"{error}: {text}") from None
    if match := _AT.match(text):
        if not scheduler:
            raise ScheduleExpressionError(
                "at() is for EventBridge Scheduler (a ScheduleV2 event); a rule takes rate() or "
                f"cron(): {text}"
            )
        return At(text, _at(match["body"], text))
    kinds = "rate(), cron() or at()" if scheduler else "rate() or cron()"
    raise ScheduleExpressionError(f"not a schedule expression ({kinds}): {text!r}")


def _rate(body: str) -> timedelta:
    parts = body.split()
    if len(parts) != 2:
        raise ScheduleExpressionError(f"rate() needs a value and a unit, as rate(5 minutes): rate({body})")
    value, unit = parts
    if not value.isdigit() or int(value) < 1:
        raise ScheduleExpressionError(f"rate(): the value must be a positive whole number: rate({body})")
    count = int(value)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in _UNITS:
        raise ScheduleExpressionError(f"rate(): the unit is minute(s), hour(s) or day(s): rate({body})")
    if (count == 1) != (unit == singular):
        wanted = singular if count == 1 else f"{singular}s"
        raise ScheduleExpressionError(
            f"rate(): {count} takes the unit {wanted!r}, as AWS requires: rate({body})"
        )
    return count * _UNITS[singular]


def _at(body: str, text: str) -> datetime:
    if not _AT_TIME.match(body):
        raise ScheduleExpressionError(f"at() takes yyyy-mm-ddThh:mm:ss: {text}")
    try:
        return datetime.fromisoformat(body)
    except ValueError as error:
        raise ScheduleExpressionError(f"at(): {error}: {text}") from None
