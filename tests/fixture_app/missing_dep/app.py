"""Imports a package its requirements.txt does not list: must fail as in Lambda."""

from typing import Any

import aws_xray_sdk  # noqa: F401  (installed in the developer's venv, not in this function)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "should never get here"}
