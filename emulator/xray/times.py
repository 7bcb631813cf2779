"""Times as the X-Ray API carries them: epoch seconds, ISO 8601 text, or boto3's datetimes."""

from datetime import datetime
from typing import Any


def epoch_seconds(value: Any) -> float | None:
    """The time as epoch seconds, or None when `value` is not a time in any of those forms."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None
