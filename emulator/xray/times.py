"""Times as the X-Ray API carries them: epoch seconds, ISO 8601 text, or boto3's datetimes."""

import math
from datetime import datetime
from typing import Any


def epoch_seconds(value: Any) -> float | None:
    """The time as finite epoch seconds, or None when `value` is not a time in any of those forms.

    NaN, Infinity and numbers beyond a double are not times; neither is a date the platform
    cannot convert (year 1 in a local time zone, say).
    """
    try:
        seconds = _seconds(value)
    except (ValueError, OverflowError, OSError):
        return None
    return seconds if seconds is not None and math.isfinite(seconds) else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None
