"""HTTP APIs and explicit REST APIs (tests/api_app/), through `sam build` and the real stack.

The expected answers are API Gateway's documented ones: payload format 2.0 and 1.0 events,
$default routes, 404 "Not Found" from an HTTP API, CORS as each API kind answers it,
binaryMediaTypes, stageVariables, API keys and Lambda authorizers.
"""

import base64
import io
import json
import re

import pytest
from rich.console import Console

from emulator.cli import print_banner
from tests.stack_helpers import RunningStack, request, running_stack

pytestmark = pytest.mark.slow

ORIGIN = "https://app.example.com"
API_KEY = "local-test-key-0123456789"
PNG = b"\x89PNG\r\n\x1a\n\x00binary"


@pytest.fixture(scope="module")
def stack(api_app_template, lambda_runtime_dir):
    with running_stack(api_app_template, lambda_runtime_dir) as running:
        yield running


def trace_root(header: str) -> str:
    found = re.search(r"Root=([^;]+)", header)
    assert found is not None, header
    return found.group(1)


def echoed(stack: RunningStack, method: str, path: str, **kwargs) -> dict:
    response = request(method, stack.url + path, **kwargs)
    assert response.status == 200, response.body
    return response.json()["event"]


# -- HTTP APIs ---------------------------------------------------------------------------


def test_implicit_http_api_sends_a_payload_2_event(stack):
    event = echoed(
        stack,
        "GET",
        "/http/items/a%20b?a=1&a=2&b=",
        headers={"Cookie": "c1=1; c2=2", "X-Dup": "x", "User-Agent": "pytest-agent"},
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /http/items/{id}"
    assert event["rawPath"] == "/http/items/a%20b"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"id": "a b"}
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["x-dup"] == "x" and "cookie" not in event["headers"]
    assert "multiValueHeaders" not in event and "stageVariables" not in event and "body" not in event
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    api_id = stack.app.apis["ServerlessHttpApi"].api_id
    assert context["apiId"] == api_id and context["stage"] == "$default"
    assert context["domainName"] == f"{api_id}.execute-api.{stack.app.region}.amazonaws.com"
    assert context["routeKey"] == "GET /http/items/{id}"
    assert context["http"] == {
        "method": "GET",
        "path": "/http/items/a b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest-agent",
    }
    assert isinstance(context["timeEpoch"], int) and re.fullmatch(r"\d\d/\w{3}/\d{4}:.*", context["time"])


def test_http_api_greedy_path_any_method_and_request_id_header(stack):
    response = request("DELETE", stack.url + "/http/files/a/b/c.txt")
    event = response.json()["event"]
    assert event["routeKey"] == "ANY /http/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["requestContext"]["http"]["method"] == "DELETE"
    assert response.required_header("apigw-requestid") == event["requestContext"]["requestId"]


def test_http_api_payload_format_1_0(stack):
    event = echoed(
        stack, "POST", "/http/v1?x=1&x=2", body=b'{"k": 1}', headers={"Content-Type": "application/json"}
    )
    assert event["version"] == "1.0"
    assert event["httpMethod"] == "POST" and event["resource"] == "/http/v1"
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": 1}', False)


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [
        ("application/json", False),
        ("text/plain", False),
        ("application/octet-stream", True),
        ("image/png", True),
    ],
)
def test_http_api_infers_base64_from_the_content_type(stack, content_type, encoded):
    body = b'{"a": 1}' if not encoded else bytes(range(256))
    event = echoed(stack, "POST", "/http/files/upload", body=body, headers={"Content-Type": content_type})
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == body


def test_explicit_http_api_stage_variables_and_default_route(stack):
    event = echoed(stack, "GET", "/dev/names/joe")
    assert event["routeKey"] == "GET /names/{name}" and event["pathParameters"] == {"name": "joe"}
    assert event["rawPath"] == "/dev/names/joe"
    assert event["requestContext"]["stage"] == "dev"
    assert event["stageVariables"] == {"color": "blue"}
    caught = echoed(stack, "PATCH", "/dev/anything/at/all")
    assert caught["routeKey"] == "$default" and caught["requestContext"]["routeKey"] == "$default"
    assert "pathParameters" not in caught
    # Without the stage (sam local's URLs) the named route answers; its $default stays under /dev.
    assert echoed(stack, "GET", "/names/ann")["routeKey"] == "GET /names/{name}"


def test_http_api_without_a_route_answers_404_not_found(stack):
    response = request("GET", stack.url + "/no/such/route")
    assert (response.status, response.json()) == (404, {"message": "Not Found"})


@pytest.mark.parametrize(
    ("shape", "status", "content_type", "body"),
    [
        ("plain", 200, "application/json", b'{"hello": "world"}'),
        ("string", 200, "application/json", b"just text"),
        ("binary", 200, "image/png", PNG),
        ("cookies", 201, "application/json", b"with cookies"),
    ],
)
def test_http_api_payload_2_results(stack, shape, status, content_type, body):
    response = request("GET", stack.url + f"/shapes/{shape}")
    assert (response.status, response.body) == (status, body)
    assert response.header("Content-Type") == content_type
    if shape == "cookies":
        assert response.header_values("set-cookie") == ["a=1; Path=/", "b=2"]


def test_http_api_cors_preflight_is_answered_by_the_api(stack):
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    response = request("OPTIONS", stack.url + "/dev/names/joe", headers=headers)
    assert response.status == 204 and response.body == b""
    assert response.header("Access-Control-Allow-Origin") == ORIGIN
    assert response.header("Access-Control-Allow-Methods") == "GET,POST"
    assert response.header("Access-Control-Allow-Headers") == "content-type"
    assert response.header("Access-Control-Max-Age") == "600"


def test_http_api_cors_does_not_answer_another_origin(stack):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    preflight = request("OPTIONS", stack.url + "/dev/names/joe", headers=headers)
    assert preflight.status == 204
    assert not [name for name, _ in preflight.headers if name.lower().startswith("access-control-")]
    plain = request("GET", stack.url + "/dev/names/joe", headers={"Origin": "https://evil.example"})
    assert plain.status == 200 and plain.header("Access-Control-Allow-Origin") is None


def test_http_api_cors_headers_on_the_integration_answer(stack):
    response = request("GET", stack.url + "/dev/names/joe", headers={"Origin": ORIGIN})
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") == ORIGIN
    assert response.header("Access-Control-Expose-Headers") == "x-echo"


def test_http_api_writes_no_stage_segment_and_lambda_starts_the_trace(stack):
    event = echoed(stack, "GET", "/http/items/traced")
    root = trace_root(event["headers"]["x-amzn-trace-id"])
    service = stack.collector.for_trace(root, origin="AWS::Lambda")
    assert service, "the Active function records the request"
    assert "parent_id" not in service[0]
    assert stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage", timeout=0.5) == []


# -- explicit REST APIs ------------------------------------------------------------------


def test_explicit_rest_api_stage_and_stage_variables(stack):
    response = request("GET", stack.url + "/live/rest/7")
    event = response.json()["event"]
    assert event["resource"] == "/rest/{id}" and event["path"] == "/rest/7"
    assert event["requestContext"]["stage"] == "live" and event["requestContext"]["path"] == "/live/rest/7"
    assert event["requestContext"]["apiId"] == stack.app.apis["RestApi"].api_id
    assert event["stageVariables"] == {"table": "items-live"}
    assert response.header("apigw-requestid") is None and response.header("x-amzn-RequestId")


def test_explicit_rest_api_stage_segment(stack):
    response = request("GET", stack.url + "/live/rest/traced")
    root = trace_root(response.required_header("X-Amzn-Trace-Id"))
    (stage,) = stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage")
    api = stack.app.apis["RestApi"]
    assert stage["name"] == f"{stack.app.stack_name}/live"
    assert stage["aws"]["api_gateway"]["rest_api_id"] == api.api_id
    assert stage["resource_arn"].endswith(f"/restapis/{api.api_id}/stages/live")


def test_rest_api_unknown_route_is_403_missing_authentication_token(stack):
    response = request("GET", stack.url + "/live/nothing-here")
    assert (response.status, response.json()) == (403, {"message": "Missing Authentication Token"})


def test_rest_api_cors_preflight_is_sams_mock_answer(stack):
    any_path = request("OPTIONS", stack.url + "/live/rest/1", headers={"Origin": "https://elsewhere.example"})
    assert any_path.status == 200
    # The configured origin, whatever the request's.
    assert any_path.header("Access-Control-Allow-Origin") == ORIGIN
    assert any_path.header("Access-Control-Allow-Methods") == "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
    assert any_path.header("Access-Control-Allow-Headers") == "Content-Type,X-Api-Key,Authorization"
    assert any_path.header("Access-Control-Max-Age") == "300"
    get_path = request("OPTIONS", stack.url + "/live/keyed")
    assert (get_path.status, get_path.header("Access-Control-Allow-Methods")) == (200, "GET,OPTIONS")
    # An answer from the function carries only what the function sets.
    assert request("GET", stack.url + "/live/rest/1").header("Access-Control-Allow-Origin") is None


def test_rest_api_base64_encodes_only_its_binary_media_types(stack):
    png = echoed(stack, "POST", "/live/rest/1", body=PNG, headers={"Content-Type": "image/png"})
    assert png["isBase64Encoded"] is True and base64.b64decode(png["body"]) == PNG
    octets = echoed(
        stack, "POST", "/live/rest/1", body=b"abc", headers={"Content-Type": "application/octet-stream"}
    )
    assert (octets["body"], octets["isBase64Encoded"]) == ("abc", False)


def test_rest_api_decodes_a_base64_result_only_for_an_accept_type_it_declares(stack):
    binary = request("GET", stack.url + "/live/image", headers={"Accept": "image/png"})
    assert (binary.status, binary.body) == (200, PNG)
    text = request("GET", stack.url + "/live/image", headers={"Accept": "*/*"})
    assert (text.status, text.body) == (200, base64.b64encode(PNG))


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_api_key_required_refuses_without_the_key(stack, key):
    headers = {"x-api-key": key} if key else {}
    response = request("GET", stack.url + "/live/keyed", headers=headers)
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


def test_api_key_required_takes_the_templates_key(stack):
    event = echoed(stack, "GET", "/live/keyed", headers={"x-api-key": API_KEY})
    assert event["requestContext"]["identity"]["apiKey"] == API_KEY


def test_token_authorizer_allows_and_passes_its_context(stack):
    event = echoed(stack, "GET", "/live/token", headers={"Authorization": "allow"})
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-allow"
    # Context values reach the function as strings: the authorizer returned the number 3.
    assert (authorizer["user"], authorizer["type"], authorizer["level"]) == ("allow", "TOKEN", "3")


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        (None, 401, {"message": "Unauthorized"}),
        ("unauthorized", 401, {"message": "Unauthorized"}),
        ("deny", 403, {"Message": "User is not authorized to access this resource with an explicit deny"}),
        ("someone", 403, {"Message": "User is not authorized to access this resource"}),
    ],
)
def test_token_authorizer_refusals(stack, token, status, body):
    headers = {"Authorization": token} if token else {}
    response = request("GET", stack.url + "/live/token", headers=headers)
    assert (response.status, response.json()) == (status, body)


def test_request_authorizer_needs_every_identity_source(stack):
    missing = request("GET", stack.url + "/live/request?tenant=t1")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    event = echoed(stack, "GET", "/live/request?tenant=t1", headers={"X-User": "alice"})
    assert event["requestContext"]["authorizer"]["principalId"] == "user-alice"
    assert event["requestContext"]["authorizer"]["type"] == "REQUEST"


def http_route_arn(stack, method: str, path: str) -> str:
    api_id = stack.app.apis["StagedHttpApi"].api_id
    return f"arn:aws:execute-api:ap-northeast-1:123456789012:{api_id}/dev/{method}{path}"


def test_http_api_simple_response_authorizer(stack):
    missing = request("GET", stack.url + "/dev/guarded/simple")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    refused = request("GET", stack.url + "/dev/guarded/simple", headers={"X-User": "bob"})
    assert (refused.status, refused.json()) == (403, {"message": "Forbidden"})
    event = echoed(stack, "GET", "/dev/guarded/simple", headers={"X-User": "alice"})
    granted = event["requestContext"]["authorizer"]["lambda"]
    assert (granted["user"], granted["level"]) == ("alice", "3")
    seen = json.loads(granted["seen"])
    assert seen == {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": http_route_arn(stack, "GET", "/guarded/simple"),
        "identitySource": ["alice"],
        "routeKey": "GET /guarded/simple",
        "methodArn": None,
        "authorizationToken": None,
        "body": None,  # an authorizer never gets the body
    }


def test_http_api_policy_authorizer_with_payload_1_0(stack):
    query = "/dev/guarded/policy?tenant=t1"
    missing = request("POST", stack.url + "/dev/guarded/policy", headers={"X-User": "alice"}, body=b"{}")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    denied = request("POST", stack.url + query, headers={"X-User": "bob"}, body=b"{}")
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    failed = request("POST", stack.url + query, headers={"X-User": "crash"}, body=b"{}")
    assert (failed.status, failed.json()) == (500, {"message": "Internal Server Error"})
    event = echoed(stack, "POST", query, headers={"X-User": "alice"}, body=b'{"order": 1}')
    assert event["version"] == "1.0" and event["body"] == '{"order": 1}'
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-alice" and authorizer["lambda"]["user"] == "alice"
    seen = json.loads(authorizer["lambda"]["seen"])
    assert (seen["version"], seen["type"]) == ("1.0", "REQUEST")
    assert seen["methodArn"] == http_route_arn(stack, "POST", "/guarded/policy")
    assert seen["identitySource"] == seen["authorizationToken"] == "alice,t1"
    assert seen["body"] is None


def test_http_api_jwt_authorizer_is_named_and_its_route_served(stack):
    jwt = "StagedHttpApi.Auth.Authorizers.JwtAuthorizer"
    assert f"{jwt} (a JWT authorizer: its routes are served without it locally)" in stack.app.ignored
    echoed(stack, "GET", "/dev/guarded/jwt")


def test_definition_body_aws_proxy_route(stack):
    event = echoed(stack, "GET", "/spec/from-spec/3")
    assert event["resource"] == "/from-spec/{id}" and event["pathParameters"] == {"id": "3"}
    assert event["requestContext"]["stage"] == "spec"


def test_what_is_not_emulated_is_listed(stack):
    assert "RestApi.EndpointConfiguration" in stack.app.ignored
    assert any(item.startswith("SpecApi.DefinitionBody.paths./mocked.get") for item in stack.app.ignored)
    # ... and said at start-up, one line each.
    assert ("api", "ignored locally: RestApi.EndpointConfiguration") in stack.logs


def test_banner_lists_every_api_with_its_stage_and_routes(stack):
    out = io.StringIO()
    print_banner(stack.stack, Console(file=out, width=300, color_system=None))
    text = out.getvalue()
    assert "REST API RestApi, stage live:" in text
    assert "HTTP API ServerlessHttpApi, stage $default:" in text
    assert "HTTP API StagedHttpApi, stage dev:" in text
    assert f"GET     {stack.url}/live/rest/{{id}}" not in text  # ANY, not GET
    assert f"ANY     {stack.url}/live/rest/{{id}}" in text
    assert f"ANY     {stack.url}/dev/  $default" in text
    assert f"POST    {stack.url}/http/v1  (payload 1.0)" in text
    assert f"GET     {stack.url}/spec/from-spec/{{id}}" in text
    # Not the tutorial: a curl line per route to start from, path parameters filled in.
    assert "Try the tutorial" not in text
    try_lines = text.split("Try it:\n")[1].split("\n\n")[0].splitlines()
    assert 0 < len(try_lines) <= 6
    for line in try_lines:
        assert line.startswith("  curl ") and stack.url in line, line
        assert not re.search(r"\{[A-Za-z]", line), line  # no {id} left in a URL
