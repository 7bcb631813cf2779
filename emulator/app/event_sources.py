"""The template's queues and the function events that are not API routes: SQS and DynamoDB
stream event source mappings, and Schedule rules.

What SAM turns each event into, and so what the local stack runs:

- `SQS`      → an AWS::Lambda::EventSourceMapping on the queue (Lambda polls it);
- `DynamoDB` → an AWS::Lambda::EventSourceMapping on the table's stream;
- `Schedule` → an AWS::Events::Rule with the function as its target; `ScheduleV2` → an
  AWS::Scheduler::Schedule.

Every other event type (S3, SNS, Kinesis, ...) and every property the local stack does not act
on is added to `ignored`, one phrase each, so that start-up names it.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulator.app.errors import TemplateError
from emulator.app.intrinsics import Resolver
from emulator.app.model import QueueSpec, ScheduleSpec, SqsEventSpec, StreamEventSpec
from emulator.eventbridge.expressions import ScheduleExpressionError, parse_expression
from emulator.lambda_.event_sources.record_filter import InvalidFilter, RecordFilter

SQS_QUEUE = "AWS::SQS::Queue"
# Read by apis.py.
_API_EVENTS = {"Api", "HttpApi"}

# The properties each event type's reader acts on; any other is named as ignored.
_SQS_HANDLED = {"Queue", "BatchSize", "Enabled", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes",
                "FilterCriteria"}  # fmt: skip
_STREAM_HANDLED = {"Stream", "StartingPosition", "BatchSize", "Enabled", "MaximumBatchingWindowInSeconds",
                   "FilterCriteria",
                   "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                   "FunctionResponseTypes"}  # fmt: skip
_SCHEDULE_HANDLED = {"Schedule", "Input", "Enabled", "State", "Name", "Description"}
_SCHEDULE_V2_HANDLED = {"ScheduleExpression", "ScheduleExpressionTimezone", "Input", "State", "Name",
                        "Description", "StartDate", "EndDate", "FlexibleTimeWindow", "GroupName"}  # fmt: skip
# The queue attributes CreateQueue takes, by the CloudFormation property that sets them.
_QUEUE_ATTRIBUTES = {
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout": "VisibilityTimeout",
    "FifoQueue": "FifoQueue",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
    "DeduplicationScope": "DeduplicationScope",
    "FifoThroughputLimit": "FifoThroughputLimit",
    "RedrivePolicy": "RedrivePolicy",
    "RedriveAllowPolicy": "RedriveAllowPolicy",
}
# Properties of a queue that change nothing a local consumer sees (encryption at rest, tags).
_QUEUE_NOT_APPLIED = {"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "Tags"}

# Lambda's defaults (the EventSourceMapping API reference).
SQS_DEFAULT_BATCH_SIZE = 10
SQS_MAX_BATCH_SIZE = 10000
SQS_FIFO_MAX_BATCH_SIZE = 10
SQS_MAX_BATCHING_WINDOW_S = 300
STREAM_DEFAULT_BATCH_SIZE = 100
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass
class EventSourceSet:
    queues: list[QueueSpec] = field(default_factory=list)
    sqs_events: list[SqsEventSpec] = field(default_factory=list)
    stream_events: list[StreamEventSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def read_event_sources(resources: dict[str, Any], functions: set[str], resolver: Resolver) -> EventSourceSet:
    found = EventSourceSet()
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") == SQS_QUEUE:
            found.queues.append(_queue(logical_id, resource, resolver, found.ignored))
    for function in sorted(functions):
        events = (resources[function].get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            where = f"{function}.Events.{event_id}"
            if not isinstance(event, dict) or not isinstance(event.get("Type"), str):
                raise TemplateError(f"{where}: an event needs a Type")
            kind = event["Type"]
            props = event.get("Properties") or {}
            if kind in _API_EVENTS:
                continue
            if kind == "SQS":
                found.sqs_events.append(_sqs_event(function, event_id, where, props, resolver))
                _name_unhandled(where, props, _SQS_HANDLED, found.ignored)
            elif kind == "DynamoDB":
                found.stream_events.append(_stream_event(function, event_id, where, props, resolver))
                _name_unhandled(where, props, _STREAM_HANDLED, found.ignored)
            elif kind == "Schedule":
                found.schedules.append(_schedule(function, event_id, where, props, resolver, v2=False))
                _name_unhandled(where, props, _SCHEDULE_HANDLED, found.ignored)
            elif kind == "ScheduleV2":
                found.schedules.append(_schedule(function, event_id, where, props, resolver, v2=True))
                _name_unhandled(where, props, _SCHEDULE_V2_HANDLED, found.ignored)
            else:
                found.ignored.append(f"{where} ({kind} event): not delivered locally; invoke the function "
                                     "with `make invoke` or the Lambda Invoke API instead")  # fmt: skip
    return found


def _queue(logical_id: str, resource: dict[str, Any], resolver: Resolver, ignored: list[str]) -> QueueSpec:
    props = resolver.resolve(resource.get("Properties") or {}, f"{logical_id}.Properties")
    attributes: dict[str, str] = {}
    for prop, attribute in _QUEUE_ATTRIBUTES.items():
        if prop not in props:
            continue
        value = props[prop]
        if isinstance(value, dict):
            value = json.dumps(value)  # the redrive policies are JSON in the API
        elif isinstance(value, bool):
            value = "true" if value else "false"
        attributes[attribute] = str(value)
    for prop in sorted(set(props) - set(_QUEUE_ATTRIBUTES) - {"QueueName"}):
        why = "not applied locally" if prop in _QUEUE_NOT_APPLIED else "not emulated"
        ignored.append(f"{logical_id}.{prop} ({SQS_QUEUE}): {why}")
    arn = resolver.get_att([logical_id, "Arn"], f"{logical_id}")
    return QueueSpec(logical_id, arn.rsplit(":", 1)[1], arn, attributes)


def _sqs_event(
    function: str, event_id: str, where: str, props: dict[str, Any], resolver: Resolver
) -> SqsEventSpec:
    queue = props.get("Queue")
    if queue is None:
        raise TemplateError(f"{where}: an SQS event needs a Queue (the queue's ARN)")
    event = SqsEventSpec(
        function=function,
        event_id=event_id,
        queue_arn=str(resolver.resolve(queue, f"{where}.Queue")),
        batch_size=_int(props, "BatchSize", SQS_DEFAULT_BATCH_SIZE, where, resolver),
        batching_window_s=_int(props, "MaximumBatchingWindowInSeconds", 0, where, resolver),
        enabled=_bool(props, "Enabled", True, where, resolver),
        report_batch_item_failures=_reports_item_failures(props, where, resolver),
        filter_patterns=_filter_patterns(props, where, resolver),
    )
    _check_sqs_batching(event, where)
    return event


def _check_sqs_batching(event: SqsEventSpec, where: str) -> None:
    """The limits the EventSourceMapping API reference sets for SQS, which a deployment would
    refuse: BatchSize 1-10,000 (10 for a FIFO queue), MaximumBatchingWindowInSeconds 0-300 and
    at least 1 when BatchSize is over 10."""
    fifo = event.queue_arn.endswith(".fifo")
    most = SQS_FIFO_MAX_BATCH_SIZE if fifo else SQS_MAX_BATCH_SIZE
    if not 1 <= event.batch_size <= most:
        kind = "a FIFO queue" if fifo else "a standard queue"
        raise TemplateError(f"{where}.BatchSize: must be 1 to {most} for {kind}, got {event.batch_size}")
    if not 0 <= event.batching_window_s <= SQS_MAX_BATCHING_WINDOW_S:
        raise TemplateError(
            f"{where}.MaximumBatchingWindowInSeconds: must be 0 to {SQS_MAX_BATCHING_WINDOW_S}, "
            f"got {event.batching_window_s}"
        )
    if event.batch_size > SQS_DEFAULT_BATCH_SIZE and event.batching_window_s < 1:
        raise TemplateError(
            f"{where}: a BatchSize over {SQS_DEFAULT_BATCH_SIZE} needs a MaximumBatchingWindowInSeconds "
            "of at least 1"
        )


def _stream_event(
    function: str, event_id: str, where: str, props: dict[str, Any], resolver: Resolver
) -> StreamEventSpec:
    stream = props.get("Stream")
    if stream is None:
        raise TemplateError(f"{where}: a DynamoDB event needs a Stream (the table's StreamArn)")
    streamless = _table_without_stream(stream, resolver)
    if streamless is not None:
        raise TemplateError(
            f"{where}.Stream: table {streamless} has no StreamSpecification, so no StreamArn to read "
            "(CloudFormation refuses the !GetAtt too)"
        )
    position = str(resolver.resolve(props.get("StartingPosition", ""), f"{where}.StartingPosition"))
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise TemplateError(f"{where}.StartingPosition: must be TRIM_HORIZON or LATEST, got {position!r}")
    spec = StreamEventSpec(
        function=function,
        event_id=event_id,
        stream_arn=str(resolver.resolve(stream, f"{where}.Stream")),
        starting_position=position,
        batch_size=_int(props, "BatchSize", STREAM_DEFAULT_BATCH_SIZE, where, resolver),
        batching_window_s=_int(props, "MaximumBatchingWindowInSeconds", 0, where, resolver),
        enabled=_bool(props, "Enabled", True, where, resolver),
        maximum_retry_attempts=_int(props, "MaximumRetryAttempts", -1, where, resolver),
        maximum_record_age_s=_int(props, "MaximumRecordAgeInSeconds", -1, where, resolver),
        bisect_on_error=_bool(props, "BisectBatchOnFunctionError", False, where, resolver),
        report_batch_item_failures=_reports_item_failures(props, where, resolver),
        filter_patterns=_filter_patterns(props, where, resolver),
    )
    _check_stream_limits(spec, where)
    return spec


def _table_without_stream(stream: Any, resolver: Resolver) -> str | None:
    """The logical id of the table a `!GetAtt <Table>.StreamArn` names when that table has no
    StreamSpecification; None for anything else."""
    if not isinstance(stream, dict) or set(stream) != {"Fn::GetAtt"}:
        return None
    argument = stream["Fn::GetAtt"]
    if isinstance(argument, str):
        target, _, attribute = argument.partition(".")
    elif isinstance(argument, list) and len(argument) == 2:
        target, attribute = argument
    else:
        return None
    resource = resolver.resources.get(str(target))
    if attribute != "StreamArn" or not isinstance(resource, dict):
        return None
    if resource.get("Type") not in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
        return None
    return None if (resource.get("Properties") or {}).get("StreamSpecification") else str(target)


def _check_stream_limits(spec: StreamEventSpec, where: str) -> None:
    """The ranges CreateEventSourceMapping accepts for a DynamoDB stream (the API reference and
    services-ddb-params): a deployment would be refused with anything else."""
    limits = [
        ("BatchSize", spec.batch_size, 1 <= spec.batch_size <= 10000, "from 1 to 10000"),
        ("MaximumBatchingWindowInSeconds", spec.batching_window_s, 0 <= spec.batching_window_s <= 300,
         "from 0 to 300"),
        ("MaximumRetryAttempts", spec.maximum_retry_attempts, -1 <= spec.maximum_retry_attempts <= 10000,
         "-1 (until the records expire) or from 0 to 10000"),
        ("MaximumRecordAgeInSeconds", spec.maximum_record_age_s,
         spec.maximum_record_age_s == -1 or 60 <= spec.maximum_record_age_s <= 604800,
         "-1 (until the records expire) or from 60 to 604800"),
    ]  # fmt: skip
    for name, value, valid, allowed in limits:
        if not valid:
            raise TemplateError(f"{where}.{name}: must be {allowed}, got {value}")


def _schedule(
    function: str, event_id: str, where: str, props: dict[str, Any], resolver: Resolver, *, v2: bool
) -> ScheduleSpec:
    """Checked as EventBridge checks it when the stack is deployed: a bad expression, time zone,
    date or Input stops the start with one line naming the event."""
    key = "ScheduleExpression" if v2 else "Schedule"
    expression = props.get(key)
    if expression is None:
        raise TemplateError(f"{where}: a {'ScheduleV2' if v2 else 'Schedule'} event needs {key}")
    text = str(resolver.resolve(expression, f"{where}.{key}"))
    try:
        parse_expression(text, scheduler=v2)
    except ScheduleExpressionError as error:
        raise TemplateError(f"{where}.{key}: {error}") from None
    if not v2 and "State" in props and "Enabled" in props:
        # SAM's own refusal (samtranslator eventsources/push.py, Schedule).
        raise TemplateError(f"{where}: State and Enabled Properties cannot both be specified.")
    state = resolver.resolve(props.get("State"), f"{where}.State")
    if state is None and not v2 and "Enabled" in props:
        state = "ENABLED" if _bool(props, "Enabled", True, where, resolver) else "DISABLED"
    state = str(state or "ENABLED")
    if state not in ("ENABLED", "DISABLED"):
        raise TemplateError(f"{where}.State: must be ENABLED or DISABLED, got {state!r}")
    name = resolver.resolve(props.get("Name"), f"{where}.Name")
    zone_key = "ScheduleExpressionTimezone"
    timezone = str(resolver.resolve(props.get(zone_key), f"{where}.{zone_key}") or "UTC")
    try:
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise TemplateError(f"{where}.{zone_key}: not a time zone name: {timezone!r}") from None
    group = resolver.resolve(props.get("GroupName"), f"{where}.GroupName")
    return ScheduleSpec(
        function=function,
        event_id=event_id,
        expression=text,
        input=_schedule_input(props, where, resolver),
        enabled=state == "ENABLED",
        # SAM names the rule <Function><Event> (CloudFormation adds the stack and a suffix).
        name=str(name) if name else "",
        scheduler=v2,
        timezone=timezone,
        start=_schedule_date(props, "StartDate", where, resolver),
        end=_schedule_date(props, "EndDate", where, resolver),
        group=str(group) if group else "default",
        flexible_window_minutes=_flexible_window(props, where, resolver),
    )


def _schedule_input(props: dict[str, Any], where: str, resolver: Resolver) -> str | None:
    """The target's Input: JSON text (EventBridge refuses any other for a Lambda target)."""
    data = resolver.resolve(props.get("Input"), f"{where}.Input")
    if data is None:
        return None
    if not isinstance(data, str):
        return json.dumps(data)
    try:
        json.loads(data)
    except ValueError:
        raise TemplateError(f"{where}.Input: not JSON text: {data!r}") from None
    return data


def _schedule_date(props: dict[str, Any], key: str, where: str, resolver: Resolver) -> datetime | None:
    """StartDate/EndDate: ISO 8601, "in UTC" when no offset is given (CreateSchedule)."""
    value = resolver.resolve(props.get(key), f"{where}.{key}")
    if value is None:
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise TemplateError(f"{where}.{key}: not an ISO 8601 date and time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flexible_window(props: dict[str, Any], where: str, resolver: Resolver) -> int:
    """FlexibleTimeWindow: Mode OFF (SAM's default), or FLEXIBLE with MaximumWindowInMinutes
    1-1440 (Scheduler API reference, FlexibleTimeWindow)."""
    given = props.get("FlexibleTimeWindow") or {"Mode": "OFF"}
    window = resolver.resolve(given, f"{where}.FlexibleTimeWindow")
    mode = window.get("Mode") if isinstance(window, dict) else None
    if mode == "OFF":
        return 0
    minutes = window.get("MaximumWindowInMinutes") if isinstance(window, dict) else None
    if mode != "FLEXIBLE" or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        raise TemplateError(
            f"{where}.FlexibleTimeWindow: Mode OFF, or Mode FLEXIBLE with MaximumWindowInMinutes "
            f"1-1440, got {json.dumps(window)}"
        )
    return minutes


def _filter_patterns(props: dict[str, Any], where: str, resolver: Resolver) -> tuple[str, ...]:
    """FilterCriteria's Filters' Patterns as JSON text (SAM takes a pattern as a string or a map),
    each checked as Lambda checks it when the mapping is created."""
    criteria = resolver.resolve(props.get("FilterCriteria"), f"{where}.FilterCriteria")
    if criteria is None:
        return ()
    filters = criteria.get("Filters") if isinstance(criteria, dict) else None
    if not isinstance(filters, list) or not all(isinstance(f, dict) and "Pattern" in f for f in filters):
        raise TemplateError(f"{where}.FilterCriteria: Filters is a list of {{Pattern: ...}}")
    patterns = tuple(
        f["Pattern"] if isinstance(f["Pattern"], str) else json.dumps(f["Pattern"]) for f in filters
    )
    try:
        RecordFilter(patterns)
    except InvalidFilter as error:
        raise TemplateError(f"{where}.FilterCriteria: {error}") from None
    return patterns


def _reports_item_failures(props: dict[str, Any], where: str, resolver: Resolver) -> bool:
    types = resolver.resolve(props.get("FunctionResponseTypes") or [], f"{where}.FunctionResponseTypes")
    if not isinstance(types, list) or any(kind != REPORT_BATCH_ITEM_FAILURES for kind in types):
        raise TemplateError(
            f"{where}.FunctionResponseTypes: the only type is {REPORT_BATCH_ITEM_FAILURES}, "
            f"got {json.dumps(types)}"
        )
    return bool(types)


def _name_unhandled(where: str, props: dict[str, Any], handled: set[str], ignored: list[str]) -> None:
    for prop in sorted(set(props) - handled):
        ignored.append(f"{where}.{prop}: not emulated")


def _int(props: dict[str, Any], key: str, default: int, where: str, resolver: Resolver) -> int:
    value = resolver.resolve(props.get(key, default), f"{where}.{key}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{where}.{key}: not a whole number: {json.dumps(value)}") from None


def _bool(props: dict[str, Any], key: str, default: bool, where: str, resolver: Resolver) -> bool:
    value = resolver.resolve(props.get(key, default), f"{where}.{key}")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TemplateError(f"{where}.{key}: must be true or false, got {json.dumps(value)}")
