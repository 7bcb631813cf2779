"""The template's APIs and their routes, as SAM would create them.

- `Api` events without a `RestApiId` go to the implicit REST API `ServerlessRestApi` (stage
  `Prod`, Globals.Api applied); with one, to that `AWS::Serverless::Api` (its `StageName`).
- `HttpApi` events without an `ApiId` go to the implicit HTTP API `ServerlessHttpApi` (stage
  `$default`, Globals.HttpApi applied); with one, to that `AWS::Serverless::HttpApi`. An event
  with neither Path nor Method is the `$default` route; `PayloadFormatVersion` is "2.0" unless
  the event says "1.0".
- An API's `DefinitionBody` adds a route per operation whose `x-amazon-apigateway-integration`
  is of type `aws_proxy` and names a function of the template.

What a property asks for that the local stack does not do is added to `ignored`, one phrase
each, so that start-up can name it.
"""

import re
from dataclasses import dataclass, field, replace
from typing import Any

from emulator.app.errors import TemplateError
from emulator.app.intrinsics import Resolver
from emulator.app.model import (
    DEFAULT_ROUTE,
    HTTP_IDENTITY_PREFIXES,
    IMPLICIT_HTTP_API,
    IMPLICIT_REST_API,
    REST_IDENTITY_PREFIXES,
    ApiSpec,
    AuthorizerSpec,
    CorsConfig,
    Route,
)
from emulator.app.resource_names import ALPHABET_LOWER, IMPLICIT_STAGE, stable_id

REST_API = "AWS::Serverless::Api"
HTTP_API = "AWS::Serverless::HttpApi"
API_KEY = "AWS::ApiGateway::ApiKey"
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
ANY_METHOD = "X-AMAZON-APIGATEWAY-ANY-METHOD"
_BINARY_EXTENSION = "x-amazon-apigateway-binary-media-types"

# Properties the local stack acts on; any other one on an API is named as ignored.
_REST_HANDLED = {"StageName", "Cors", "BinaryMediaTypes", "Variables", "Auth", "TracingEnabled",
                 "DefinitionBody", "Name", "OpenApiVersion", "Description"}  # fmt: skip
_HTTP_HANDLED = {"StageName", "CorsConfiguration", "StageVariables", "DefinitionBody", "Name",
                 "Description", "FailOnWarnings", "Auth"}  # fmt: skip
_REST_EVENT_HANDLED = {"Path", "Method", "RestApiId", "Auth"}
_HTTP_EVENT_HANDLED = {"Path", "Method", "ApiId", "PayloadFormatVersion", "Auth"}
_HTTP_AUTH_HANDLED = {"Authorizers", "DefaultAuthorizer"}
_REST_AUTH_HANDLED = {"ApiKeyRequired", "Authorizers", "DefaultAuthorizer",
                      "AddDefaultAuthorizerToCorsPreflight", "AddApiKeyRequiredToCorsPreflight"}  # fmt: skip


@dataclass
class ApiSet:
    """What apis() found: every API by logical id, every route, what is not emulated."""

    apis: dict[str, ApiSpec] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)  # AWS::ApiGateway::ApiKey Values


def api_id_for(stack_name: str, logical_id: str = IMPLICIT_REST_API) -> str:
    """An API id looks like `a1b2c3d4e5`: 10 lower-case alphanumerics, the same on every run."""
    return stable_id(f"{stack_name}/{logical_id}", 10, ALPHABET_LOWER)


def read_apis(
    resources: dict[str, Any],
    globals_: dict[str, Any],
    functions: set[str],
    resolver: Resolver,
    stack_name: str,
) -> ApiSet:
    """The APIs and routes of `resources` (Globals already merged into explicit APIs);
    `globals_` is the template's Globals as written, for the implicit APIs."""
    found = ApiSet()
    explicit = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if isinstance(resource, dict) and resource.get("Type") in (REST_API, HTTP_API)
    }
    for logical_id, resource in explicit.items():
        props = resource.get("Properties") or {}
        if resource["Type"] == REST_API:
            found.apis[logical_id] = _rest_api(logical_id, props, resolver, stack_name, found.ignored)
        else:
            found.apis[logical_id] = _http_api(logical_id, props, resolver, stack_name, found.ignored)
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") == API_KEY:
            value = (resource.get("Properties") or {}).get("Value")
            if value is not None:
                found.api_keys.append(str(resolver.resolve(value, f"{logical_id}.Value")))

    for function in functions:
        events = (resources[function].get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            if not isinstance(event, dict) or event.get("Type") not in ("Api", "HttpApi"):
                continue
            where = f"{function}.Events.{event_id}"
            props = event.get("Properties") or {}
            if event["Type"] == "Api":
                api_id = _api_ref(props.get("RestApiId"), explicit, REST_API, where) or IMPLICIT_REST_API
                if api_id not in found.apis:
                    implicit = globals_.get("Api") or {}
                    found.apis[api_id] = _rest_api(
                        api_id, implicit, resolver, stack_name, found.ignored, implicit=True
                    )
                found.routes.append(_rest_route(function, where, props, found.apis[api_id], found.ignored))
            else:
                api_id = _api_ref(props.get("ApiId"), explicit, HTTP_API, where) or IMPLICIT_HTTP_API
                if api_id not in found.apis:
                    implicit = globals_.get("HttpApi") or {}
                    found.apis[api_id] = _http_api(
                        api_id, implicit, resolver, stack_name, found.ignored, implicit=True
                    )
                found.routes.append(_http_route(function, where, props, found.apis[api_id], found.ignored))

    for logical_id, resource in explicit.items():
        body = (resource.get("Properties") or {}).get("DefinitionBody")
        if body is not None:
            found.routes.extend(
                _definition_routes(found.apis[logical_id], body, functions, found.ignored, found.routes)
            )
            declared = body.get(_BINARY_EXTENSION) if isinstance(body, dict) else None
            if isinstance(declared, list) and found.apis[logical_id].kind == "REST":
                # The OpenAPI extension is how a DefinitionBody declares binaryMediaTypes.
                api = found.apis[logical_id]
                merged = (*api.binary_media_types, *(str(t) for t in declared))
                found.apis[logical_id] = replace(api, binary_media_types=merged)
    return found


def _api_ref(value: Any, explicit: dict[str, Any], kind: str, where: str) -> str | None:
    if value is None:
        return None
    target = value.get("Ref") if isinstance(value, dict) else value
    if not isinstance(target, str) or explicit.get(target, {}).get("Type") != kind:
        raise TemplateError(f"{where}: {value!r} is not a {kind} of this template (use !Ref MyApi)")
    return target


# -- REST APIs -------------------------------------------------------------------------


def _rest_api(
    logical_id: str,
    props: dict[str, Any],
    resolver: Resolver,
    stack_name: str,
    ignored: list[str],
    *,
    implicit: bool = False,
) -> ApiSpec:
    where = logical_id
    stage = IMPLICIT_STAGE if implicit else resolver.resolve(props.get("StageName"), f"{where}.StageName")
    if not isinstance(stage, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", stage):
        raise TemplateError(f"{where}.StageName: a REST API needs a StageName of letters, digits, - and _")
    _note_ignored(where, props, _REST_HANDLED, ignored)
    auth = props.get("Auth") or {}
    _note_ignored(f"{where}.Auth", auth, _REST_AUTH_HANDLED, ignored)
    variables = resolver.resolve(props.get("Variables") or {}, f"{where}.Variables")
    authorizers = _authorizers(auth.get("Authorizers") or {}, f"{where}.Auth.Authorizers", ignored)
    default_authorizer = auth.get("DefaultAuthorizer")
    if default_authorizer is not None and default_authorizer not in authorizers:
        raise TemplateError(f"{where}.Auth.DefaultAuthorizer: {default_authorizer} is not in Authorizers")
    return ApiSpec(
        logical_id=logical_id,
        kind="REST",
        name=stack_name if implicit else _name(props, logical_id, resolver),
        stage=stage,
        api_id=api_id_for(stack_name, logical_id),
        tracing=_as_bool(resolver.resolve(props.get("TracingEnabled", False), f"{where}.TracingEnabled")),
        cors=_rest_cors(resolver.resolve(props.get("Cors"), f"{where}.Cors"), f"{where}.Cors"),
        binary_media_types=tuple(
            str(t).replace("~1", "/")
            for t in resolver.resolve(props.get("BinaryMediaTypes") or [], f"{where}.BinaryMediaTypes")
        ),
        stage_variables={str(k): str(v) for k, v in variables.items()},
        authorizers=authorizers,
        default_authorizer=default_authorizer,
        api_key_required=_as_bool(auth.get("ApiKeyRequired", False)),
        preflight_authorizer=_as_bool(auth.get("AddDefaultAuthorizerToCorsPreflight", True)),
        preflight_api_key=_as_bool(auth.get("AddApiKeyRequiredToCorsPreflight", True)),
    )


def _unquote(value: Any) -> str:
    """SAM's REST Cors values are header values in single quotes: "'GET,POST'"."""
    text = str(value).strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _rest_cors(value: Any, where: str) -> CorsConfig | None:
    if value is None:
        return None
    if isinstance(value, str):
        return CorsConfig(allow_origins=(_unquote(value),))
    if not isinstance(value, dict) or "AllowOrigin" not in value:
        raise TemplateError(f"{where}: Cors is an origin ('*') or a map with AllowOrigin")
    max_age = value.get("MaxAge")
    return CorsConfig(
        allow_origins=(_unquote(value["AllowOrigin"]),),
        allow_methods=_split(_unquote(value["AllowMethods"])) if value.get("AllowMethods") else (),
        allow_headers=_split(_unquote(value["AllowHeaders"])) if value.get("AllowHeaders") else (),
        max_age=int(_unquote(max_age)) if max_age is not None else None,
        allow_credentials=_as_bool(value.get("AllowCredentials", False)),
    )


def _authorizers(declared: dict[str, Any], where: str, ignored: list[str]) -> dict[str, AuthorizerSpec]:
    authorizers: dict[str, AuthorizerSpec] = {}
    for name, props in declared.items():
        function = _authorizer_function(
            name, props, where, ignored, "only Lambda authorizers are emulated, not Cognito"
        )
        if function is None:
            continue
        kind = str(props.get("FunctionPayloadType", "TOKEN")).upper()
        if kind not in ("TOKEN", "REQUEST"):
            raise TemplateError(f"{where}.{name}.FunctionPayloadType: TOKEN or REQUEST, got {kind}")
        identity = props.get("Identity") or {}
        if kind == "TOKEN":
            sources: tuple[str, ...] = (f"method.request.header.{identity.get('Header', 'Authorization')}",)
        else:
            sources = _identity_sources(identity, REST_IDENTITY_PREFIXES)
        authorizers[name] = AuthorizerSpec(
            name=name,
            function=function,
            type=kind,
            identity_sources=sources,
            validation_expression=identity.get("ValidationExpression"),
        )
    return authorizers


def _authorizer_function(
    name: str, props: Any, where: str, ignored: list[str], not_lambda: str
) -> str | None:
    """The logical id of a Lambda authorizer's function; None (and named) for another kind."""
    if not isinstance(props, dict):
        raise TemplateError(f"{where}.{name}: an authorizer is a map")
    arn = props.get("FunctionArn")
    if arn is None:
        ignored.append(f"{where}.{name} ({not_lambda})")
        return None
    function = _function_of_arn(arn)
    if function is None:
        raise TemplateError(f"{where}.{name}.FunctionArn: !GetAtt <Function>.Arn of this template")
    if "ReauthorizeEvery" in (props.get("Identity") or {}):
        ignored.append(f"{where}.{name}.Identity.ReauthorizeEvery (every request is authorized)")
    return function


def _identity_sources(identity: dict[str, Any], prefixes: tuple[str, str, str, str]) -> tuple[str, ...]:
    header, query, stage, context = prefixes
    return tuple(
        [header + h for h in identity.get("Headers") or ()]
        + [query + q for q in identity.get("QueryStrings") or ()]
        + [stage + v for v in identity.get("StageVariables") or ()]
        + [context + c for c in identity.get("Context") or ()]
    )


def _function_of_arn(arn: Any) -> str | None:
    """`!GetAtt MyAuthFunction.Arn` as written: the logical id of the function it names."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        parts = target.split(".") if isinstance(target, str) else target
        if isinstance(parts, list) and len(parts) == 2 and parts[1] == "Arn" and isinstance(parts[0], str):
            return parts[0]
    return None


def _rest_route(function: str, where: str, props: dict[str, Any], api: ApiSpec, ignored: list[str]) -> Route:
    path, method = props.get("Path"), props.get("Method")
    if not isinstance(path, str) or not path.startswith("/") or not isinstance(method, str):
        raise TemplateError(f"{where}: an Api event needs a Path (/...) and a Method")
    _note_ignored(where, props, _REST_EVENT_HANDLED, ignored)  # RequestParameters, RequestModel, ...
    auth = props.get("Auth") or {}
    _note_ignored(f"{where}.Auth", auth, {"ApiKeyRequired", "Authorizer"}, ignored)
    # The event's Auth wins over the API's defaults; Authorizer: NONE opts a route out.
    authorizer = auth.get("Authorizer", api.default_authorizer)
    if authorizer == "NONE":
        authorizer = None
    if authorizer is not None and authorizer not in api.authorizers:
        raise TemplateError(f"{where}.Auth.Authorizer: {authorizer} is not an authorizer of {api.logical_id}")
    return Route(
        method=_method(method),
        path=normalize_path(path),
        function=function,
        api=api.logical_id,
        authorizer=authorizer,
        api_key_required=_as_bool(auth.get("ApiKeyRequired", api.api_key_required)),
    )


# -- HTTP APIs -------------------------------------------------------------------------


def _http_api(
    logical_id: str,
    props: dict[str, Any],
    resolver: Resolver,
    stack_name: str,
    ignored: list[str],
    *,
    implicit: bool = False,
) -> ApiSpec:
    where = logical_id
    stage = resolver.resolve(props.get("StageName"), f"{where}.StageName") or "$default"
    if not isinstance(stage, str) or not re.fullmatch(r"\$default|[A-Za-z0-9_-]+", stage):
        raise TemplateError(f"{where}.StageName: letters, digits, - and _, or $default")
    _note_ignored(where, props, _HTTP_HANDLED, ignored)
    variables = resolver.resolve(props.get("StageVariables") or {}, f"{where}.StageVariables")
    cors = resolver.resolve(props.get("CorsConfiguration"), f"{where}.CorsConfiguration")
    auth = props.get("Auth") or {}
    _note_ignored(f"{where}.Auth", auth, _HTTP_AUTH_HANDLED, ignored)
    authorizers = _http_authorizers(auth.get("Authorizers") or {}, f"{where}.Auth.Authorizers", ignored)
    default_authorizer = auth.get("DefaultAuthorizer")
    declared = auth.get("Authorizers") or {}
    if default_authorizer is not None and default_authorizer not in declared:
        raise TemplateError(f"{where}.Auth.DefaultAuthorizer: {default_authorizer} is not in Authorizers")
    return ApiSpec(
        logical_id=logical_id,
        kind="HTTP",
        name=stack_name if implicit else _name(props, logical_id, resolver),
        stage=stage,
        api_id=api_id_for(stack_name, logical_id),
        tracing=False,  # HTTP APIs have no active tracing: AWS writes no stage segment for them
        cors=_http_cors(cors, f"{where}.CorsConfiguration"),
        stage_variables={str(k): str(v) for k, v in variables.items()},
        authorizers=authorizers,
        default_authorizer=default_authorizer,
        unemulated_authorizers=tuple(name for name in declared if name not in authorizers),
    )


def _http_authorizers(declared: dict[str, Any], where: str, ignored: list[str]) -> dict[str, AuthorizerSpec]:
    """An HTTP API's Lambda authorizers (SAM's LambdaAuthorizer). A JWT authorizer checks a
    token's signature against its issuer's keys, which are on the internet: named, not emulated."""
    authorizers: dict[str, AuthorizerSpec] = {}
    for name, props in declared.items():
        jwt = "a JWT authorizer: its routes are served without it locally"
        function = _authorizer_function(name, props, where, ignored, jwt)
        if function is None:
            continue
        version = str(props.get("AuthorizerPayloadFormatVersion", ""))
        if version not in ("1.0", "2.0"):
            raise TemplateError(f"{where}.{name}.AuthorizerPayloadFormatVersion: 1.0 or 2.0 (required)")
        simple = _as_bool(props.get("EnableSimpleResponses", False))
        if simple and version != "2.0":
            raise TemplateError(f"{where}.{name}.EnableSimpleResponses: only with payload format 2.0")
        sources = _identity_sources(props.get("Identity") or {}, HTTP_IDENTITY_PREFIXES)
        authorizers[name] = AuthorizerSpec(
            name=name,
            function=function,
            type="REQUEST",
            # SAM's default identity source is the Authorization header.
            identity_sources=sources or ("$request.header.Authorization",),
            payload_format=version,
            simple_responses=simple,
        )
    return authorizers


def _http_cors(value: Any, where: str) -> CorsConfig | None:
    if value is None or value is False:
        return None
    if value is True:
        return CorsConfig(allow_origins=("*",))
    if not isinstance(value, dict):
        raise TemplateError(f"{where}: true or a map of AllowOrigins, AllowMethods, ...")

    def listed(key: str) -> tuple[str, ...]:
        items = value.get(key) or []
        if not isinstance(items, list):
            raise TemplateError(f"{where}.{key}: a list")
        return tuple(str(item) for item in items)

    max_age = value.get("MaxAge")
    return CorsConfig(
        allow_origins=listed("AllowOrigins"),
        allow_methods=tuple(m.upper() for m in listed("AllowMethods")),
        allow_headers=listed("AllowHeaders"),
        expose_headers=listed("ExposeHeaders"),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=_as_bool(value.get("AllowCredentials", False)),
    )


def _http_route(function: str, where: str, props: dict[str, Any], api: ApiSpec, ignored: list[str]) -> Route:
    path, method = props.get("Path"), props.get("Method")
    version = str(props.get("PayloadFormatVersion", "2.0"))
    if version not in ("1.0", "2.0"):
        raise TemplateError(f"{where}.PayloadFormatVersion: 1.0 or 2.0, got {version}")
    _note_ignored(where, props, _HTTP_EVENT_HANDLED, ignored)  # RouteSettings, TimeoutInMillis
    api_id = api.logical_id
    auth = props.get("Auth") or {}
    _note_ignored(f"{where}.Auth", auth, {"Authorizer"}, ignored)  # AuthorizationScopes (JWT)
    # The event's Authorizer wins over the API's DefaultAuthorizer; NONE opts a route out.
    authorizer = auth.get("Authorizer", api.default_authorizer)
    known = {"NONE", *api.authorizers, *api.unemulated_authorizers}
    if authorizer is not None and authorizer not in known:
        raise TemplateError(f"{where}.Auth.Authorizer: {authorizer} is not an authorizer of {api_id}")
    if authorizer not in api.authorizers:
        authorizer = None  # NONE, none, or a JWT authorizer (named at start-up)
    if path is None and method is None:
        return Route("ANY", DEFAULT_ROUTE, function, api_id, version, authorizer=authorizer)
    if not isinstance(path, str) or not (path.startswith("/") or path == DEFAULT_ROUTE):
        raise TemplateError(f"{where}: an HttpApi event's Path is /... or $default")
    return Route(
        _method(str(method or "ANY")),
        path if path == DEFAULT_ROUTE else normalize_path(path),
        function,
        api_id,
        version,
        authorizer=authorizer,
    )


# -- DefinitionBody ----------------------------------------------------------------------


def _definition_routes(
    api: ApiSpec, body: Any, functions: set[str], ignored: list[str], existing: list[Route]
) -> list[Route]:
    where = f"{api.logical_id}.DefinitionBody"
    if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
        raise TemplateError(f"{where}: an OpenAPI document with paths (an inline DefinitionBody)")
    taken = {(r.api, r.method, r.path) for r in existing}
    for key, value in body.items():
        # The document's own API settings beyond its paths: only binary media types are read.
        if key == "securityDefinitions" or (
            key.startswith("x-amazon-apigateway-") and key != _BINARY_EXTENSION
        ):
            ignored.append(f"{where}.{key}")
        elif key == "components" and isinstance(value, dict) and "securitySchemes" in value:
            ignored.append(f"{where}.components.securitySchemes")
    routes: list[Route] = []
    for path, operations in body["paths"].items():
        if not isinstance(operations, dict):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method.upper() not in (*HTTP_METHODS, ANY_METHOD):
                continue  # parameters, summary, ...
            integration = operation.get("x-amazon-apigateway-integration") or {}
            kind = str(integration.get("type", "")).lower()
            route_name = f"{where}.paths.{path}.{method}"
            if kind != "aws_proxy":
                if kind != "mock" or method.upper() != "OPTIONS" or api.cors is None:
                    what = f"integration type {kind or 'none'}: only aws_proxy is emulated"
                    ignored.append(f"{route_name} ({what})")
                continue
            if "security" in operation:
                ignored.append(f"{route_name}.security (the route is served without it)")
            function = _function_in_uri(integration.get("uri"), functions)
            if function is None:
                ignored.append(f"{route_name} (its uri names no function of this template)")
                continue
            route = Route(
                _method(method),
                path if path == DEFAULT_ROUTE else normalize_path(path),
                function,
                api.logical_id,
                str(integration.get("payloadFormatVersion", "2.0" if api.kind == "HTTP" else "1.0")),
            )
            if (route.api, route.method, route.path) not in taken:  # SAM merges events into the body
                routes.append(route)
    return routes


def _function_in_uri(uri: Any, functions: set[str]) -> str | None:
    """The function an integration uri invokes: `${MyFunction.Arn}` in a Fn::Sub, or a GetAtt."""
    text = repr(uri)
    for name in re.findall(r"\$\{([A-Za-z0-9]+)\.Arn\}|'Fn::GetAtt': \['([A-Za-z0-9]+)'", text):
        for candidate in name:
            if candidate in functions:
                return candidate
    return None


# -- shared ------------------------------------------------------------------------------


def _method(method: str) -> str:
    method = method.upper()
    return "ANY" if method in ("X-AMAZON-APIGATEWAY-ANY-METHOD", "*") else method


def normalize_path(path: str) -> str:
    """API Gateway resource paths have no trailing slash (except the root `/`)."""
    return "/" + path.strip("/") if path.strip("/") else "/"


def _name(props: dict[str, Any], logical_id: str, resolver: Resolver) -> str:
    # SAM titles the OpenAPI document it writes with the stack name; Name overrides it.
    return str(resolver.resolve(props.get("Name"), f"{logical_id}.Name") or resolver.pseudo("AWS::StackName"))


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _note_ignored(where: str, props: dict[str, Any], handled: set[str], ignored: list[str]) -> None:
    ignored.extend(f"{where}.{key}" for key in props if key not in handled)


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
