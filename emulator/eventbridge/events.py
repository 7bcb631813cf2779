"""The event a scheduled target receives, and the names and ARNs of the rule or schedule.

A rule's target gets a "Scheduled Event" (Lambda developer guide, "Invoking a Lambda function on
a schedule" / EventBridge's event structure reference): version "0", an id, detail-type
"Scheduled Event", source "aws.events", the account, the time it was scheduled for, the region,
resources [the rule's ARN] and an empty detail object. With the target's Input, the function
gets that JSON instead ("Input: Valid JSON text passed to the target. In this case, nothing from
the event itself is passed to the target", PutTargets).

EventBridge Scheduler: "If you do not specify anything for this field [Input], EventBridge
Scheduler delivers a default notification to the target" (Scheduler API reference, Target). That
notification has the same envelope with source "aws.scheduler", the schedule's ARN in resources,
and detail as the *string* "{}" - the shape functions receive (Cloud Custodian's handler had to
allow for it: cloud-custodian/cloud-custodian pull request 9566, "EB Scheduler default payloads
contain event.detail: '{}'").
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

SCHEDULER_GROUP = "default"


def rule_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:rule/{name}"


def schedule_arn(region: str, account_id: str, group: str, name: str) -> str:
    return f"arn:aws:scheduler:{region}:{account_id}:schedule/{group}/{name}"


def scheduled_event(
    *, source_arn: str, scheduler: bool, region: str, account_id: str, time: datetime
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler" if scheduler else "aws.events",
        "account": account_id,
        "time": iso_seconds(time),
        "region": region,
        "resources": [source_arn],
        "detail": "{}" if scheduler else {},
    }


def event_bytes(event_input: str | None, event: dict[str, Any]) -> bytes:
    """What the function is invoked with: the target's Input as given, else the event."""
    if event_input is not None:
        return event_input.encode()
    return json.dumps(event).encode()


def iso_seconds(moment: datetime) -> str:
    """2026-11-30T12:05:00Z: events carry UTC to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
