"""Raises an unhandled exception: Lambda reports it as a function error."""

from typing import Any


class DemoError(Exception):
    pass


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise DemoError("something went wrong on purpose")
