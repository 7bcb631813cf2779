"""EventBridge's six-field cron: checked against AWS's grammar, then handed to croniter.

    cron(Minutes Hours Day-of-month Month Day-of-week Year)

The grammar is the EventBridge user guide's "Cron expressions reference"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html), which
EventBridge Scheduler shares:

    Minutes       0-59                , - * /
    Hours         0-23                , - * /
    Day-of-month  1-31                , - * ? / L W
    Month         1-12 or JAN-DEC     , - * /
    Day-of-week   1-7 or SUN-SAT      , - * ? L #
    Year          1970-2199           , - * /

with its limits: one of Day-of-month and Day-of-week is `?` and the other is not; `#` stands
alone in its field ("3#1,6#3" is refused).

Where AWS and croniter differ, each token is rewritten rather than passed through:
- Day-of-week: AWS counts 1-7 from SUN, croniter 0-6 from Sunday: every number is lowered by one.
- `L` alone in Day-of-week is AWS's last day of the week (SAT, 7); croniter reads it otherwise.
- `nL` (the month's last weekday n) is croniter's `l<n-1>`; `n#k` is `<n-1>#k`.
- `?` is croniter's `*` (the other day field carries the constraint, so croniter's OR of the
  two day fields never applies).
- The year is croniter's seventh field, after a seconds field (0: EventBridge fires on minutes).
- A range whose ends are equal ("5-5") is croniter's whole cycle; in AWS it is the one value,
  so it is written as that value.
- croniter computes years up to 2099; a Year naming a later one is refused here with a line
  that says so, rather than being silently never run.

The parsing is ours (the messages name what AWS refuses and why); the calendar arithmetic (L,
W, #, month lengths, leap years) is croniter's, which has it tested.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
CRONITER_LAST_YEAR = 2099
_SEARCH_YEARS = CRONITER_LAST_YEAR - 1970 + 1


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for low, low+1, ...


_FIELDS = (
    _Field("Minutes", 0, 59),
    _Field("Hours", 0, 23),
    _Field("Day-of-month", 1, 31),
    _Field("Month", 1, 12, _MONTHS),
    _Field("Day-of-week", 1, 7, _DAYS),
    _Field("Year", 1970, 2199),
)
_MINUTES, _HOURS, _DOM, _MONTH, _DOW, _YEAR = _FIELDS
# A value, a range or either with a step: "5", "MON-FRI", "0/15", "*/5", "8-17/2".
_ITEM = re.compile(r"^(?P<low>\*|[A-Z0-9]+)(?:-(?P<high>[A-Z0-9]+))?(?:/(?P<step>[0-9]+))?$")


@dataclass(frozen=True)
class AwsCron:
    """A valid EventBridge cron expression and the croniter expression that computes it."""

    fields: str  # what was inside cron(...)
    croniter_expression: str

    def times_after(self, after: datetime) -> Iterator[datetime]:
        """The times strictly after `after`, in order, as naive wall-clock times (the caller maps
        them to a time zone); it ends when there are no more (its Year has passed)."""
        # croniter gives up after 50 years without a match by default; a Year field can name
        # any year it computes, so let it look across all of them.
        times = croniter(self.croniter_expression, after, max_years_between_matches=_SEARCH_YEARS)
        while True:
            try:
                found: datetime = times.get_next(datetime)
            except (CroniterBadDateError, OverflowError, ValueError):  # ValueError: past year 9999
                return
            yield found

    def next_after(self, after: datetime) -> datetime | None:
        return next(self.times_after(after), None)


def parse_cron(fields_text: str) -> AwsCron:
    fields = fields_text.split()
    if len(fields) != 6:
        raise CronError(
            f"cron() needs 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), "
            f"got {len(fields)}: {fields_text!r}"
        )
    fields = [field.upper() for field in fields]
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise CronError(
            "one of Day-of-month and Day-of-week must be ? and the other not "
            f"(got {fields[2]!r} and {fields[4]!r})"
        )
    converted = [
        _plain(fields[0], _MINUTES),
        _plain(fields[1], _HOURS),
        _day_of_month(dom),
        _plain(fields[3], _MONTH),
        _day_of_week(dow),
        "0",  # croniter's seconds field, which comes before its year
        _plain(fields[5], _YEAR),
    ]
    expression = " ".join(converted)
    try:
        croniter(expression)
    except CroniterBadCronError as error:  # our checks should leave none: say which expression
        raise CronError(f"cannot compute {fields_text!r}: {error}") from None
    return AwsCron(fields_text, expression)


def _plain(text: str, field: _Field) -> str:
    """A field of values, ranges and steps (no L, W, # or ?)."""
    if text == "?":
        raise CronError(f"{field.name}: ? is only for Day-of-month or Day-of-week")
    return ",".join(_item(item, field) for item in _items(text, field))


def _day_of_month(text: str) -> str:
    if text == "?":
        return "*"
    items = _items(text, _DOM)
    out = []
    for item in items:
        if item == "L":
            out.append("l")
        elif item.endswith("W"):
            day = _number(item[:-1], _DOM)
            if len(items) > 1:
                raise CronError(f"Day-of-month: {item} (nearest weekday) stands alone, not in a list")
            out.append(f"{day}w")
        else:
            out.append(_item(item, _DOM))
    return ",".join(out)


def _day_of_week(text: str) -> str:
    if text == "?":
        return "*"
    items = _items(text, _DOW)
    if "#" in text:
        if len(items) > 1:
            raise CronError(f"Day-of-week: with #, the field holds one expression, not a list: {text!r}")
        day, _, nth = text.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise CronError(f"Day-of-week: in {text!r} the week of the month must be 1 to 5")
        return f"{_value(day, _DOW) - 1}#{int(nth)}"
    out = []
    for item in items:
        if item == "L":
            out.append(str(_DOW.high - 1))  # the last day of the week: SAT, croniter's 6
        elif item.endswith("L"):
            out.append(f"l{_value(item[:-1], _DOW) - 1}")  # the month's last such weekday
        else:
            out.append(_item(item, _DOW, shift=-1))
    return ",".join(out)


def _items(text: str, field: _Field) -> list[str]:
    items = text.split(",")
    if any(not item for item in items):
        raise CronError(f"{field.name}: empty value in {text!r}")
    return items


def _item(item: str, field: _Field, shift: int = 0) -> str:
    match = _ITEM.match(item)
    if match is None:
        raise CronError(f"{field.name}: {item!r} is not a value, a range or a step")
    step = match["step"]
    if step is not None and int(step) == 0:
        raise CronError(f"{field.name}: the step in {item!r} must be at least 1")
    if match["low"] == "*":
        if match["high"] is not None:
            raise CronError(f"{field.name}: {item!r} is not a value, a range or a step")
        if step is None:
            return "*"
        low, high = field.low, field.high
    else:
        low = _value(match["low"], field)
        if match["high"] is not None:
            high = _value(match["high"], field)
        elif step is not None:
            high = field.high  # "1/10": from 1 to the end of the field, every 10
        else:
            return str(low + shift)
    if step is None and low == high:
        return str(low + shift)  # croniter reads "5-5" as the whole cycle
    text = f"{low + shift}-{high + shift}"
    return f"{text}/{int(step)}" if step is not None else text


def _value(text: str, field: _Field) -> int:
    if text in field.names:
        return field.low + field.names.index(text)
    return _number(text, field)


def _number(text: str, field: _Field) -> int:
    if not text.isdigit():
        named = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
        raise CronError(f"{field.name}: {text!r} is not {field.low}-{field.high}{named}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    if field is _YEAR and value > CRONITER_LAST_YEAR:
        raise CronError(
            f"Year: {value} is valid in AWS, but the local scheduler computes years up to "
            f"{CRONITER_LAST_YEAR} only"
        )
    return value
