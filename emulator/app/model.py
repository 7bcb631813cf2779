"""What the local stack runs, as read from template.yaml (see template.py).

Plain data shared by the gateway, the Lambda runtime and the services, so that none of
them has to know how a SAM template is written.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_REGION = "ap-northeast-1"
DEFAULT_STACK_NAME = "sam-app"
# The account id AWS's own examples use; moto answers for it too.
DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """What Lambda does with an event it queued (an Event invoke, a schedule): the function's
    EventInvokeConfig and DeadLetterQueue, with Lambda's defaults (2 retries, 6 hours)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_s: int = 21600
    # Destination ARNs: an SQS queue or a function of the template (other types are named as
    # not emulated when the template is read).
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_queue: str | None = None  # DeadLetterQueue TargetArn of Type SQS


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Serverless::Function after Globals are applied."""

    logical_id: str  # HelloWorldFunction
    function_name: str  # sam-app-HelloWorldFunction-<suffix>, as CloudFormation names it
    handler: str  # app.lambda_handler
    runtime: str  # python3.11
    code_dir: Path  # the `sam build` artifact folder the function runs from
    timeout: float  # seconds
    memory_size: int  # MB
    environment: dict[str, str]  # the template's variables, intrinsics resolved
    tracing: str  # "Active" or "PassThrough"
    architecture: str = "x86_64"
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    log_group: str = ""  # LoggingConfig.LogGroup; empty: Lambda's default /aws/lambda/<name>
    # The built folders of the function's Layers, in the template's order: what Lambda extracts
    # into /opt, a later layer's files over an earlier one's.
    layers: tuple[Path, ...] = ()
    async_config: AsyncInvokeConfig = AsyncInvokeConfig()

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.function_name}"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"


# The APIs SAM creates for events that name none (RestApiId / ApiId left out).
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
# An HTTP API route that catches every request no other route matches.
DEFAULT_ROUTE = "$default"


@dataclass(frozen=True)
class Route:
    """One Api or HttpApi event (or a DefinitionBody operation): a method and a path on an API."""

    method: str  # GET, POST, ... or ANY
    path: str  # /hello, /items/{id}, /files/{proxy+}, or $default (HTTP APIs)
    function: str  # logical id of the function
    api: str = IMPLICIT_REST_API  # logical id of the API the route belongs to
    payload_format: str = "1.0"  # HTTP APIs: PayloadFormatVersion, "2.0" unless said otherwise
    authorizer: str | None = None  # the name of the API's Lambda authorizer guarding it
    api_key_required: bool = False

    @property
    def route_key(self) -> str:
        """`GET /hello`, or `$default`: the HTTP API's name for the route."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class CorsConfig:
    """An API's CORS settings, as API Gateway answers with them (values without SAM's quotes)."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()  # empty: the methods of the path (REST), all (HTTP)
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


# How an authorizer's identity sources are written: a header, a query string parameter, a stage
# variable, a request context value. A REST API writes method.request.header.X, an HTTP API
# $request.header.X.
REST_IDENTITY_PREFIXES = (
    "method.request.header.",
    "method.request.querystring.",
    "stageVariables.",
    "context.",
)
HTTP_IDENTITY_PREFIXES = ("$request.header.", "$request.querystring.", "$stageVariables.", "$context.")


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda authorizer of a REST API (SAM's Auth.Authorizers FunctionArn)."""

    name: str
    function: str  # logical id of the authorizer function
    type: str  # "TOKEN" or "REQUEST"
    # TOKEN: the header that holds the token; REQUEST: the identity sources as written,
    # method.request.header.X / method.request.querystring.x (all must be present).
    identity_sources: tuple[str, ...] = ("method.request.header.Authorization",)
    validation_expression: str | None = None
    # An HTTP API's authorizer: its AuthorizerPayloadFormatVersion ("1.0" or "2.0"; None for a
    # REST API's), with identity sources written $request.header.X, $request.querystring.x,
    # $stageVariables.x, $context.x; EnableSimpleResponses: {"isAuthorized", "context"}.
    payload_format: str | None = None
    simple_responses: bool = False


@dataclass(frozen=True)
class ApiSpec:
    """One API: the implicit or an explicit AWS::Serverless::Api (REST) or ::HttpApi (HTTP)."""

    logical_id: str
    kind: str  # "REST" or "HTTP"
    name: str  # the API's name in X-Ray's stage segment: the stack name for SAM's implicit API
    stage: str  # Prod, a StageName, or $default (an HTTP API's default stage, no path prefix)
    api_id: str
    tracing: bool = False  # REST: TracingEnabled; HTTP APIs have no active tracing in AWS
    cors: CorsConfig | None = None
    binary_media_types: tuple[str, ...] = ()
    stage_variables: dict[str, str] = field(default_factory=dict)
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    # Auth.DefaultAuthorizer and Auth.ApiKeyRequired: what a route gets unless its event says.
    default_authorizer: str | None = None
    api_key_required: bool = False
    # SAM puts both on the OPTIONS method Cors adds too, unless Auth says otherwise (both
    # AddDefaultAuthorizerToCorsPreflight and AddApiKeyRequiredToCorsPreflight default to true).
    preflight_authorizer: bool = True
    preflight_api_key: bool = True
    # Authorizers declared but not emulated (an HTTP API's JWT authorizers): a route naming one
    # is served without it, and start-up says so.
    unemulated_authorizers: tuple[str, ...] = ()

    @property
    def stage_prefix(self) -> str:
        """The path prefix of the stage's URL: none for an HTTP API's $default stage."""
        return "" if self.stage == "$default" else f"/{self.stage}"


@dataclass(frozen=True)
class TableSpec:
    """One AWS::DynamoDB::Table (or AWS::Serverless::SimpleTable) to create in moto."""

    logical_id: str
    table_name: str
    # create_table keyword arguments: KeySchema, AttributeDefinitions, BillingMode, ...
    create_table_args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogGroupSpec:
    """One AWS::Logs::LogGroup, created in the local CloudWatch Logs at start."""

    logical_id: str
    log_group_name: str
    retention_in_days: int | None = None  # None: never expire, as CloudWatch's default


@dataclass(frozen=True)
class QueueSpec:
    """One AWS::SQS::Queue, created in the local SQS (moto) at start."""

    logical_id: str
    queue_name: str  # QueueName, or the name CloudFormation generates
    arn: str
    attributes: dict[str, str] = field(default_factory=dict)  # CreateQueue's Attributes


@dataclass(frozen=True)
class SqsEventSpec:
    """An SQS event: Lambda polls the queue and invokes the function with batches of messages."""

    function: str  # logical id
    event_id: str
    queue_arn: str
    batch_size: int = 10
    batching_window_s: int = 0  # MaximumBatchingWindowInSeconds
    enabled: bool = True
    report_batch_item_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    filter_patterns: tuple[str, ...] = ()  # FilterCriteria's Patterns, as JSON text


@dataclass(frozen=True)
class StreamEventSpec:
    """A DynamoDB event: Lambda reads the table's stream and invokes the function with batches."""

    function: str  # logical id
    event_id: str
    stream_arn: str  # as the template resolves it; the local stream's own ARN is looked up by table
    starting_position: str  # TRIM_HORIZON or LATEST
    batch_size: int = 100
    batching_window_s: int = 0
    enabled: bool = True
    maximum_retry_attempts: int = -1  # -1: until the records expire
    maximum_record_age_s: int = -1  # -1: no limit
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    filter_patterns: tuple[str, ...] = ()  # FilterCriteria's Patterns, as JSON text

    @property
    def table_name(self) -> str:
        """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> → <name>."""
        return self.stream_arn.split(":table/", 1)[-1].split("/stream/", 1)[0]


@dataclass(frozen=True)
class ScheduleSpec:
    """A Schedule event (an EventBridge rule) or a ScheduleV2 event (an EventBridge Scheduler schedule)."""

    function: str  # logical id
    event_id: str
    expression: str  # rate(5 minutes), cron(0 12 * * ? *), at(2026-12-01T00:00:00)
    input: str | None = None  # the event the function gets instead of EventBridge's, as JSON text
    enabled: bool = True
    name: str = ""  # the template's Name, if any
    scheduler: bool = False  # True: ScheduleV2 (EventBridge Scheduler)
    timezone: str = "UTC"  # ScheduleExpressionTimezone (ScheduleV2 only)
    # ScheduleV2 only: StartDate and EndDate (aware datetimes), GroupName, and the
    # FlexibleTimeWindow's MaximumWindowInMinutes (0: Mode OFF).
    start: datetime | None = None
    end: datetime | None = None
    group: str = "default"
    flexible_window_minutes: int = 0


@dataclass(frozen=True)
class AppSpec:
    stack_name: str
    region: str
    account_id: str
    stage: str  # Prod, the stage SAM gives the implicit API
    api_id: str  # a stable 10-character id, like a REST API id
    api_tracing: bool  # Globals.Api.TracingEnabled
    functions: dict[str, FunctionSpec]  # by logical id
    routes: list[Route]
    tables: list[TableSpec]
    log_groups: list[LogGroupSpec] = field(default_factory=list)
    # The template's parameters as this run sees them: the Default, or the override given.
    parameters: dict[str, str] = field(default_factory=dict)
    # Every API by logical id; when empty, the implicit REST API above (stage, api_id, tracing).
    apis: dict[str, ApiSpec] = field(default_factory=dict)
    # What the template says that the local stack does not emulate, one phrase each: the
    # stack names them at start-up ("ignored locally: ...") rather than drop them silently.
    ignored: list[str] = field(default_factory=list)
    # The Values of the template's AWS::ApiGateway::ApiKey resources: the keys a route with
    # ApiKeyRequired accepts (with none declared, any x-api-key is taken).
    api_keys: list[str] = field(default_factory=list)
    # Queues to create, and the events that are not API routes (event_sources.py).
    queues: list[QueueSpec] = field(default_factory=list)
    sqs_events: list[SqsEventSpec] = field(default_factory=list)
    stream_events: list[StreamEventSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)

    def api(self, logical_id: str) -> ApiSpec:
        found = self.apis.get(logical_id)
        if found is not None:
            return found
        # The implicit REST API, for an AppSpec made by hand (tests) without `apis`.
        return ApiSpec(IMPLICIT_REST_API, "REST", self.stack_name, self.stage, self.api_id, self.api_tracing)
