"""One Lambda invocation's log lines, found by its request id: what the console shows beside a
trace.

    from emulator.logs.invocation_lines import invocation_events

    events = invocation_events(logs_client, "/aws/lambda/sam-app/SamDdbFunction", request_id)
    for event in events:
        print(event["timestamp"], event["message"])

`logs_client` is a boto3 CloudWatch Logs client: the local one (moto's endpoint, the stack's
`logs_endpoint`; any credentials, the stack's region) or AWS's, the same calls either way.
The request id is the X-Ray `AWS::Lambda` segment's `aws.request_id` (or the Invoke API's
`x-amzn-RequestId`); the log group is the function's (`LoggingConfig.LogGroup`, or
`/aws/lambda/<function name>`).

It returns the events of that invocation, oldest first, as FilterLogEvents gives them
(`logStreamName`, `timestamp`, `message`, `ingestionTime`, `eventId`): Lambda's `START
RequestId: <id>` line, everything the function wrote, and Lambda's `END` and `REPORT` lines
(with a timeout's or a crash's line between). An empty list when the group holds no such
invocation (yet: lines reach CloudWatch in batches, within about a second locally, seconds
in AWS). An invocation still running has no REPORT yet: its lines so far are returned.

Why a window and not a search for the id: a function's own output (print) carries no request
id, so searching for the id would miss it. Lambda writes each invocation of an execution
environment into that environment's log stream, one invocation at a time, between its START
and its REPORT. So the id is looked up once, to find the stream and the START's time (a
FilterLogEvents for the quoted phrase `"RequestId: <id>"`, which matches START, END and
REPORT and nothing of another invocation), and then the stream is read from START to REPORT.

This reads Lambda's Text log format (LoggingConfig.LogFormat's default, what the stack writes);
a function set to JSON writes `platform.start` / `platform.report` records instead, which
this does not look for.

`start_time_ms` / `end_time_ms` (ms since the epoch), when known (a trace's start and end),
narrow the first search to that window, which is what keeps it cheap on a large group in AWS;
pass a window that holds the invocation's START.
"""

from typing import Any

# FilterLogEvents pages; a single invocation's lines rarely need more than one.
PAGE_LIMIT = 10_000
# After the REPORT's timestamp, how far to read the stream: same-millisecond lines only.
_AFTER_REPORT_MS = 1


def start_message(request_id: str) -> str:
    return f"START RequestId: {request_id} "


def report_message(request_id: str) -> str:
    return f"REPORT RequestId: {request_id}"


def invocation_events(
    logs_client: Any,
    log_group_name: str,
    request_id: str,
    *,
    start_time_ms: int | None = None,
    end_time_ms: int | None = None,
) -> list[dict[str, Any]]:
    """The events of invocation `request_id` in `log_group_name`, oldest first (see above)."""
    window: dict[str, Any] = {}
    if start_time_ms is not None:
        window["startTime"] = start_time_ms
    if end_time_ms is not None:
        window["endTime"] = end_time_ms
    marks = _filter(logs_client, log_group_name, filterPattern=f'"RequestId: {request_id}"', **window)
    start = next((event for event in marks if event["message"].startswith(start_message(request_id))), None)
    if start is None:
        return []
    report = next(
        (
            event
            for event in marks
            if event["logStreamName"] == start["logStreamName"]
            and event["message"].startswith(report_message(request_id))
        ),
        None,
    )
    read: dict[str, Any] = {"startTime": start["timestamp"]}
    if report is not None:
        read["endTime"] = report["timestamp"] + _AFTER_REPORT_MS
    stream = _filter(logs_client, log_group_name, logStreamNames=[start["logStreamName"]], **read)
    return _window(stream, request_id)


def _window(stream: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    """From the START of `request_id` to its REPORT, both included. Another START before the
    REPORT means the environment went on to another invocation (this one never reported: its
    worker was lost), so the window ends there."""
    events: list[dict[str, Any]] = []
    started = False
    for event in stream:
        message = event["message"]
        if not started:
            started = message.startswith(start_message(request_id))
            if started:
                events.append(event)
            continue
        if message.startswith("START RequestId: "):
            break
        events.append(event)
        if message.startswith(report_message(request_id)):
            break
    return events


def _filter(logs_client: Any, log_group_name: str, **arguments: Any) -> list[dict[str, Any]]:
    """Every event FilterLogEvents returns for these arguments, following nextToken."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = logs_client.filter_log_events(
            logGroupName=log_group_name,
            limit=PAGE_LIMIT,
            **arguments,
            **({"nextToken": token} if token else {}),
        )
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token:
            return events
