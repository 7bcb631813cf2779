"""PutTelemetryRecords: the daemon's (and the Lambda service's) reports about itself, counted.

The template grants `xray:PutTelemetryRecords` to the functions, as AWS's managed policy
AWSXRayDaemonWriteAccess does: the X-Ray daemon sends, about once a minute, how many segments
it received, sent, spilled over and had rejected, and its connection errors. X-Ray keeps them
for its own health metrics and answers with an empty object (PutTelemetryRecordsResult has no
members, botocore's xray service-2.json). Locally they are checked, added up and logged at
debug level: nothing reads them back, as nothing in the X-Ray API does.
"""

import logging
import threading
from collections import Counter
from typing import Any

from emulator.xray.times import epoch_seconds

logger = logging.getLogger(__name__)

# TelemetryRecord's counters (NullableInteger) and BackendConnectionErrors' members.
RECORD_COUNTS = (
    "SegmentsReceivedCount",
    "SegmentsSentCount",
    "SegmentsSpilloverCount",
    "SegmentsRejectedCount",
)
CONNECTION_ERRORS = (
    "TimeoutCount",
    "ConnectionRefusedCount",
    "HTTPCode4XXCount",
    "HTTPCode5XXCount",
    "UnknownHostCount",
    "OtherCount",
)


class TelemetryRecords:
    """Totals of every record received since start, per counter name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records = 0
        self.totals: Counter[str] = Counter()

    def add(self, records: list[dict[str, Any]]) -> None:
        """Add records already checked by `check_records`."""
        with self._lock:
            self.records += len(records)
            for record in records:
                for name in RECORD_COUNTS:
                    self.totals[name] += record.get(name) or 0
                for name, value in (record.get("BackendConnectionErrors") or {}).items():
                    self.totals[f"BackendConnectionErrors.{name}"] += value or 0
        logger.debug("telemetry: %d records, totals %s", len(records), dict(self.totals))


def check_records(records: Any) -> list[str]:
    """What is wrong with a TelemetryRecords member, one message per problem ([] when nothing)."""
    if not isinstance(records, list):
        return ["TelemetryRecords is required and must be a list"]
    problems = []
    for index, record in enumerate(records):
        where = f"TelemetryRecords[{index}]"
        if not isinstance(record, dict):
            problems.append(f"{where} must be an object")
            continue
        if epoch_seconds(record.get("Timestamp")) is None:
            problems.append(f"{where}.Timestamp is required: epoch seconds or an ISO 8601 time")
        for name in RECORD_COUNTS:
            if not _count(record.get(name)):
                problems.append(f"{where}.{name} must be a non-negative integer")
        errors = record.get("BackendConnectionErrors")
        if errors is None:
            continue
        if not isinstance(errors, dict):
            problems.append(f"{where}.BackendConnectionErrors must be an object")
            continue
        for name, value in errors.items():
            if name not in CONNECTION_ERRORS or not _count(value):
                problems.append(f"{where}.BackendConnectionErrors.{name} is not a known counter")
    return problems


def _count(value: Any) -> bool:
    """None (left out), or an integer counter within a 32-bit NullableInteger."""
    if value is None:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
