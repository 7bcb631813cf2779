"""What the local stack runs, as read from template.yaml (see template.py).

Plain data shared by the gateway, the Lambda runtime and the services, so that none of
them has to know how a SAM template is written.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_REGION = "ap-northeast-1"
DEFAULT_STACK_NAME = "sam-app"
# The account id AWS's own examples use; moto answers for it too.
DEFAULT_ACCOUNT_ID = "123456789012"


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

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.function_name}"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"


@dataclass(frozen=True)
class Route:
    """One Api event: a method and a resource path on the REST API's stage."""

    method: str  # GET, POST, ... or ANY
    path: str  # /hello, /items/{id}, /files/{proxy+}
    function: str  # logical id of the function


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
