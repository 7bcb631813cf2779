"""One OpenTelemetry span → one X-Ray segment document, by AWS's documented mapping.

The rules are those of AWS's OpenTelemetry-to-X-Ray translation (the ADOT / collector
awsxrayexporter translator), summed up in the README's "OpenTelemetry in the local X-Ray":

- A server or consumer span, or a span without a parent, is a segment; any other span is a
  subsegment document (`type: subsegment`, `parent_id`), which X-Ray nests under its parent.
- Names: aws.local.service (server spans) or aws.remote.service (client and producer spans,
  without "AWS::" for AWS SDK calls), then peer.service, aws.service (and the AWS SDK's
  rpc.service), db.name, the resource's service.name for a segment, rpc.service, the peer's
  host, and last the span name cleaned of the characters X-Ray refuses.
- Namespace `aws` for AWS SDK calls (rpc.system "aws-api" or aws.service), `remote` for other
  client calls: those subsegments become the inferred nodes of the service map.
- Span links are `links` (trace id, span id, attributes).
- Attributes the http, aws, sql and cause blocks use are consumed; enduser.id is the user; the
  keys listed in aws.xray.annotations (or all, or those configured) are annotations with
  X-Ray's key rules; everything else is metadata in the "default" namespace, the resource's
  attributes (on segments) under "otel.resource.<key>".
"""

import math
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from emulator.xray.otlp import aws_fields, cause, http_fields, ids, sql_fields
from emulator.xray.otlp.values import attribute_map

SEGMENT_KINDS = (Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CONSUMER)
# The annotations a span asks for by key (a string array attribute), as AWS's translator reads it.
ANNOTATION_KEYS = "aws.xray.annotations"
USER = "enduser.id"
# X-Ray's limit on a segment name, and its name when nothing usable is left of the span's.
MAX_NAME_LENGTH = 200
DEFAULT_NAME = "span"
# Besides letters and digits, the characters X-Ray allows in a segment name.
_NAME_PUNCTUATION = frozenset(" _.:/%&#=+,-@")
_NANOSECONDS = 1_000_000_000


@dataclass(frozen=True)
class Options:
    """Which attributes become annotations, besides those a span lists in aws.xray.annotations
    (the collector's `indexed_attributes` / `index_all_attributes`; none by default, as there)."""

    indexed_attributes: frozenset[str] = frozenset()
    index_all_attributes: bool = False


DEFAULT_OPTIONS = Options()


def span_document(span: Span, resource: dict[str, Any], options: Options = DEFAULT_OPTIONS) -> dict[str, Any]:
    """The segment document for `span` (resource: its resource's attributes); InvalidSpan if
    the span cannot be one (bad ids or times)."""
    trace_id = ids.xray_trace_id(span.trace_id)
    span_id = ids.span_id(span.span_id)
    parent_id = ids.parent_span_id(span.parent_span_id)
    start, end = _times(span)
    is_segment = parent_id is None or span.kind in SEGMENT_KINDS
    attributes = attribute_map(span.attributes)

    http = http_fields.http_block(attributes, is_server=span.kind == Span.SPAN_KIND_SERVER)
    result = cause.outcome(span, attributes, http_fields.status_code(attributes), span_id)
    aws, aws_consumed = aws_fields.aws_block(attributes, resource, is_segment)
    sql, sql_consumed = sql_fields.sql_block(attributes, span.name)
    name, namespace = _name_and_namespace(span, attributes, resource, is_segment)

    document: dict[str, Any] = {
        "name": name,
        "id": span_id,
        "trace_id": trace_id,
        "start_time": start,
        "end_time": end,
    }
    if parent_id is not None:
        document["parent_id"] = parent_id
    if not is_segment:
        document["type"] = "subsegment"
    if namespace:
        document["namespace"] = namespace
    if is_segment:
        origin = origin_of(resource)
        if origin:
            document["origin"] = origin
        version = resource.get("service.version")
        if isinstance(version, str) and version:
            document["service"] = {"version": version}
    for flag in ("error", "fault", "throttle"):
        if getattr(result, flag):
            document[flag] = True
    if result.cause is not None:
        document["cause"] = result.cause
    if http.block is not None:
        document["http"] = http.block
    if aws is not None:
        document["aws"] = aws
    if sql is not None:
        document["sql"] = sql
    if span.links:
        document["links"] = [_link(link) for link in span.links]
    rest = {
        key: value
        for key, value in attributes.items()
        if key not in http.consumed
        and key not in aws_consumed
        and key not in sql_consumed
        and key not in result.consumed
    }
    user = rest.pop(USER, None)
    if isinstance(user, str) and user:
        document["user"] = user
    annotations, metadata = _annotations_and_metadata(rest, resource if is_segment else {}, options)
    if annotations:
        document["annotations"] = annotations
    if metadata:
        document["metadata"] = {"default": metadata}
    return document


def _link(link: Span.Link) -> dict[str, Any]:
    """A span link as X-Ray records it: the linked span's trace and id, and its attributes."""
    linked: dict[str, Any] = {"trace_id": ids.xray_trace_id(link.trace_id), "id": ids.span_id(link.span_id)}
    attributes = attribute_map(link.attributes)
    if attributes:
        linked["attributes"] = _json_safe(attributes)
    return linked


def origin_of(resource: dict[str, Any]) -> str | None:
    """The segment's origin from the resource's cloud.platform (only on AWS)."""
    provider = resource.get("cloud.provider")
    if provider not in (None, "aws"):
        return None
    platform = resource.get("cloud.platform")
    if platform == "aws_ecs":
        launch = resource.get("aws.ecs.launchtype")
        return _ECS_ORIGINS.get(str(launch), "AWS::ECS::Container")
    return _ORIGINS.get(str(platform)) if platform is not None else None


_ECS_ORIGINS = {"ec2": "AWS::ECS::EC2", "fargate": "AWS::ECS::Fargate"}
_ORIGINS = {
    "aws_ec2": "AWS::EC2::Instance",
    "aws_eks": "AWS::EKS::Container",
    "aws_elastic_beanstalk": "AWS::ElasticBeanstalk::Environment",
    "aws_app_runner": "AWS::AppRunner::Service",
    # X-Ray's origin for a Lambda function's own segment (as the Lambda service sends it).
    "aws_lambda": "AWS::Lambda::Function",
}


def is_aws_sdk_span(attributes: dict[str, Any]) -> bool:
    return attributes.get("rpc.system") == "aws-api"


def _name_and_namespace(
    span: Span, attributes: dict[str, Any], resource: dict[str, Any], is_segment: bool
) -> tuple[str, str | None]:
    namespace = "aws" if is_aws_sdk_span(attributes) else None
    candidates: list[Any] = []
    if span.kind == Span.SPAN_KIND_SERVER:
        candidates.append(attributes.get("aws.local.service"))
    if span.kind in (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER):
        remote = attributes.get("aws.remote.service")
        if isinstance(remote, str) and namespace == "aws":
            remote = remote.removeprefix("AWS::")
        candidates.append(remote)
    candidates.append(attributes.get("peer.service"))
    aws_service = attributes.get("aws.service")
    if isinstance(aws_service, str) and aws_service:
        namespace = namespace or "aws"
    candidates.append(aws_service)
    if namespace == "aws":
        # The AWS SDK instrumentations name the service in rpc.service ("DynamoDB"): X-Ray
        # names the call by the service, not by the method the span is named after.
        candidates.append(attributes.get("rpc.service"))
    candidates.append(_db_name(attributes))
    if is_segment:
        candidates.append(resource.get("service.name"))
    for key in ("rpc.service", "http.host", "net.peer.name", "server.address"):
        candidates.append(attributes.get(key))
    name = next((value for value in candidates if isinstance(value, str) and value), None)
    if name is None:
        name = span.name
    name = clean_name(name)
    if namespace is None and span.kind == Span.SPAN_KIND_CLIENT:
        namespace = "remote"
    return name, namespace


def _db_name(attributes: dict[str, Any]) -> str | None:
    """`<database>@<host>` for a database call, as X-Ray names SQL subsegments."""
    database = attributes.get("db.name", attributes.get("db.namespace"))
    if not isinstance(database, str) or not database:
        return None
    host = attributes.get("server.address", attributes.get("net.peer.name"))
    return f"{database}@{host}" if isinstance(host, str) and host else database


def clean_name(name: str) -> str:
    """The name without the characters X-Ray refuses, at most 200 characters ("span" if empty)."""
    kept = "".join(char for char in name if char.isalpha() or char.isdigit() or char in _NAME_PUNCTUATION)
    kept = kept[:MAX_NAME_LENGTH].strip()
    return kept or DEFAULT_NAME


def annotation_key(key: str) -> str:
    """X-Ray's key rule: letters, digits and underscores; anything else becomes `_`."""
    return "".join(char if char.isascii() and (char.isalnum() or char == "_") else "_" for char in key)


def _annotations_and_metadata(
    attributes: dict[str, Any], resource: dict[str, Any], options: Options
) -> tuple[dict[str, Any], dict[str, Any]]:
    indexed = set(options.indexed_attributes)
    listed = attributes.pop(ANNOTATION_KEYS, None)
    if isinstance(listed, str):
        listed = [listed]
    if isinstance(listed, list):
        indexed.update(key for key in listed if isinstance(key, str))
    annotations: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    items = [(f"otel.resource.{key}", value) for key, value in resource.items()]
    items += list(attributes.items())
    for key, value in items:
        if (options.index_all_attributes or key in indexed) and _annotatable(value):
            annotations[annotation_key(key)] = value
        elif value is not None:
            metadata[key] = _json_safe(value)
    return annotations, metadata


def _json_safe(value: Any) -> Any:
    """The value with NaN and infinities as text: JSON (and X-Ray) has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def _annotatable(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | bool | int)


def _times(span: Span) -> tuple[float, float]:
    if span.start_time_unix_nano == 0:
        raise ids.InvalidSpan("start_time_unix_nano is missing")
    if span.end_time_unix_nano < span.start_time_unix_nano:
        raise ids.InvalidSpan("end_time_unix_nano is before start_time_unix_nano (or missing)")
    # Microseconds, as the X-Ray SDKs write times: a float of epoch seconds holds no finer.
    start = round(span.start_time_unix_nano / _NANOSECONDS, 6)
    end = round(span.end_time_unix_nano / _NANOSECONDS, 6)
    return start, end
