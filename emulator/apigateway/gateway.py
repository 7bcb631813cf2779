"""The API Gateway front: HTTP in, a Lambda proxy integration call, HTTP out, like API Gateway.

Every API of the template (REST and HTTP APIs, implicit and explicit) on one port, each under
its stage (`/Prod/hello`, like the execute-api URL; an HTTP API's `$default` stage at `/`) and
also without it (like `sam local start-api`). `Gateway.handle` reads as API Gateway's steps for
one request. Errors answer as API Gateway does: a REST API 403 "Missing Authentication Token"
for a route or method it does not have and 502 when the function fails, an HTTP API 404 "Not
Found" and 500; 413 over 10 MB. Requests whose `Host` is not a loopback name are refused 403
(DNS rebinding), and the server holds at most `max_connections` connections, each closed after
`idle_timeout` of silence.
"""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import unquote

from emulator.apigateway.authorizer import CONFIGURATION_ERROR, Decision, Invoke, authorize, method_arn
from emulator.apigateway.cors import (
    http_allowed_origin,
    http_preflight,
    http_response_headers,
    is_preflight,
    rest_preflight,
)
from emulator.apigateway.http_api_integration import build_event_v2, parse_result_v2
from emulator.apigateway.http_authorizer import SERVER_ERROR, authorize_http, route_arn
from emulator.apigateway.media_types import (
    http_request_is_binary,
    rest_decodes_result,
    rest_request_is_binary,
)
from emulator.apigateway.proxy_integration import (
    ApiContext,
    IncomingRequest,
    MalformedResult,
    ProxyResponse,
    RequestIds,
    build_event,
    parse_result,
)
from emulator.apigateway.routes import RouteTable
from emulator.apigateway.stage_segment import LambdaCall, StageRequest, api_gateway_stage_segment
from emulator.app.model import (
    DEFAULT_ROUTE,
    IMPLICIT_REST_API,
    ApiSpec,
    AppSpec,
    AuthorizerSpec,
    FunctionSpec,
    Route,
)
from emulator.http_body import BadFraming, BodyTooLarge, read_body
from emulator.loopback import is_loopback_host
from emulator.loopback_server import PromptShutdownServer
from emulator.tracing.documents import HttpRequest, LambdaFunctionRef, Span
from emulator.tracing.sampling import Sampler, TraceEverything
from emulator.tracing.trace_header import TraceHeader, new_segment_id, new_trace_id, parse_trace_header

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000  # what `sam local start-api` uses
# API Gateway's payload quota for REST APIs.
MAX_PAYLOAD = 10 * 1024 * 1024
# Idle keep-alive connections are dropped after this long, so no thread waits forever.
IDLE_TIMEOUT = 60.0
# Each connection holds a thread and a descriptor: past this many, a new one is answered 429
# and closed, so that a flood of idle clients cannot run the process out of descriptors.
MAX_CONNECTIONS = 512
# Connections the kernel queues before accept(): socketserver's default of 5 reset clients
# under a burst of 32 concurrent connections.
LISTEN_BACKLOG = 128


class InvokeOutcome(Protocol):
    """What the gateway needs from an invocation result (LambdaService's InvokeResult)."""

    @property
    def request_id(self) -> str: ...
    @property
    def outcome(self) -> str: ...  # "success" | "error" | "timeout" | "crash"
    @property
    def payload(self) -> bytes: ...
    @property
    def status_code(self) -> int: ...  # the Invoke API's status: 200 unless Lambda refused the call


class Invoker(Protocol):
    """The Lambda side, as the gateway sees it: LambdaService or anything with its invoke."""

    def invoke(self, logical_id: str, event: bytes, trace: TraceHeader | None) -> InvokeOutcome: ...


class SegmentSink(Protocol):
    def send(self, document: dict[str, Any]) -> None: ...


class Gateway:
    """The API Gateway stand-in. `start()` binds (OSError if the port is taken) and serves."""

    def __init__(
        self,
        app: AppSpec,
        invoker: Invoker,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        segment_sender: SegmentSink | None = None,
        log: Callable[[str], None] | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        sampler: Sampler | None = None,
    ) -> None:
        self.app = app
        # Which requests with no decision of their own are traced: all, unless asked otherwise.
        self.sampler = sampler or TraceEverything()
        self.invoker = invoker
        self.apis = app.apis or {IMPLICIT_REST_API: app.api(IMPLICIT_REST_API)}
        self.tables = {api: RouteTable([r for r in app.routes if r.api == api]) for api in self.apis}
        # Without a stage in the path (sam local's URLs) every route is served, but a $default
        # route only for an API whose stage is $default: another one's is under its stage.
        self.all_routes = RouteTable(
            [r for r in app.routes if r.path != DEFAULT_ROUTE or not self.apis[r.api].stage_prefix]
        )
        self.segment_sender = segment_sender
        self.log = log
        self._address = (host, port)
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        handler = type("BoundHandler", (_Handler,), {"gateway": self, "timeout": self.idle_timeout})
        server = _Server(self._address, handler, bind_and_activate=False)
        server.max_connections = self.max_connections
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        self._server = server
        if self.log:
            # Nothing in the template is dropped silently: what is not emulated is said once.
            for item in self.app.ignored:
                self.log(f"ignored locally: {item}")
        self._thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def route_urls(self) -> list[tuple[Route, str]]:
        """Each route with the URL of its stage (`$default`: the API's catch-all, at /)."""
        urls = []
        for route in self.app.routes:
            prefix = self.apis[route.api].stage_prefix if route.api in self.apis else ""
            path = "/" if route.path == DEFAULT_ROUTE else route.path
            urls.append((route, f"{self.url}{prefix}{path}"))
        return urls

    def routes_by_api(self) -> list[tuple[ApiSpec, list[tuple[Route, str]]]]:
        """Each API with its routes and their URLs, in the template's order (for the banner)."""
        urls = self.route_urls()
        return [(api, [(r, url) for r, url in urls if r.api == api.logical_id]) for api in self.apis.values()]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "Gateway":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- one request -------------------------------------------------------------------

    def handle(
        self, request: IncomingRequest, local_url: str
    ) -> tuple[ProxyResponse, RequestIds, str | None]:
        """One request, as API Gateway takes it, step by step: route (or answer a CORS
        preflight) → authorizer → API key → integration request → invoke → integration
        response (CORS headers) → the stage segment. Returns the response, the ids and the
        trace header to answer with. `request.path` is the path as sent, stage included."""
        ids = RequestIds()
        raw_path = request.path
        matched = self.route(request.method, unquote(raw_path))
        origin = _header(request.headers, "Origin")
        if matched.route is None or (request.method == "OPTIONS" and matched.route.method != "OPTIONS"):
            # SAM's Cors gives every path of a REST API an OPTIONS method (before ANY), and an
            # HTTP API with CorsConfiguration answers preflights itself.
            preflight = self._preflight(request, matched)
            if preflight is not None and matched.api.kind == "REST":
                refusal = self._authorize_preflight(request, matched, ids)
                if refusal is not None:
                    return refusal, ids, None
            if preflight is not None:
                return _identified(preflight, matched.api, ids), ids, None
        if matched.route is None:
            if matched.api.kind == "HTTP":
                return _identified(_error(404, "Not Found"), matched.api, ids), ids, None
            # API Gateway answers an unknown resource or method like an unsigned IAM call.
            return _error(403, "Missing Authentication Token"), ids, None
        api, route = matched.api, matched.route
        function = self.app.functions[route.function]
        context = ApiContext(self.app.account_id, api.api_id, self.app.region, api.stage)
        request = replace(request, path=matched.unstaged(raw_path))

        incoming = parse_trace_header(_header(request.headers, "X-Amzn-Trace-Id"))
        trace: TraceHeader | None
        stage_segment_id = lambda_subsegment_id = None
        if api.tracing:
            # The caller's decision wins (Sampled=0 or 1); with none, the stage samples.
            if incoming is not None and incoming.sampled is not None:
                sampled = incoming.sampled
            else:
                sampled = self.sampler.should_sample()
            root = incoming.root if incoming is not None else new_trace_id()
            stage_segment_id, lambda_subsegment_id = new_segment_id(), new_segment_id()
            trace = TraceHeader(root, lambda_subsegment_id, sampled)
        elif api.kind == "HTTP":
            # HTTP APIs have no active tracing: no stage segment, but the request goes on with
            # a trace id, so a function with Tracing: Active starts the trace itself.
            trace = incoming or TraceHeader(new_trace_id())
        else:
            # Without tracing API Gateway records nothing but still passes the header on.
            trace = incoming
        request = replace(request, headers=self._forwarded_headers(request, trace))
        content_type = _header(request.headers, "Content-Type")
        if api.kind == "REST":
            binary = rest_request_is_binary(content_type, api.binary_media_types)
        else:
            binary = http_request_is_binary(content_type, request.body)
        event = build_event(
            request,
            api=context,
            resource_path=route.path,
            path_parameters=matched.path_parameters,
            ids=ids,
            binary=binary,
            stage_variables=api.stage_variables,
        )
        rest_style_event = event

        def event_v2() -> dict[str, Any]:
            return build_event_v2(
                request,
                api=context,
                route_key=route.route_key,
                raw_path=raw_path,
                path_parameters=matched.path_parameters,
                ids=ids,
                binary=binary,
                stage_variables=api.stage_variables,
            )

        if api.kind == "HTTP" and route.payload_format == "1.0":
            event = {"version": "1.0", **event}
        elif api.kind == "HTTP":
            event = event_v2()

        if api.kind == "HTTP":
            refusal = None
            if route.authorizer is not None:
                request_v2 = event if route.payload_format == "2.0" else event_v2()
                arn = route_arn(
                    self.app.region, self.app.account_id, api.api_id, api.stage, request.method, request.path
                )
                authorizer = api.authorizers[route.authorizer]
                refusal = self._run_authorizer(
                    authorizer,
                    lambda invoke: authorize_http(
                        authorizer, request_v2, lambda: rest_style_event, arn, invoke
                    ),
                    SERVER_ERROR,
                    event,
                    trace,
                )
        else:
            refusal = self._authorize(api, route, event, context, trace)
        if refusal is not None:
            return refusal, ids, None

        start = time.time()
        invoke_status, invoke_bytes = 200, 0
        try:
            result = self.invoker.invoke(route.function, json.dumps(event).encode(), trace)
            invoke_bytes = len(result.payload)
            response = _map(result, self.log, function, api, route, _header(request.headers, "Accept"))
        except Exception as error:  # the Lambda side failed to invoke at all
            invoke_status = 500
            if self.log:
                self.log(f"{function.function_name}: invoke failed: {error!r}")
            response = _integration_failure(api)
        end = time.time()
        if api.kind == "HTTP" and api.cors is not None:
            allow_origin = http_allowed_origin(api.cors, origin)
            response = replace(
                response, headers=http_response_headers(api.cors, allow_origin, response.headers)
            )
        if api.kind == "HTTP":
            response = replace(
                response, headers=[*response.headers, ("Apigw-Requestid", ids.extended_request_id)]
            )

        response_trace = None
        if trace is not None and api.tracing:
            response_trace = f"Root={trace.root};Sampled={1 if trace.sampled else 0}"
            if trace.sampled and self.segment_sender is not None:
                assert stage_segment_id is not None and lambda_subsegment_id is not None
                self.segment_sender.send(
                    api_gateway_stage_segment(
                        trace_id=trace.root,
                        segment_id=stage_segment_id,
                        parent_id=incoming.parent if incoming is not None else None,
                        stage=StageRequest(
                            api_name=api.name,
                            stage=api.stage,
                            api_id=api.api_id,
                            account_id=self.app.account_id,
                            region=self.app.region,
                            request_id=ids.request_id,
                            extended_request_id=ids.extended_request_id,
                        ),
                        span=Span(ids.epoch_ms / 1000, end),
                        request=HttpRequest(
                            url=local_url,
                            method=request.method,
                            client_ip=request.source_ip,
                            user_agent=_header(request.headers, "User-Agent") or "",
                        ),
                        status=response.status,
                        # A HEAD answer carries no body.
                        content_length=0 if request.method == "HEAD" else len(response.body),
                        lambda_call=LambdaCall(
                            subsegment_id=lambda_subsegment_id,
                            function=LambdaFunctionRef.of(function),
                            span=Span(start, end),
                            method=request.method,
                            status=invoke_status,
                            content_length=invoke_bytes,
                        ),
                    )
                )
        return response, ids, response_trace

    def route(self, method: str, path: str) -> "Matched":
        """Which API and route take `method path` (percent-decoded, as sent).

        A path under an API's stage (`/Prod/hello`, the execute-api URL) is that API's; any
        other path is matched against every route, as `sam local start-api` serves them
        without a stage. With no route, `Matched.api` is the API whose error answers it."""
        for api in self.apis.values():
            prefix = api.stage_prefix
            if prefix and (path == prefix or path.startswith(prefix + "/")):
                rest = path[len(prefix) :] or "/"
                found = self.tables[api.logical_id].match(method, rest)
                if found is None:
                    return Matched(api, None, {}, rest, staged=True)
                return Matched(api, found[0], found[1], rest, staged=True)
        found = self.all_routes.match(method, path)
        if found is not None:
            return Matched(self.apis[found[0].api], found[0], found[1], path)
        # HTTP APIs answer 404 where REST APIs answer 403: a path with no stage is an HTTP
        # API's when one is served at / (stage $default), or when every API is one.
        apis = list(self.apis.values())
        unstaged = [api for api in apis if api.kind == "HTTP" and not api.stage_prefix]
        everyone_http = all(api.kind == "HTTP" for api in apis)
        fallback = unstaged[0] if unstaged else apis[0] if everyone_http else self._first_rest(apis)
        return Matched(fallback, None, {}, path)

    def _first_rest(self, apis: list[ApiSpec]) -> ApiSpec:
        return next((api for api in apis if api.kind == "REST"), self.app.api(IMPLICIT_REST_API))

    def _preflight(self, request: IncomingRequest, matched: "Matched") -> ProxyResponse | None:
        """The OPTIONS answer API Gateway gives without a route: SAM's mock on a REST path
        with Cors, or an HTTP API's own preflight answer."""
        if request.method != "OPTIONS":
            return None
        path = matched.resource_request_path
        # A path without a stage may be any API's (sam local's URLs): the first with CORS that
        # has the path answers.
        unstaged = matched.route is None and not matched.staged
        candidates = [matched.api, *self.apis.values()] if unstaged else [matched.api]
        for api in candidates:
            if api.cors is None:
                continue
            methods = self.tables[api.logical_id].methods_of(path)
            if api.kind == "REST":
                if methods:
                    return ProxyResponse(200, rest_preflight(api.cors, methods), b"{}")
            elif methods or api is matched.api:
                origin = _header(request.headers, "Origin")
                requested = _header(request.headers, "Access-Control-Request-Method")
                if is_preflight("OPTIONS", origin, requested):
                    allow_origin = http_allowed_origin(api.cors, origin)
                    return ProxyResponse(
                        204, http_preflight(api.cors, allow_origin) if allow_origin else [], b""
                    )
        return None

    def _authorize_preflight(
        self, request: IncomingRequest, matched: "Matched", ids: RequestIds
    ) -> ProxyResponse | None:
        """SAM's OPTIONS method carries the API's DefaultAuthorizer and ApiKeyRequired (unless
        Auth turns that off), so API Gateway checks them on a preflight too."""
        api = matched.api
        authorizer = api.default_authorizer if api.preflight_authorizer else None
        key_required = api.api_key_required and api.preflight_api_key
        if authorizer is None and not key_required:
            return None
        path = matched.resource_request_path
        options = Route(
            "OPTIONS", path, "", api.logical_id, authorizer=authorizer, api_key_required=key_required
        )
        context = ApiContext(self.app.account_id, api.api_id, self.app.region, api.stage)
        request = replace(request, path=matched.unstaged(request.path))
        event = build_event(request, api=context, resource_path=path, path_parameters={}, ids=ids)
        return self._authorize(api, options, event, context, None)

    def _authorize(
        self,
        api: ApiSpec,
        route: Route,
        event: dict[str, Any],
        context: ApiContext,
        trace: TraceHeader | None,
    ) -> ProxyResponse | None:
        """The Lambda authorizer, then the API key: a refusal, or None (event updated)."""
        if route.authorizer is not None:
            authorizer = api.authorizers[route.authorizer]
            path = event.get("path") or "/"
            arn = method_arn(
                context.region, context.account_id, api.api_id, api.stage, event["httpMethod"], path
            )

            refusal = self._run_authorizer(
                authorizer,
                lambda invoke: authorize(authorizer, event, arn, invoke),
                CONFIGURATION_ERROR,
                event,
                trace,
            )
            if refusal is not None:
                return refusal
        if route.api_key_required:
            key = _header_in(event.get("headers"), "x-api-key")
            if not key or (self.app.api_keys and key not in self.app.api_keys):
                return _error(403, "Forbidden")
            event["requestContext"]["identity"]["apiKey"] = key
        return None

    def _run_authorizer(
        self,
        authorizer: AuthorizerSpec,
        decide: Callable[[Invoke], Decision],
        failed: tuple[int, dict[str, Any]],
        event: dict[str, Any],
        trace: TraceHeader | None,
    ) -> ProxyResponse | None:
        """Run a Lambda authorizer of either API kind (`decide` builds its event and reads its
        answer): its refusal as the answer, or None with what it allows put in `event`."""

        def invoke(function: str, payload: bytes) -> tuple[str, bytes]:
            result = self.invoker.invoke(function, payload, trace)
            return result.outcome, result.payload

        try:
            decision = decide(invoke)
        except Exception as error:  # the Lambda side failed to invoke at all
            decision = Decision(failed, reason=f"invoke failed: {error!r}")
        if decision.refusal is not None:
            if self.log:
                self.log(f"authorizer {authorizer.name}: {decision.reason}")
            status, body = decision.refusal
            return ProxyResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())
        event["requestContext"]["authorizer"] = decision.context
        return None

    def _forwarded_headers(
        self, request: IncomingRequest, trace: TraceHeader | None
    ) -> list[tuple[str, str]]:
        """The headers API Gateway adds (or overwrites) before passing the request on."""
        ours = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
        headers = [(name, value) for name, value in request.headers if name.lower() not in ours]
        forwarded_for = _header(request.headers, "X-Forwarded-For")
        client_chain = f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip
        headers += [
            ("X-Forwarded-For", client_chain),
            ("X-Forwarded-Port", str(self.port)),
            ("X-Forwarded-Proto", "http"),
        ]
        if trace is not None:
            headers.append(("X-Amzn-Trace-Id", trace.to_header()))
        return headers


@dataclass(frozen=True)
class Matched:
    """The API and route a request landed on (route None: no route; api answers the error)."""

    api: ApiSpec
    route: Route | None
    path_parameters: dict[str, str]
    resource_request_path: str  # the path without the stage, percent-decoded
    staged: bool = False  # the request named the API's stage (`/Prod/hello`)

    def unstaged(self, raw_path: str) -> str:
        """`raw_path` (percent-encoded, as sent) without the stage the request named."""
        if not self.staged:
            return raw_path
        return raw_path[len(self.api.stage_prefix) :] or "/"


def _identified(response: ProxyResponse, api: ApiSpec, ids: RequestIds) -> ProxyResponse:
    """An HTTP API names the request in `apigw-requestid` (a REST API's headers are added in _send)."""
    if api.kind != "HTTP":
        return response
    return replace(response, headers=[*response.headers, ("Apigw-Requestid", ids.extended_request_id)])


def _integration_failure(api: ApiSpec) -> ProxyResponse:
    # REST APIs answer a failed Lambda proxy integration 502; HTTP APIs 500.
    return (
        _error(502, "Internal server error") if api.kind == "REST" else _error(500, "Internal Server Error")
    )


def _map(
    result: InvokeOutcome,
    log: Callable[[str], None] | None,
    function: FunctionSpec,
    api: ApiSpec,
    route: Route,
    accept: str | None,
) -> ProxyResponse:
    if result.outcome != "success":
        # An unhandled error, a timeout or a crashed runtime: API Gateway only says 502. The
        # function's own log tells why it failed; when Lambda refused the call before the
        # function ran (too large, throttled), only this log can, as API Gateway's execution log does.
        if log and result.status_code != 200:
            log(
                f"{function.function_name}: Lambda invocation failed with status: {result.status_code}: "
                f"{_invoke_error(result.payload)}"
            )
        return _integration_failure(api)
    try:
        if api.kind == "HTTP" and route.payload_format == "2.0":
            return parse_result_v2(result.payload)
        if api.kind == "HTTP":
            return parse_result(result.payload)
        return parse_result(result.payload, decode_base64=rest_decodes_result(accept, api.binary_media_types))
    except MalformedResult as error:
        if log:
            log(f"{function.function_name}: malformed Lambda proxy response: {error}")
        return _integration_failure(api)


def _invoke_error(payload: bytes) -> str:
    """`ErrorType: message` from Lambda's error document."""
    try:
        document = json.loads(payload)
        return f"{document['errorType']}: {document['errorMessage']}"
    except (ValueError, TypeError, KeyError):
        return payload[:200].decode("utf-8", "replace")


def _error(status: int, message: str) -> ProxyResponse:
    headers = [("Content-Type", "application/json")]
    if message == "Missing Authentication Token":
        headers.append(("x-amzn-ErrorType", "MissingAuthenticationTokenException"))
    return ProxyResponse(status, headers, json.dumps({"message": message}).encode())


# How API Gateway answers a refused connection or Host, in its own JSON shape.
TOO_MANY_CONNECTIONS = _error(429, "Too Many Requests")
FORBIDDEN_HOST = _error(403, "Forbidden")


def _header_in(headers: Any, name: str) -> str | None:
    """A header of an event's `headers` map, whatever its case."""
    if not isinstance(headers, dict):
        return None
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers if key.lower() == lowered), None)


class _Server(PromptShutdownServer):
    """Remembers its open connections: a stopped gateway must not keep serving keep-alive clients.
    Stops at once (PromptShutdownServer)."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            full = len(self.connections) >= self.max_connections
            if not full:
                self.connections.add(request)
        if full:
            _refuse_connection(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _refuse_connection(connection: socket.socket) -> None:
    """Answer 429 on a connection over the cap and close it, without a thread of its own: on
    the accepting thread, so nothing here may block for long."""
    response = TOO_MANY_CONNECTIONS
    head = (
        f"HTTP/1.1 {response.status} Too Many Requests\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        connection.setblocking(False)
        # Whatever the client already sent is read first: closing with unread bytes would
        # reset the connection, and the client might lose the answer.
        with contextlib.suppress(BlockingIOError):
            connection.recv(65536)
        connection.send(head.encode("ascii") + response.body)
        connection.shutdown(socket.SHUT_WR)
    connection.close()


class _Handler(BaseHTTPRequestHandler):
    gateway: Gateway  # set on the per-gateway subclass
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY: small responses go out at once
    timeout = IDLE_TIMEOUT

    def version_string(self) -> str:
        return "emulator-apigateway"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the access log line is written in _serve, with the status and latency

    def _serve(self) -> None:
        started = time.monotonic()
        gateway = self.gateway
        hosts = self.headers.get_all("Host") or []
        if not all(is_loopback_host(host) for host in hosts):
            # Not read: the body is left in the socket, so the connection cannot go on.
            self.close_connection = True
            if gateway.log:
                gateway.log(f"refused: Host {hosts[0][:100]!r} is not a loopback name")
            self._send_refusal(FORBIDDEN_HOST, started)
            return
        path, _, query = self.path.partition("?")
        if path.startswith(("http://", "https://")):  # absolute-form request target
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        headers = list(self.headers.items())
        try:
            body = read_body(self.rfile, headers, MAX_PAYLOAD)
        except BodyTooLarge:
            self.close_connection = True  # the rest of the body is never read
            self._send_refusal(_error(413, "Request Too Long"), started)
            return
        except BadFraming as error:
            self.close_connection = True  # where this body ends, and the next request starts, is unknown
            self._send_refusal(_error(400, error.reason), started)
            return
        request = IncomingRequest(
            method=self.command,
            path=path,
            query=query,
            headers=headers,
            body=body,
            source_ip=self.client_address[0],
        )
        host = self.headers.get("Host") or f"{gateway._address[0]}:{gateway.port}"
        response, ids, trace = gateway.handle(request, f"http://{host}{self.path}")
        self._send(response, ids, trace)
        self._log_access(response.status, started)

    def _send_refusal(self, response: ProxyResponse, started: float) -> None:
        """Answer a request refused before it reached a route: its body could not be read."""
        self._send(response, RequestIds(), None)
        self._log_access(response.status, started)

    def _log_access(self, status: int, started: float) -> None:
        if self.gateway.log:
            elapsed = (time.monotonic() - started) * 1000
            self.gateway.log(f"{self.command} {self.path} -> {status} ({elapsed:.0f} ms)")

    def _send(self, response: ProxyResponse, ids: RequestIds, trace: str | None) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                # send_header writes Latin-1; a value beyond it goes out as its UTF-8 bytes.
                self.send_header(name, value.encode("utf-8").decode("latin-1"))
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        if "apigw-requestid" not in names:  # a REST API's (or a refusal's) ids
            self.send_header("x-amzn-RequestId", ids.request_id)
            self.send_header("x-amz-apigw-id", ids.extended_request_id)
        if trace is not None:
            self.send_header("X-Amzn-Trace-Id", trace)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            # A request line without a version: HTTP/0.9 has no status line and no headers,
            # so nothing could tell the client what happened. Refused, in HTTP/1.1.
            self.send_error(400, "Bad request syntax")
            return False
        # http.client's header parser stops at a line it cannot read ("Transfer-Encoding :
        # chunked", "no colon") and silently keeps the rest as "payload": that header, and the
        # framing it announces, would be lost. A folded line (obs-fold) would carry its CRLF on.
        if self.headers.defects or self.headers.get_payload():
            self.send_error(400, "Invalid header field")
            return False
        if any("\r" in value or "\n" in value for value in self.headers.values()):
            self.send_error(400, "Folded header fields (obs-fold) are not accepted")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a request line or header section it cannot read, an
        unknown method), in API Gateway's JSON shape, as HTTP/1.1, and then closed.

        It would write an HTML page, with no status line at all when it could not read the
        request line's version. An unknown method answers like a method the API does not have;
        a version other than 1.x is a bad request, not a server error.
        """
        self.request_version = self.protocol_version  # always a status line
        self.close_connection = True
        if code == 501:
            response = _error(403, "Missing Authentication Token")
        elif code >= 500:
            response = _error(400, "Bad Request")
        else:
            response = _error(code, (message or "Bad Request")[:200])
        self.command = getattr(self, "command", None) or ""
        self.path = getattr(self, "path", "")
        with contextlib.suppress(OSError):
            self._send_refusal(response, time.monotonic())

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve
