"""When a schedule fires: its expression read in its time zone, between its start and end.

What AWS documents, and so what this computes:
- A rule's rate(): "A rate expression starts when you create the scheduled event rule, and then
  it runs on a defined schedule" (EventBridge user guide, rate expressions): the rule is created
  when the local stack starts, and it first fires one interval later.
- A Scheduler rate(): "If you do not provide a StartDate for a rate-based schedule, your schedule
  starts invoking the target immediately"; with one, "you use the StartDate property to set the
  first occurrence" (Scheduler user guide, "Schedule types"). A rate of days is 24 hours of
  elapsed time, whatever daylight saving does to the clock (AWS re:Post, "How can I adjust my
  Amazon EventBridge schedule for daylight saving?").
- cron(): rules are UTC ("all scheduled event rules use the UTC+0 time zone"); Scheduler reads it
  in ScheduleExpressionTimezone. When the clock springs forward, "your schedule invocation gets
  skipped if the cron expression falls on a non-existent date and time. When the time shifts back
  in the Fall, your schedule runs only once" (the same re:Post article).
- at(): once, at that wall-clock time in the time zone.
- StartDate: "The date, in UTC, after which the schedule can begin invoking its target";
  EndDate: "before which the schedule can invoke its target" (CreateSchedule).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from emulator.eventbridge.expressions import At, Cron, Rate, ScheduleExpression

# How far before a time the cron search starts in wall-clock time, so that a time in an hour
# the clock repeats (autumn) is found whichever of its two occurrences `after` is in.
_FOLD_MARGIN = timedelta(hours=2)
# A cron that matches only non-existent times (spring-forward gap: "cron(30 2 ? 3 1#2 *)" in New
# York) would be looked for for ever: the search ends after AWS's last year, or this many tries.
_MAX_CANDIDATES = 10_000
LAST_YEAR = 2199


@dataclass(frozen=True)
class Timetable:
    expression: ScheduleExpression
    zone: tzinfo
    created: datetime  # when the local stack created the rule or schedule (aware)
    scheduler: bool  # EventBridge Scheduler (ScheduleV2) rather than a rule
    start: datetime | None = None  # aware
    end: datetime | None = None  # aware

    def first(self) -> datetime | None:
        """The first time the schedule fires, at or after its creation."""
        return self._next(self.created, inclusive=True)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first time strictly after `moment` (aware), or None: it never fires again."""
        return self._next(moment, inclusive=False)

    def _next(self, moment: datetime, *, inclusive: bool) -> datetime | None:
        if self.start is not None and moment < self.start:
            moment, inclusive = self.start, True
        found = self._candidate(moment, inclusive)
        if found is None or (self.end is not None and found >= self.end):
            return None
        return found

    def _candidate(self, moment: datetime, inclusive: bool) -> datetime | None:
        expression = self.expression
        if isinstance(expression, Rate):
            return self._rate(expression, moment, inclusive)
        if isinstance(expression, At):
            at = _to_utc(expression.moment, self.zone)
            return at if (at > moment or (inclusive and at == moment)) else None
        return self._cron(expression, moment, inclusive)

    def _rate(self, rate: Rate, moment: datetime, inclusive: bool) -> datetime:
        if self.scheduler:
            anchor, first_k = (self.start or self.created), 0
        else:
            anchor, first_k = self.created, 1
        elapsed = moment - anchor
        k = max(first_k, elapsed // rate.every)
        found = anchor + k * rate.every
        while found < moment or (found == moment and not inclusive):
            found += rate.every
        return found

    def _cron(self, cron: Cron, moment: datetime, inclusive: bool) -> datetime | None:
        if inclusive:
            moment -= timedelta(microseconds=1)
        start = moment.astimezone(self.zone).replace(tzinfo=None)
        if self.zone is not UTC:
            start -= _FOLD_MARGIN
        for tries, wall in enumerate(cron.cron.times_after(start)):
            if tries >= _MAX_CANDIDATES or wall.year > LAST_YEAR:
                return None
            if not _exists(wall, self.zone):
                continue  # spring forward: this wall-clock time never happens that day
            found = _to_utc(wall, self.zone)
            if found > moment:
                return found
        return None


def _to_utc(wall: datetime, zone: tzinfo) -> datetime:
    # fold=0: of a wall-clock time the clock shows twice, the first (it runs only once).
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _exists(wall: datetime, zone: tzinfo) -> bool:
    return _to_utc(wall, zone).astimezone(zone).replace(tzinfo=None) == wall
