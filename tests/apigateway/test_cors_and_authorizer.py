"""emulator.apigateway.cors and .authorizer: the configured answers, and an authorizer's policy."""

import json

import pytest

from emulator.apigateway.authorizer import authorize, method_arn
from emulator.apigateway.cors import http_allowed_origin, http_response_headers, rest_preflight
from emulator.apigateway.http_authorizer import authorize_http
from emulator.app.model import AuthorizerSpec, CorsConfig

ARN = method_arn("ap-northeast-1", "123456789012", "abcdefghij", "live", "GET", "/pets/1")


def test_rest_preflight_methods_default_to_the_paths_methods():
    cors = CorsConfig(allow_origins=("*",))
    assert dict(rest_preflight(cors, {"GET", "POST"}))["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert "Access-Control-Max-Age" not in dict(rest_preflight(cors, {"GET"}))


def test_http_origin_is_the_configured_one_never_the_requests():
    cors = CorsConfig(allow_origins=("https://a.example",))
    assert http_allowed_origin(cors, "https://A.example/") == "https://a.example"
    assert http_allowed_origin(cors, "https://evil.example") is None
    assert http_allowed_origin(CorsConfig(allow_origins=("*",)), "https://any.example") == "*"


def test_http_cors_replaces_the_functions_own_cors_headers():
    cors = CorsConfig(allow_origins=("https://a.example",))
    headers = http_response_headers(cors, None, [("Access-Control-Allow-Origin", "*"), ("X", "1")])
    assert headers == [("X", "1")]


def policy(effect: str, resource: str = ARN, context: dict | None = None) -> bytes:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    answer = {"principalId": "me", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
    if context is not None:
        answer["context"] = context
    return json.dumps(answer).encode()


TOKEN = AuthorizerSpec("Auth", "AuthFn", "TOKEN")
EVENT = {"headers": {"authorization": "t0ken"}, "requestContext": {}}


def test_token_authorizer_gets_the_documented_event_and_its_allow_passes_context():
    seen = []

    def invoke(function, payload):
        seen.append((function, json.loads(payload)))
        return "success", policy("Allow", "arn:aws:execute-api:*:*:abcdefghij/live/GET/*", {"n": 1})

    decision = authorize(TOKEN, EVENT, ARN, invoke)
    assert decision.refusal is None
    assert seen == [("AuthFn", {"type": "TOKEN", "authorizationToken": "t0ken", "methodArn": ARN})]
    assert decision.context["principalId"] == "me" and decision.context["n"] == "1"


@pytest.mark.parametrize(
    ("outcome", "payload", "status"),
    [
        ("success", policy("Deny"), 403),
        ("success", policy("Allow", ARN.replace("GET", "POST")), 403),
        ("error", b'{"errorMessage": "Unauthorized", "errorType": "Exception"}', 401),
        ("error", b'{"errorMessage": "boom", "errorType": "Exception"}', 500),
        ("success", b'{"principalId": "me"}', 500),
        ("success", policy("Allow", context={"nested": {"no": 1}}), 500),
    ],
)
def test_authorizer_answers_decide(outcome, payload, status):
    decision = authorize(TOKEN, EVENT, ARN, lambda function, event: (outcome, payload))
    assert decision.refusal is not None and decision.refusal[0] == status


def test_missing_token_is_401_without_invoking():
    def invoke(function, payload):
        raise AssertionError("not invoked")

    decision = authorize(TOKEN, {"headers": {}}, ARN, invoke)
    assert decision.refusal == (401, {"message": "Unauthorized"})


HTTP_SIMPLE = AuthorizerSpec(
    "Simple",
    "AuthFn",
    "REQUEST",
    ("$request.header.X-User", "$request.querystring.tenant"),
    None,
    "2.0",
    True,
)
HTTP_EVENT = {"version": "2.0", "headers": {"x-user": "alice"}, "queryStringParameters": {"tenant": "t1"},
              "requestContext": {"http": {"method": "GET"}}, "body": "secret"}  # fmt: skip
HTTP_ARN = "arn:aws:execute-api:ap-northeast-1:123456789012:abcdefghij/$default/GET/pets"


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"isAuthorized": False}, 403),
        ({"isAuthorized": "yes"}, 500),  # not a boolean: a malformed answer
        ({"context": {}}, 500),
        ("not json", 500),
    ],
)
def test_http_simple_authorizer_refusals(answer, status):
    payload = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    decision = authorize_http(
        HTTP_SIMPLE, HTTP_EVENT, dict, HTTP_ARN, lambda function, event: ("success", payload)
    )
    assert decision.refusal is not None and decision.refusal[0] == status


def test_http_simple_authorizer_gets_the_identity_values_and_never_the_body():
    seen = []

    def invoke(function, payload):
        seen.append(json.loads(payload))
        return "success", json.dumps({"isAuthorized": True, "context": {"n": 1, "tags": ["a"]}}).encode()

    decision = authorize_http(HTTP_SIMPLE, HTTP_EVENT, dict, HTTP_ARN, invoke)
    assert decision.refusal is None
    assert decision.context == {"lambda": {"n": "1", "tags": ["a"]}}
    (event,) = seen
    assert event["identitySource"] == ["alice", "t1"] and event["routeArn"] == HTTP_ARN
    assert "body" not in event and event["type"] == "REQUEST"


def test_http_authorizer_is_not_invoked_without_every_identity_source():
    def invoke(function, payload):
        raise AssertionError("invoked")

    partial = {**HTTP_EVENT, "queryStringParameters": None}
    decision = authorize_http(HTTP_SIMPLE, partial, dict, HTTP_ARN, invoke)
    assert decision.refusal == (401, {"message": "Unauthorized"})
