"""The README's OpenTelemetry mapping table, one row per entry: span in, segment fields out.

test_otlp_mapping.py runs every row through the converter and the document parser, and
checks that the README's table lists exactly these rows (its first column is the row id).
"""

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Status

ABSENT = object()  # the field must not be in the document
PYTHON_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/app.py", line 40, in lambda_handler\n'
    "    put(key)\n"
    '  File "/var/task/app.py", line 21, in put\n'
    "    raise KeyError(key)\n"
    "KeyError: 'abc'\n"
)
LAMBDA = {"cloud.provider": "aws", "cloud.platform": "aws_lambda", "service.name": "SamDdbFunction"}


@dataclass(frozen=True)
class Row:
    id: str
    kind: str = "internal"
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    has_parent: bool = True
    name: str = "span"
    status: tuple[int, str] | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # (trace id, span id, attributes) of span links.
    links: list[tuple[bytes, bytes, dict[str, Any]]] = field(default_factory=list)
    # Dotted paths into the document (list items by index) and the value expected there.
    expected: dict[str, Any] = field(default_factory=dict)


ROWS = [
    # -- segment or subsegment --------------------------------------------------------------
    Row("server-span-is-segment", "server", resource={"service.name": "HelloWorldFunction"},
        name="GET /hello", expected={"name": "HelloWorldFunction", "type": ABSENT, "parent_id": "<parent>"}),
    Row("consumer-span-is-segment", "consumer", resource={"service.name": "Worker"},
        expected={"name": "Worker", "type": ABSENT}),
    Row("root-span-is-segment", "internal", has_parent=False, resource={"service.name": "Job"},
        expected={"name": "Job", "type": ABSENT, "parent_id": ABSENT}),
    Row("internal-span-is-subsegment", "internal", name="put_item ddb",
        expected={"name": "put_item ddb", "type": "subsegment", "parent_id": "<parent>",
                  "namespace": ABSENT}),
    Row("producer-span-is-subsegment", "producer", name="orders send",
        expected={"type": "subsegment", "name": "orders send", "namespace": ABSENT}),
    Row("client-span-is-remote", "client",
        {"url.full": "https://example.com/a", "server.address": "example.com"}, name="GET",
        expected={"type": "subsegment", "namespace": "remote", "name": "example.com"}),
    # -- names and inferred nodes -----------------------------------------------------------
    Row("aws-sdk-dynamodb", "client",
        {"rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "PutItem",
         "aws.region": "ap-northeast-1", "aws.dynamodb.table_names": ["Demo"], "aws.request_id": "R1"},
        name="DynamoDB.PutItem",
        expected={"name": "DynamoDB", "namespace": "aws", "aws.operation": "PutItem",
                  "aws.table_name": "Demo", "aws.region": "ap-northeast-1", "aws.request_id": "R1"}),
    Row("aws-dynamodb-table-names", "client",
        {"rpc.system": "aws-api", "rpc.service": "DynamoDB", "aws.dynamodb.table_names": ["A", "B"]},
        expected={"aws.table_names": ["A", "B"], "aws.table_name": ABSENT}),
    Row("aws-service-attribute", "client", {"aws.service": "SQS", "aws.queue_url": "https://sqs/q"},
        expected={"name": "SQS", "namespace": "aws", "aws.queue_url": "https://sqs/q"}),
    Row("aws-remote-service", "client", {"rpc.system": "aws-api", "aws.remote.service": "AWS::S3"},
        expected={"name": "S3", "namespace": "aws"}),
    Row("peer-service-names-call", "client", {"peer.service": "billing", "server.address": "10.0.0.5"},
        expected={"name": "billing", "namespace": "remote"}),
    Row("db-name-at-host", "client", {"db.name": "orders", "server.address": "db.local"},
        expected={"name": "orders@db.local"}),
    Row("sql-database-call", "client",
        {"db.system": "postgresql", "db.name": "orders", "db.statement": "SELECT * FROM t WHERE id = ?",
         "db.user": "app", "server.address": "db.local"}, name="SELECT orders.t",
        expected={"name": "orders@db.local", "namespace": "remote", "sql.url": "SELECT orders.t",
                  "sql.connection_string": "localhost/orders", "sql.database_type": "postgresql",
                  "sql.user": "app", "sql.sanitized_query": "SELECT * FROM t WHERE id = ?",
                  "metadata.default.db.statement": ABSENT}),
    Row("name-cleaned", "internal", name="handle <order> #1?",
        expected={"name": "handle order #1"}),
    # -- http ---------------------------------------------------------------------------------
    Row("http-old-names", "server",
        {"http.method": "GET", "http.url": "http://127.0.0.1:3000/hello", "http.status_code": 200,
         "http.user_agent": "curl/8", "http.client_ip": "203.0.113.9"},
        expected={"http.request.method": "GET", "http.request.url": "http://127.0.0.1:3000/hello",
                  "http.response.status": 200, "http.request.user_agent": "curl/8",
                  "http.request.client_ip": "203.0.113.9", "http.request.x_forwarded_for": True,
                  "metadata": ABSENT}),
    Row("http-new-names", "server",
        {"http.request.method": "POST", "url.scheme": "http", "server.address": "127.0.0.1",
         "server.port": 3000, "url.path": "/ddb", "url.query": "x=1", "http.response.status_code": 200,
         "user_agent.original": "curl/8", "client.address": "127.0.0.1"},
        expected={"http.request.method": "POST", "http.request.url": "http://127.0.0.1:3000/ddb?x=1",
                  "http.response.status": 200, "http.request.user_agent": "curl/8",
                  "http.request.client_ip": "127.0.0.1", "http.request.x_forwarded_for": ABSENT}),
    Row("http-client-url-full", "client",
        {"http.request.method": "GET", "url.full": "https://example.com/x", "http.response.status_code": 200},
        expected={"http.request.url": "https://example.com/x", "http.request.client_ip": ABSENT}),
    Row("http-response-size", "server", {"http.response.status_code": 200, "http.response.body.size": 42},
        expected={"http.response.content_length": 42}),
    # -- status -------------------------------------------------------------------------------
    Row("http-4xx-error", "server", {"http.response.status_code": 404},
        expected={"error": True, "fault": ABSENT, "throttle": ABSENT}),
    Row("http-429-throttle", "client", {"http.status_code": 429},
        expected={"error": True, "throttle": True, "fault": ABSENT}),
    Row("http-5xx-fault", "server", {"http.response.status_code": 503},
        expected={"fault": True, "error": ABSENT}),
    Row("status-error-fault", "internal", status=(Status.STATUS_CODE_ERROR, "table missing"),
        expected={"fault": True, "cause.exceptions.0.message": "table missing"}),
    Row("status-ok-no-flags", "internal", status=(Status.STATUS_CODE_OK, ""),
        expected={"fault": ABSENT, "error": ABSENT, "cause": ABSENT}),
    Row("exception-event-cause", "server", resource={"telemetry.sdk.language": "python"},
        status=(Status.STATUS_CODE_ERROR, "KeyError"),
        events=[("exception", {"exception.type": "KeyError", "exception.message": "'abc'",
                               "exception.stacktrace": PYTHON_TRACE})],
        expected={"fault": True, "cause.exceptions.0.type": "KeyError",
                  "cause.exceptions.0.message": "'abc'", "cause.exceptions.0.remote": False,
                  "cause.exceptions.0.stack.0.label": "put", "cause.exceptions.0.stack.0.line": 21,
                  "cause.exceptions.1.type": ABSENT, "cause.exceptions.0.stack.1.label": "lambda_handler"}),
    Row("exception-on-client-is-remote", "client",
        events=[("exception", {"exception.type": "ClientError", "exception.message": "denied"})],
        expected={"cause.exceptions.0.remote": True, "cause.exceptions.0.type": "ClientError"}),
    Row("span-links", "consumer",
        links=[(bytes.fromhex("6b0ce6e255cd994b61b088cd196a6a05"), bytes.fromhex("0102030405060708"),
                {"messaging.batch": 1})],
        expected={"links.0.trace_id": "1-6b0ce6e2-55cd994b61b088cd196a6a05", "links.0.id": "0102030405060708",
                  "links.0.attributes.messaging.batch": 1}),
    # -- annotations, metadata, user -----------------------------------------------------------
    Row("annotations-by-aws-xray-annotations", "internal",
        {"aws.xray.annotations": ["order.id", "count", "ok"], "order.id": "o-1", "count": 3, "ok": True,
         "note": "n"},
        expected={"annotations.order_id": "o-1", "annotations.count": 3, "annotations.ok": True,
                  "metadata.default.note": "n", "metadata.default.aws.xray.annotations": ABSENT}),
    Row("attributes-are-metadata", "internal", {"app.note": "n", "app.tags": ["a", "b"]},
        expected={"metadata.default.app.note": "n", "metadata.default.app.tags": ["a", "b"],
                  "annotations": ABSENT}),
    Row("enduser-is-user", "server", {"enduser.id": "alice"}, expected={"user": "alice"}),
    # -- resource -------------------------------------------------------------------------------
    Row("service-name-and-lambda-origin", "server", resource=LAMBDA,
        expected={"name": "SamDdbFunction", "origin": "AWS::Lambda::Function",
                  "metadata.default.otel.resource.cloud.platform": "aws_lambda"}),
    Row("ecs-fargate-origin", "server",
        resource={"cloud.provider": "aws", "cloud.platform": "aws_ecs", "aws.ecs.launchtype": "fargate"},
        expected={"origin": "AWS::ECS::Fargate"}),
    Row("non-aws-no-origin", "server", {"aws.region": "x"},
        resource={"cloud.provider": "gcp", "cloud.platform": "gcp_compute_engine"},
        expected={"origin": ABSENT, "aws": ABSENT}),
    Row("sdk-and-version", "server",
        resource={"telemetry.sdk.name": "opentelemetry", "telemetry.sdk.language": "python",
                  "telemetry.sdk.version": "1.45.2", "service.version": "7"},
        expected={"aws.xray.sdk": "opentelemetry for python", "aws.xray.sdk_version": "1.45.2",
                  "service.version": "7"}),
    Row("subsegment-no-resource", "internal", resource=LAMBDA,
        expected={"origin": ABSENT, "metadata": ABSENT, "aws": ABSENT}),
]  # fmt: skip
