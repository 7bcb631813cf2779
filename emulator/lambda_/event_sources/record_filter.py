"""An event source mapping's FilterCriteria: which records Lambda sends to the function.

From the Lambda developer guide ("Control which events Lambda sends to your function", and its
SQS and DynamoDB pages): up to five filters (ten with a quota increase) of EventBridge pattern
syntax, ORed together; a record that matches none is discarded (an SQS message deleted, a stream
record skipped). An SQS mapping filters on `body` only, which is matched as JSON when the body is
JSON and as its plain text otherwise; a stream record is matched as Lambda delivers it (eventName,
dynamodb.NewImage, ...).

The matching is moto's EventBridge pattern matcher (moto.events), the same one its EventBridge
uses: the syntax is EventBridge's, and moto is already the stack's AWS stand-in.
"""

import json
from typing import Any

from moto.events.models import EventPattern

# Lambda's quota: five filters by default, ten at most.
MAX_FILTERS = 10


class InvalidFilter(ValueError):
    """A pattern Lambda would refuse; the message says why."""


class RecordFilter:
    def __init__(self, patterns: tuple[str, ...]) -> None:
        if len(patterns) > MAX_FILTERS:
            raise InvalidFilter(f"at most {MAX_FILTERS} filters, got {len(patterns)}")
        self._patterns = []
        for pattern in patterns:
            try:
                self._patterns.append(EventPattern.load(pattern))
            except Exception as error:  # moto's InvalidEventPatternException, among others
                reason = getattr(error, "message", None) or str(error)
                raise InvalidFilter(f"{pattern!r} is not a valid filter pattern: {reason}") from None

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether any pattern matches `record` (no patterns: every record)."""
        # moto types the event as EventBridge's message TypedDict; any mapping is matched alike.
        event: Any = record
        return not self._patterns or any(pattern.matches_event(event) for pattern in self._patterns)

    def matches_sqs_body(self, body: str) -> bool:
        """An SQS message, by its body: JSON when it parses as a JSON object, else plain text."""
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = body
        if not isinstance(parsed, dict):
            parsed = body
        return self.matches({"body": parsed})
