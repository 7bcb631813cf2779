"""The segment's `aws` block: the AWS call a span made, and (for segments) where it ran.

Attribute names are those of AWS's OpenTelemetry-to-X-Ray translator: aws.operation or
rpc.method, aws.region, aws.request_id, aws.queue_url, aws.table_name or the semantic
convention aws.dynamodb.table_names (one name: table_name, several: table_names), plus the
resource's cloud.account.id and telemetry.sdk.* for the segment's `aws.xray`.
"""

from typing import Any

OPERATION = ("aws.operation", "rpc.method")
ACCOUNT = "aws.account_id"
REGION = "aws.region"
REQUEST_ID = ("aws.request_id", "aws.requestId")
QUEUE_URL = ("messaging.url", "aws.queue_url", "aws.queue.url")
TABLE_NAME = ("aws.table_name", "aws.table.name")
TABLE_NAMES = "aws.dynamodb.table_names"

CONSUMED = frozenset((*OPERATION, ACCOUNT, REGION, *REQUEST_ID, *QUEUE_URL, *TABLE_NAME, TABLE_NAMES))


def aws_block(
    attributes: dict[str, Any], resource: dict[str, Any], is_segment: bool
) -> tuple[dict[str, Any] | None, set[str]]:
    """The block (None when there is nothing to say) and the attributes it consumed."""
    consumed = {key for key in CONSUMED if key in attributes}
    provider = resource.get("cloud.provider")
    if isinstance(provider, str) and provider not in ("", "aws"):
        return None, consumed  # not on AWS: X-Ray keeps no aws block
    block: dict[str, Any] = {}
    if is_segment:
        _put(block, "account_id", resource.get("cloud.account.id"))
    _put(block, "account_id", attributes.get(ACCOUNT))
    _put(block, "operation", _first(attributes, OPERATION))
    _put(block, "region", attributes.get(REGION))
    _put(block, "request_id", _first(attributes, REQUEST_ID))
    _put(block, "queue_url", _first(attributes, QUEUE_URL))
    _put(block, "table_name", _first(attributes, TABLE_NAME))
    tables = attributes.get(TABLE_NAMES)
    if isinstance(tables, str):
        tables = [tables]
    if isinstance(tables, list):
        names = [name for name in tables if isinstance(name, str) and name]
        if len(names) == 1:
            block["table_name"] = names[0]
        elif names:
            block.pop("table_name", None)
            block["table_names"] = names
    if is_segment:
        sdk = _sdk(resource)
        if sdk:
            block["xray"] = sdk
    return block or None, consumed


def _sdk(resource: dict[str, Any]) -> dict[str, Any]:
    """`aws.xray` as the translator fills it: e.g. "opentelemetry for python" and its version."""
    name, language = resource.get("telemetry.sdk.name"), resource.get("telemetry.sdk.language")
    if not isinstance(name, str) or not name:
        return {}
    label = f"{name} for {language}" if isinstance(language, str) and language else name
    sdk: dict[str, Any] = {"sdk": label}
    version = resource.get("telemetry.sdk.version")
    if isinstance(version, str) and version:
        sdk["sdk_version"] = version
    sdk["auto_instrumentation"] = bool(resource.get("telemetry.auto.version"))
    return sdk


def _put(block: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, str) and value:
        block[key] = value


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in attributes:
            return attributes[key]
    return None
