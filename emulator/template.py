"""Reads a SAM template (normally the one `sam build` writes) into an AppSpec.

The YAML, short-form tags included, is read by cfn-lint's decoder and Globals are merged by
aws-sam-translator's own Globals plugin, so the local stack sees the template exactly as SAM
does. What is left here is what only a deployment would otherwise decide: physical names,
the implicit API's routes, and the intrinsic functions in environment variables and table
properties.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from samtranslator.plugins.globals.globals_plugin import GlobalsPlugin
from samtranslator.public.exceptions import InvalidDocumentException

from emulator.model import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    AppSpec,
    FunctionSpec,
    Route,
    TableSpec,
)

FUNCTION = "AWS::Serverless::Function"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
# The REST API that SAM creates for Api events without a RestApiId, and its stage.
IMPLICIT_API = "ServerlessRestApi"
IMPLICIT_STAGE = "Prod"

# Lambda's defaults for what a template may leave out.
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY_SIZE = 128

# create_table accepts these index keys; CloudFormation allows more (ContributorInsights...).
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")
_SIMPLE_TABLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}
_ALPHABET_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALPHABET_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template cannot be run locally; the message is one line that says why."""


def stable_id(seed: str, length: int, alphabet: str) -> str:
    """The same id for the same seed on every run: names survive restarts of the stack."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def physical_name(stack_name: str, logical_id: str) -> str:
    """CloudFormation's generated name: `<stack>-<LogicalId>-<12 upper-case alphanumerics>`."""
    return f"{stack_name}-{logical_id}-{stable_id(f'{stack_name}/{logical_id}', 12, _ALPHABET_UPPER)}"


def api_id_for(stack_name: str) -> str:
    """A REST API id looks like `a1b2c3d4e5`: 10 lower-case alphanumerics."""
    return stable_id(f"{stack_name}/{IMPLICIT_API}", 10, _ALPHABET_LOWER)


def load_app(
    template: Path,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> AppSpec:
    """Read `template` (its CodeUri are folders relative to it) into what the stack runs."""
    document = _read(template)
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{template}: no Resources section")
    api_tracing = _api_tracing(document)
    _apply_globals(template, document)
    resources = document["Resources"]
    resolver = _Resolver(document, stack_name=stack_name, region=region, account_id=account_id)

    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    tables: list[TableSpec] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind == FUNCTION:
            functions[logical_id] = _function(template, logical_id, resource, resolver)
            routes.extend(_routes(logical_id, resource))
        elif kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            tables.append(_table(logical_id, resource, resolver))
    if not functions:
        raise TemplateError(f"{template}: no {FUNCTION} resources")
    _check_unique(routes)
    return AppSpec(
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        stage=IMPLICIT_STAGE,
        api_id=api_id_for(stack_name),
        api_tracing=api_tracing,
        functions=functions,
        routes=routes,
        tables=tables,
    )


def _read(template: Path) -> dict[str, Any]:
    if not template.is_file():
        raise TemplateError(f"{template}: file not found")
    decoded, problems = decode(str(template))
    if problems or decoded is None:
        first = problems[0] if problems else None
        where = f" (line {first.linenumber})" if first is not None else ""
        message = first.message if first is not None else "empty document"
        raise TemplateError(f"{template}{where}: cannot read the template: {_one_line(message)}")
    if not isinstance(decoded, dict):
        raise TemplateError(f"{template}: the template is not a mapping")
    # cfn-lint's nodes carry line numbers in dict/str subclasses; plain types copy and hash simply.
    return json.loads(json.dumps(decoded))


def _api_tracing(document: dict[str, Any]) -> bool:
    # The implicit API takes Globals.Api like an explicit one would (SAM's ImplicitRestApiPlugin).
    api_globals = (document.get("Globals") or {}).get("Api") or {}
    return _as_bool(api_globals.get("TracingEnabled", False))


def _apply_globals(template: Path, document: dict[str, Any]) -> None:
    try:
        GlobalsPlugin().on_before_transform_template(document)
    except InvalidDocumentException as error:
        messages = "; ".join(_one_line(cause.message) for cause in error.causes)
        raise TemplateError(f"{template}: invalid Globals: {messages}") from None


def _function(
    template: Path, logical_id: str, resource: dict[str, Any], resolver: "_Resolver"
) -> FunctionSpec:
    props = resource.get("Properties") or {}
    if props.get("PackageType") == "Image" or "ImageUri" in props:
        raise TemplateError(f"{logical_id}: container image functions are not supported locally")
    code_uri = props.get("CodeUri")
    if code_uri is None:
        raise TemplateError(f"{logical_id}: no CodeUri (InlineCode is not supported locally)")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id}: CodeUri must be a local folder, got {json.dumps(code_uri)}")
    code_dir = (template.parent / code_uri).resolve()
    if not code_dir.is_dir():
        raise TemplateError(
            f"{logical_id}: CodeUri folder {code_dir} does not exist (run `make build` / `sam build`)"
        )
    for required in ("Handler", "Runtime"):
        if not props.get(required):
            raise TemplateError(f"{logical_id}: no {required} (neither on the function nor in Globals)")
    architectures = props.get("Architectures") or ["x86_64"]
    variables = (props.get("Environment") or {}).get("Variables") or {}
    environment = {
        name: _as_env_value(resolver.resolve(value, where), where)
        for name, value in variables.items()
        for where in [f"{logical_id}.Environment.Variables.{name}"]
    }
    log_group = (props.get("LoggingConfig") or {}).get("LogGroup")
    return FunctionSpec(
        logical_id=logical_id,
        function_name=resolver.function_name(logical_id),
        handler=str(props["Handler"]),
        runtime=str(props["Runtime"]),
        code_dir=code_dir,
        timeout=float(resolver.resolve(props.get("Timeout", DEFAULT_TIMEOUT), f"{logical_id}.Timeout")),
        memory_size=int(
            resolver.resolve(props.get("MemorySize", DEFAULT_MEMORY_SIZE), f"{logical_id}.MemorySize")
        ),
        environment=environment,
        tracing=str(props.get("Tracing") or "PassThrough"),
        architecture=str(architectures[0]),
        region=resolver.region,
        account_id=resolver.account_id,
        log_group=str(resolver.resolve(log_group, f"{logical_id}.LoggingConfig.LogGroup"))
        if log_group
        else "",
    )


def _routes(logical_id: str, resource: dict[str, Any]) -> list[Route]:
    routes = []
    events = (resource.get("Properties") or {}).get("Events") or {}
    for event_id, event in events.items():
        if not isinstance(event, dict) or event.get("Type") != "Api":
            continue  # S3, SQS, HttpApi...: not requests the REST API receives
        props = event.get("Properties") or {}
        if "RestApiId" in props:
            raise TemplateError(
                f"{logical_id}.Events.{event_id}: RestApiId (an explicit AWS::Serverless::Api) "
                "is not supported locally; only the implicit ServerlessRestApi is"
            )
        path, method = props.get("Path"), props.get("Method")
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(method, str):
            raise TemplateError(
                f"{logical_id}.Events.{event_id}: an Api event needs a Path (/...) and a Method"
            )
        method = method.upper()
        routes.append(
            Route(
                method="ANY" if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" else method,
                path=normalize_path(path),
                function=logical_id,
            )
        )
    return routes


def normalize_path(path: str) -> str:
    """API Gateway resource paths have no trailing slash (except the root `/`)."""
    return "/" + path.strip("/") if path.strip("/") else "/"


def _check_unique(routes: list[Route]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for route in routes:
        key = (route.method, route.path)
        if key in seen:
            raise TemplateError(
                f"{route.method} {route.path} is the route of both {seen[key]} and {route.function}"
            )
        seen[key] = route.function


def _table(logical_id: str, resource: dict[str, Any], resolver: "_Resolver") -> TableSpec:
    props = resolver.resolve(resource.get("Properties") or {}, f"{logical_id}.Properties")
    name = resolver.table_name(logical_id)
    if resource["Type"] == SIMPLE_TABLE:
        return TableSpec(logical_id, name, _simple_table_args(logical_id, props))
    args: dict[str, Any] = {}
    for key in ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput", "TableClass"):
        if key in props:
            args[key] = props[key]
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            args[key] = [{k: index[k] for k in _INDEX_KEYS if k in index} for index in props[key]]
    stream = props.get("StreamSpecification")
    if stream:
        # CloudFormation implies StreamEnabled; the API wants it said.
        args["StreamSpecification"] = {"StreamEnabled": True, **stream}
    if "KeySchema" not in args or "AttributeDefinitions" not in args:
        raise TemplateError(f"{logical_id}: a DynamoDB table needs KeySchema and AttributeDefinitions")
    if "BillingMode" not in args and "ProvisionedThroughput" not in args:
        raise TemplateError(f"{logical_id}: a PROVISIONED table needs ProvisionedThroughput")
    return TableSpec(logical_id, name, args)


def _simple_table_args(logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    # SAM's documented defaults: PrimaryKey {Name: id, Type: String}, on-demand billing.
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = _SIMPLE_TABLE_TYPES.get(key.get("Type", ""))
    if not key.get("Name") or kind is None:
        raise TemplateError(f"{logical_id}: PrimaryKey needs a Name and a Type of String, Number or Binary")
    args: dict[str, Any] = {
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
    }
    throughput = props.get("ProvisionedThroughput")
    if throughput:
        args["BillingMode"] = "PROVISIONED"
        args["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
    else:
        args["BillingMode"] = "PAY_PER_REQUEST"
    return args


class _Resolver:
    """Resolves the intrinsic functions the local stack needs, the way CloudFormation would.

    Only pseudo parameters, Parameters (their Default), and Ref/GetAtt to resources are known
    before a deployment; anything else is a TemplateError naming where it was found.
    """

    def __init__(self, document: dict[str, Any], *, stack_name: str, region: str, account_id: str) -> None:
        self.resources: dict[str, Any] = document.get("Resources") or {}
        self.parameters: dict[str, Any] = document.get("Parameters") or {}
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self._resolving: set[str] = set()

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                f"{stable_id(self.stack_name, 8, _ALPHABET_LOWER)}-0000-0000-0000-000000000000"
            ),
        }.get(name)

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument, where)
            if name == "Fn::GetAtt":
                return self.get_att(argument, where)
            if name == "Fn::Sub":
                return self.sub(argument, where)
            if name == "Fn::Join":
                separator, items = argument
                return str(separator).join(
                    str(self.resolve(item, where)) for item in self.resolve(items, where)
                )
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items, where)[int(self.resolve(index, where))]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text, where)).split(separator)
            if name.startswith("Fn::") or name == "Condition":
                raise TemplateError(f"{where}: {name} cannot be resolved locally")
        return {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}

    def ref(self, target: Any, where: str) -> Any:
        if not isinstance(target, str):
            raise TemplateError(f"{where}: Ref needs a name, got {json.dumps(target)}")
        pseudo = self.pseudo(target)
        if pseudo is not None:
            return pseudo
        if target in self.parameters:
            parameter = self.parameters[target]
            if "Default" not in parameter:
                raise TemplateError(f"{where}: parameter {target} has no Default to run with locally")
            return parameter["Default"]
        if target == IMPLICIT_API:
            return api_id_for(self.stack_name)
        resource = self.resources.get(target)
        if not isinstance(resource, dict):
            raise TemplateError(f"{where}: !Ref {target}: no such resource or parameter")
        kind = resource.get("Type")
        if kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            return self.table_name(target)
        if kind == FUNCTION:
            return self.function_name(target)
        return self._named(target, _NAME_PROPERTY.get(str(kind)))

    def get_att(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        target, attribute = (self.resolve(part, where) for part in argument)
        resource = self.resources.get(target)
        if not isinstance(resource, dict):
            raise TemplateError(f"{where}: !GetAtt {target}.{attribute}: no such resource")
        kind = resource.get("Type")
        region, account = self.region, self.account_id
        if kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{self.table_name(target)}"
            if attribute == "Arn":
                return table_arn
            if attribute == "StreamArn":
                return f"{table_arn}/stream/1970-01-01T00:00:00.000"
        elif kind == FUNCTION and attribute == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{self.function_name(target)}"
        elif kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{account}:role/{self._named(target, 'RoleName')}"
        elif kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{region}:{account}:log-group:{self._named(target, 'LogGroupName')}:*"
        elif kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{region}:{account}:{self._named(target, 'QueueName')}"
        elif kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self._named(target, 'BucketName').lower()}"
        raise TemplateError(f"{where}: !GetAtt {target}.{attribute} ({kind}) cannot be resolved locally")

    def sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = argument
            variables = {name: self.resolve(value, where) for name, value in variables.items()}
        else:
            text, variables = argument, {}
        if not isinstance(text, str):
            raise TemplateError(f"{where}: Fn::Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and self.pseudo(name) is None:
                return str(self.get_att(name.split(".", 1), where))
            return str(self.ref(name, where))

        # `${!Literal}` is written out as `${Literal}`, as CloudFormation does.
        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def table_name(self, logical_id: str) -> str:
        return self._named(logical_id, "TableName")

    def function_name(self, logical_id: str) -> str:
        return self._named(logical_id, "FunctionName")

    def _named(self, logical_id: str, name_property: str | None) -> str:
        """The resource's own name property if the template sets one, else a generated name."""
        props = self.resources[logical_id].get("Properties") or {}
        if name_property and name_property in props:
            if logical_id in self._resolving:
                raise TemplateError(f"{logical_id}.{name_property} refers to itself")
            self._resolving.add(logical_id)
            try:
                return str(self.resolve(props[name_property], f"{logical_id}.{name_property}"))
            finally:
                self._resolving.discard(logical_id)
        return physical_name(self.stack_name, logical_id)


# What `!Ref` returns for resources whose Ref is their name (when the template names them).
_NAME_PROPERTY = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
}


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _as_env_value(value: Any, where: str) -> str:
    # CloudFormation turns YAML booleans into "true"/"false" and numbers into their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"{where}: must be a string, got {json.dumps(value)}")
    return str(value)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
