"""`Schedule` and `ScheduleV2` events: one thread fires each enabled rule or schedule at its
times, handing the event to Lambda's queue for asynchronous invocations, as EventBridge does
(it invokes its Lambda targets asynchronously: the Lambda developer guide's "Invoking Lambda with
events from other AWS services" lists EventBridge among the asynchronous callers).

Names, as a deployment would give them:
- Schedule: SAM makes an AWS::Events::Rule whose logical id is <FunctionLogicalId><EventId>;
  with no Name, CloudFormation names it `<stack>-<LogicalId>-<suffix>`
  (emulator/app/resource_names.physical_name). Its ARN is the event's `resources`.
- ScheduleV2: SAM makes an AWS::Scheduler::Schedule named Name, or its logical id
  (samtranslator eventsources/scheduler.py), in GroupName (`default`).

Traced as AWS traces it: "X-Ray doesn't trace events that originate from ... scheduled events,
... and these event sources don't appear on your X-Ray service map" (EventBridge user guide,
"Amazon EventBridge integration with AWS X-Ray"). So no trace header comes with the event: each
invocation is a new trace that Lambda starts (recorded when the function's Tracing is Active),
with the AWS::Lambda segment's Dwell Time and Attempt of an asynchronous invoke and the
function's own subsegments under Invocation (async_invoke.py, segments.py).

Runs that were due while the machine slept (or the stack was stopped) are not caught up: AWS
never sleeps, so there is nothing to copy; a run more than MISSED_AFTER late is counted, named in
one line, and skipped, and the schedule goes on from the next time after now. A stopped and
restarted stack does the same (it creates the rules anew, as a new deployment would).
"""

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from emulator.app.model import AppSpec, ScheduleSpec
from emulator.app.resource_names import physical_name
from emulator.eventbridge.events import event_bytes, iso_seconds, rule_arn, schedule_arn, scheduled_event
from emulator.eventbridge.expressions import parse_expression
from emulator.eventbridge.timetable import Timetable
from emulator.lambda_.event_sources.context import EventSourceContext, Stopper
from emulator.lambda_.service import ServiceClosed

# EventBridge Scheduler "invoke[s] their targets with 60 second precision" (Scheduler user guide,
# "Schedule types"): a run reached later than this was missed, not merely late.
MISSED_AFTER = timedelta(seconds=60)
# The longest single wait. A sleeping machine stops the monotonic clock that waits are measured
# on, and the wall clock can be set; waking at least this often notices either within this much.
MAX_WAIT_SECONDS = 30.0
# How many missed runs are counted one by one before the count just says "at least".
_MAX_COUNTED = 10_000


class Clock(Protocol):
    """Time as the scheduler sees it: the system's, or one a test drives."""

    def now(self) -> datetime:
        """Aware, UTC."""
        ...

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Return after `seconds`, or sooner if `stop` is set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(min(seconds, MAX_WAIT_SECONDS))


# Hands an event to Lambda's asynchronous queue for a function (logical id); returns the request id.
Submit = Callable[[str, bytes], str]


@dataclass
class ScheduledTarget:
    spec: ScheduleSpec
    name: str  # the rule's or the schedule's name
    arn: str
    timetable: Timetable
    next_at: datetime | None = None  # the next time it is scheduled for
    fire_at: datetime | None = None  # when it fires: next_at, plus the flexible window's delay

    @property
    def label(self) -> str:
        kind = "schedule" if self.spec.scheduler else "rule"
        return f"{self.spec.function} ← {kind} {self.name}"


def build_targets(app: AppSpec, created: datetime) -> list[ScheduledTarget]:
    """Every Schedule and ScheduleV2 event of the app (the reader has checked each expression)."""
    targets = []
    for spec in app.schedules:
        logical_id = f"{spec.function}{spec.event_id}"
        expression = parse_expression(spec.expression, scheduler=spec.scheduler)
        zone: tzinfo = UTC
        if spec.scheduler:
            name = spec.name or logical_id
            arn = schedule_arn(app.region, app.account_id, spec.group, name)
            zone = UTC if spec.timezone == "UTC" else ZoneInfo(spec.timezone)
        else:
            name = spec.name or physical_name(app.stack_name, logical_id)
            arn = rule_arn(app.region, app.account_id, name)
        timetable = Timetable(expression, zone, created, spec.scheduler, spec.start, spec.end)
        targets.append(ScheduledTarget(spec, name, arn, timetable))
    return targets


class Scheduler:
    """Fires each enabled target at its times. `run_due()` does one round (tests call it with a
    clock they set); `start()` runs rounds on a thread until `stop()`."""

    def __init__(
        self,
        targets: list[ScheduledTarget],
        *,
        submit: Submit,
        region: str,
        account_id: str,
        log: Callable[[str], None],
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._targets = targets
        self._submit = submit
        self._region = region
        self._account_id = account_id
        self._log = log
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for target in self._targets:
            if target.spec.enabled:
                self._plan(target, target.timetable.first())

    @property
    def targets(self) -> list[ScheduledTarget]:
        return list(self._targets)

    def startup_lines(self) -> list[str]:
        """One line per rule or schedule: when it runs next, or why it never does."""
        lines = []
        for target in self._targets:
            spec = target.spec
            where = f"{target.label}: {spec.expression}"
            if spec.scheduler and spec.timezone != "UTC":
                where += f" ({spec.timezone})"
            if not spec.enabled:
                lines.append(f"{where}: DISABLED, never runs")
            elif target.next_at is None:
                lines.append(f"{where}: no run ahead (its time or EndDate has passed)")
            else:
                window = spec.flexible_window_minutes
                flexible = f" (within {window} min: flexible time window)" if window else ""
                lines.append(f"{where}, next at {iso_seconds(target.next_at)}{flexible}")
        return lines

    def run_due(self) -> datetime | None:
        """Fire every target that is due now; the time the next one is due, or None."""
        now = self._clock.now()
        for target in self._targets:
            while target.fire_at is not None and target.next_at is not None and target.fire_at <= now:
                scheduled = target.next_at
                if now - target.fire_at > MISSED_AFTER:
                    self._skip_missed(target, now)
                    continue
                try:
                    self._fire(target, scheduled)
                except ServiceClosed:
                    raise
                except Exception as error:  # one schedule's failure must not stop the others
                    self._log(f"{target.label}: the run for {iso_seconds(scheduled)} failed: {error!r}")
                self._plan(target, target.timetable.next_after(scheduled))
        due = [target.fire_at for target in self._targets if target.fire_at is not None]
        return min(due) if due else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventbridge-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wake = self.run_due()
            except ServiceClosed:
                return  # Lambda is closing: the stack is stopping
            delay = MAX_WAIT_SECONDS
            if wake is not None:
                delay = min(delay, max(0.0, (wake - self._clock.now()).total_seconds()))
            self._clock.wait(delay, self._stop)

    def _plan(self, target: ScheduledTarget, next_at: datetime | None) -> None:
        target.next_at = next_at
        target.fire_at = next_at
        window = target.spec.flexible_window_minutes
        if next_at is not None and window:
            # FLEXIBLE: "EventBridge Scheduler invokes the target within the window" after the
            # scheduled time (Scheduler user guide, "Configuring flexible time windows").
            target.fire_at = next_at + timedelta(seconds=self._rng.uniform(0, window * 60))

    def _fire(self, target: ScheduledTarget, scheduled: datetime) -> None:
        spec = target.spec
        event = scheduled_event(
            source_arn=target.arn,
            scheduler=spec.scheduler,
            region=self._region,
            account_id=self._account_id,
            time=scheduled,
        )
        request_id = self._submit(spec.function, event_bytes(spec.input, event))
        self._log(f"{target.label} fired for {iso_seconds(scheduled)} (request {request_id})")

    def _skip_missed(self, target: ScheduledTarget, now: datetime) -> None:
        """Skip the runs more than MISSED_AFTER late, in one line; a run due within that still
        fires (the caller's next round)."""
        first = target.next_at
        assert first is not None
        cutoff = now - MISSED_AFTER
        count, last, upcoming = 0, first, target.next_at
        while upcoming is not None and upcoming < cutoff and count < _MAX_COUNTED:
            count, last = count + 1, upcoming
            upcoming = target.timetable.next_after(upcoming)
        if count == _MAX_COUNTED:
            upcoming = target.timetable.next_after(cutoff)
        runs = f"{count} run{'s' if count != 1 else ''}" if count < _MAX_COUNTED else f"over {count} runs"
        span = iso_seconds(first) if count == 1 else f"{iso_seconds(first)} to {iso_seconds(last)}"
        self._log(
            f"{target.label}: {runs} due {span} missed (the machine slept, or its clock moved); "
            "not caught up, as EventBridge has no missed runs to replay"
        )
        self._plan(target, upcoming)


def start_schedules(context: EventSourceContext, clock: Clock | None = None) -> Stopper | None:
    app = context.app
    if not app.schedules:
        return None
    clock = clock or SystemClock()
    submit = context.async_invoker.submit
    scheduler = Scheduler(
        build_targets(app, clock.now()),
        submit=lambda logical_id, event: submit(logical_id, event, None),
        region=app.region,
        account_id=app.account_id,
        log=context.log,
        clock=clock,
    )
    for line in scheduler.startup_lines():
        context.log(line)
    scheduler.start()
    return scheduler.stop
