"""Reads a SAM template (normally the one `sam build` writes) into an AppSpec.

The YAML, short-form tags included, is read by yaml_reader.py and Globals are merged by
aws-sam-translator's own Globals plugin, so the local stack sees the template exactly as SAM
does. What is left here is what only a deployment would otherwise decide: physical names,
the implicit API's routes, and the intrinsic functions in environment variables and table
properties.
"""

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samtranslator.plugins.globals.globals_plugin import GlobalsPlugin
from samtranslator.public.exceptions import InvalidDocumentException

from emulator.app.apis import normalize_path, read_apis
from emulator.app.errors import TemplateError
from emulator.app.event_sources import SQS_QUEUE, read_event_sources
from emulator.app.intrinsics import Resolver
from emulator.app.model import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    AppSpec,
    AsyncInvokeConfig,
    FunctionSpec,
    LogGroupSpec,
    Route,
    TableSpec,
)
from emulator.app.resource_names import (
    DYNAMODB_TABLE,
    FUNCTION,
    IMPLICIT_STAGE,
    LAYER_TYPES,
    LOG_GROUP,
    SERVERLESS_LAYER,
    SIMPLE_TABLE,
    api_id_for,
    physical_name,
)
from emulator.app.yaml_reader import TemplateSyntaxError, read_template

__all__ = ["TemplateError", "api_id_for", "load_app", "normalize_path", "physical_name"]

# Lambda's defaults for what a template may leave out.
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY_SIZE = 128

# create_table accepts these index keys; CloudFormation allows more (ContributorInsights...).
# samtranslator records usage metrics for AWS's own transform service and, with no publisher,
# warns about them on stderr when the process exits: noise after the stack's one-line errors.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

# Resource types read by apis.py (APIs, API keys) or by a function (its layers), not by the loop here.
_READ_ELSEWHERE = {
    "AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::ApiGateway::ApiKey", *LAYER_TYPES,
    SQS_QUEUE,
}  # fmt: skip
# The function properties the local stack acts on (Role and Description only say what a
# deployment makes); any other is named at start-up as not emulated.
_FUNCTION_HANDLED = {
    "CodeUri", "InlineCode", "Handler", "Runtime", "Timeout", "MemorySize", "Environment", "Tracing",
    "Architectures", "LoggingConfig", "Layers", "Events", "FunctionName", "PackageType", "Role",
    "Description", "Tags", "EventInvokeConfig", "DeadLetterQueue",
}  # fmt: skip
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")
_SIMPLE_TABLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def load_app(
    template: Path,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    parameter_overrides: Mapping[str, str] | None = None,
) -> AppSpec:
    """Read `template` (its CodeUri are folders relative to it) into what the stack runs, with the
    parameters' Defaults or `parameter_overrides` (as `sam deploy --parameter-overrides`)."""
    document = _read(template)
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{template}: no Resources section")
    api_tracing = _api_tracing(document)
    # The implicit APIs take Globals.Api / Globals.HttpApi (SAM's implicit API plugins); the
    # Globals plugin merges them into explicit APIs only.
    globals_ = dict(document.get("Globals") or {})
    _apply_globals(template, document)
    resources = document["Resources"]
    resolver = Resolver(
        document,
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        parameter_overrides=parameter_overrides,
    )

    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    tables: list[TableSpec] = []
    log_groups: list[LogGroupSpec] = []
    not_created: list[str] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        condition = resource.get("Condition") if isinstance(resource, dict) else None
        if condition is not None and not resolver.condition(condition, f"{logical_id}.Condition"):
            continue  # CloudFormation does not create it
        if kind == FUNCTION:
            functions[logical_id] = _function(template, logical_id, resource, resolver)
            not_created.extend(_function_not_emulated(logical_id, resource.get("Properties") or {}))
        elif kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            tables.append(_table(logical_id, resource, resolver))
        elif kind == LOG_GROUP:
            log_groups.append(_log_group(logical_id, resource, resolver))
        elif kind not in _READ_ELSEWHERE:
            # A queue, a topic, a role, a bucket...: nothing runs it locally, but what other resources
            # say of it (Ref, GetAtt) resolves, so the template runs; named, not dropped silently.
            not_created.append(
                f"{logical_id} ({kind}): not created; its Ref and GetAtt resolve to a deployment's names"
            )
    if not functions:
        raise TemplateError(f"{template}: no {FUNCTION} resources")
    found = read_apis(resources, globals_, set(functions), resolver, stack_name)
    routes = found.routes
    _check_unique(routes)
    sources = read_event_sources(resources, set(functions), resolver)
    for api in found.apis.values():
        for authorizer in api.authorizers.values():
            if authorizer.function not in functions:
                raise TemplateError(
                    f"{api.logical_id}.Auth.Authorizers.{authorizer.name}: {authorizer.function} "
                    f"is not an {FUNCTION} of this template"
                )
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
        log_groups=log_groups,
        parameters=resolver.parameter_values(),
        apis=found.apis,
        ignored=[*not_created, *found.ignored, *sources.ignored],
        api_keys=found.api_keys,
        queues=sources.queues,
        sqs_events=sources.sqs_events,
        stream_events=sources.stream_events,
        schedules=sources.schedules,
    )


def _read(template: Path) -> dict[str, Any]:
    if not template.is_file():
        raise TemplateError(f"{template}: file not found")
    try:
        decoded = read_template(template)
    except TemplateSyntaxError as error:
        where = f" (line {error.line})" if error.line is not None else ""
        raise TemplateError(f"{template}{where}: cannot read the template: {_one_line(str(error))}") from None
    if decoded is None:
        raise TemplateError(f"{template}: cannot read the template: empty document")
    if not isinstance(decoded, dict):
        raise TemplateError(f"{template}: the template is not a mapping")
    return decoded


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


def _function(template: Path, logical_id: str, resource: dict[str, Any], resolver: Resolver) -> FunctionSpec:
    props = resource.get("Properties") or {}
    if props.get("PackageType") == "Image" or "ImageUri" in props:
        raise TemplateError(f"{logical_id}: container image functions are not supported locally")
    layers = _layers(template, logical_id, props, resolver)
    code_uri = props.get("CodeUri")
    inline_code = props.get("InlineCode")
    if inline_code is not None:
        code_dir = _inline_code_dir(logical_id, resolver.resolve(inline_code, f"{logical_id}.InlineCode"))
    elif code_uri is None:
        raise TemplateError(f"{logical_id}: neither CodeUri nor InlineCode")
    elif not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id}: CodeUri must be a local folder, got {json.dumps(code_uri)}")
    else:
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
        handler=str(resolver.resolve(props["Handler"], f"{logical_id}.Handler")),
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
        layers=layers,
        async_config=_async_config(logical_id, props, resolver),
    )


def _function_not_emulated(logical_id: str, props: dict[str, Any]) -> list[str]:
    """One phrase per property of the function the local stack does not act on."""
    lines: list[str] = []
    for prop in sorted(set(props) - _FUNCTION_HANDLED):
        if prop == "Policies":
            lines.append(f"{logical_id}.Policies: IAM is not enforced locally (every call is allowed)")
        else:
            lines.append(f"{logical_id}.{prop}: not emulated")
    for key in sorted(set(props.get("LoggingConfig") or {}) - {"LogGroup"}):
        lines.append(f"{logical_id}.LoggingConfig.{key}: not emulated (lines are plain text)")
    return lines


def _async_config(logical_id: str, props: dict[str, Any], resolver: Resolver) -> AsyncInvokeConfig:
    """EventInvokeConfig and DeadLetterQueue: retries and where a queued event goes when it is done.
    Locally a destination is an SQS queue or a function of the template; another type is refused
    rather than ignored, since the event it would get would be lost without a word."""
    where = f"{logical_id}.EventInvokeConfig"
    config = resolver.resolve(props.get("EventInvokeConfig") or {}, where)
    destinations = config.get("DestinationConfig") or {}

    def destination(key: str) -> str | None:
        target = destinations.get(key)
        if not target:
            return None
        kind, arn = target.get("Type"), target.get("Destination")
        if kind not in ("SQS", "Lambda") or not isinstance(arn, str):
            raise TemplateError(
                f"{where}.DestinationConfig.{key}: locally a destination is an SQS queue or a function of "
                f"the template (Type SQS or Lambda with its ARN), got {json.dumps(target)}"
            )
        return arn

    dead_letter = resolver.resolve(props.get("DeadLetterQueue"), f"{logical_id}.DeadLetterQueue")
    if dead_letter and (
        dead_letter.get("Type") != "SQS" or not isinstance(dead_letter.get("TargetArn"), str)
    ):
        raise TemplateError(
            f"{logical_id}.DeadLetterQueue: locally a dead-letter queue is an SQS queue (Type SQS with its "
            f"TargetArn), got {json.dumps(dead_letter)}"
        )
    try:
        retries = int(config.get("MaximumRetryAttempts", 2))
        age = int(config.get("MaximumEventAgeInSeconds", 21600))
    except (TypeError, ValueError):
        raise TemplateError(
            f"{where}: MaximumRetryAttempts and MaximumEventAgeInSeconds are numbers"
        ) from None
    # The ranges Lambda's PutFunctionEventInvokeConfig accepts.
    if not 0 <= retries <= 2 or not 60 <= age <= 21600:
        raise TemplateError(f"{where}: MaximumRetryAttempts is 0-2 and MaximumEventAgeInSeconds 60-21600")
    return AsyncInvokeConfig(
        maximum_retry_attempts=retries,
        maximum_event_age_s=age,
        on_success=destination("OnSuccess"),
        on_failure=destination("OnFailure"),
        dead_letter_queue=dead_letter["TargetArn"] if dead_letter else None,
    )


def _inline_code_dir(logical_id: str, code: Any) -> Path:
    """A folder holding the function's InlineCode as index.py, where Lambda puts it (SAM makes it the
    function's Code.ZipFile, which CloudFormation writes to a file named index).

    The folder is named by the code's hash, in a folder of this user's under the temporary
    directory, not next to the template: the stack also reads the source template (to watch it),
    and sam build's folder is sam build's. The file is dated 1970: it changes only with the
    template, which is what says whether a build is stale, never newer than a build of it."""
    if not isinstance(code, str):
        raise TemplateError(f"{logical_id}.InlineCode: must be the code as a string, got {json.dumps(code)}")
    digest = hashlib.sha256(code.encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"sam-local-inline-code-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    # The temporary directory is shared: code is run from here only if the folder is this user's alone.
    owner = root.lstat()
    if owner.st_uid != os.getuid() or owner.st_mode & 0o077 or root.is_symlink():
        raise TemplateError(f"{logical_id}.InlineCode: {root} is not this user's own folder; remove it")
    folder = root / digest
    index = folder / "index.py"
    if not index.is_file() or index.read_text() != code:
        folder.mkdir(exist_ok=True)
        # Written whole under another name, then renamed: a worker of another stack reading the same
        # code never sees half a file.
        partial = folder / f".index.py.{os.getpid()}"
        partial.write_text(code)
        os.utime(partial, (0, 0))
        partial.replace(index)
    return folder


def _layers(template: Path, logical_id: str, props: dict[str, Any], resolver: Resolver) -> tuple[Path, ...]:
    """The built folders of the function's Layers, in order. A layer must be one of the template's
    (`!Ref MyLayer`, or its ARN): a layer ARN from elsewhere (a public AWS layer, another account's)
    has files only AWS has, and the function without them would be another function, so it is
    refused with the way out, rather than ignored."""
    chosen = resolver.resolve(props.get("Layers"), f"{logical_id}.Layers") or []
    if not isinstance(chosen, list):
        raise TemplateError(f"{logical_id}.Layers: must be a list of layer ARNs, got {json.dumps(chosen)}")
    by_arn = {
        resolver.layer_arn(layer_id): layer_id
        for layer_id, resource in resolver.resources.items()
        if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES
    }
    folders: list[Path] = []
    for arn in chosen:
        layer_id = by_arn.get(str(arn))
        if layer_id is None:
            raise TemplateError(
                f"{logical_id}.Layers: {arn} is not a layer of this template, and its files are only in "
                "AWS; add its packages to the function's requirements.txt or declare the layer "
                f"({SERVERLESS_LAYER} with a local ContentUri)"
            )
        folders.append(_layer_folder(template, layer_id, resolver.resources[layer_id]))
    return tuple(folders)


def _layer_folder(template: Path, layer_id: str, resource: dict[str, Any]) -> Path:
    props = resource.get("Properties") or {}
    # sam build rewrites a Serverless layer's ContentUri, and a Lambda layer's Content, to its
    # build folder (<build dir>/<LayerLogicalId>, with python/ inside for BuildMethod python3.x).
    content = props.get("ContentUri" if resource.get("Type") == SERVERLESS_LAYER else "Content")
    if not isinstance(content, str):
        raise TemplateError(
            f"{layer_id}: a layer's content must be a local folder (sam build's), got {json.dumps(content)}"
        )
    folder = (template.parent / content).resolve()
    if not folder.is_dir():
        raise TemplateError(f"{layer_id}: layer folder {folder} does not exist (run `sam build`)")
    return folder


def _check_unique(routes: list[Route]) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for route in routes:
        key = (route.api, route.method, route.path)
        if key in seen:
            raise TemplateError(
                f"{route.method} {route.path} is the route of both {seen[key]} and {route.function}"
                f" on {route.api}"
            )
        seen[key] = route.function


def _table(logical_id: str, resource: dict[str, Any], resolver: Resolver) -> TableSpec:
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


def _log_group(logical_id: str, resource: dict[str, Any], resolver: Resolver) -> LogGroupSpec:
    props = resolver.resolve(resource.get("Properties") or {}, f"{logical_id}.Properties")
    retention = props.get("RetentionInDays")
    try:
        days = int(retention) if retention is not None else None
    except (TypeError, ValueError):
        raise TemplateError(f"{logical_id}.RetentionInDays: not a number of days: {retention!r}") from None
    return LogGroupSpec(logical_id, resolver.log_group_name(logical_id), days)


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
