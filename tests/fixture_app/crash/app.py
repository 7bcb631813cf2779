"""Kills its own process mid-invocation, as an out-of-memory kill or a segfault would."""

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    os._exit(137)
