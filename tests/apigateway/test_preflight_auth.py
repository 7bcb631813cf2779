"""A REST API's CORS preflight carries its DefaultAuthorizer and API-level ApiKeyRequired, as the
OPTIONS method SAM adds does (AddDefaultAuthorizerToCorsPreflight / AddApiKeyRequiredToCorsPreflight,
both true unless the template says otherwise). A gateway over a stand-in Lambda: no build needed."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.apigateway.gateway import Gateway
from emulator.app.model import ApiSpec, AppSpec, AuthorizerSpec, CorsConfig, FunctionSpec, Route
from tests.stack_helpers import request

ALLOW = {
    "principalId": "p",
    "policyDocument": {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]},
}


@dataclass
class Outcome:
    request_id: str
    outcome: str
    payload: bytes
    status_code: int = 200


class StandIn:
    """Authorizer calls allow when the token is `good`; the function answers 200."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def invoke(self, logical_id, event, trace):
        self.calls.append(logical_id)
        if logical_id == "Auth":
            token = json.loads(event).get("authorizationToken")
            if token != "good":
                return Outcome("r", "error", b'{"errorMessage": "Unauthorized", "errorType": "Exception"}')
            return Outcome("r", "success", json.dumps(ALLOW).encode())
        return Outcome("r", "success", b'{"statusCode": 200, "body": "ok"}')


def function(logical_id: str) -> FunctionSpec:
    return FunctionSpec(
        logical_id,
        f"sam-app-{logical_id}-X",
        "app.handler",
        "python3.11",
        Path("."),
        3,
        128,
        {},
        "PassThrough",
    )


def app(**api_options) -> AppSpec:
    api = ApiSpec(
        "A",
        "REST",
        "sam-app",
        "s",
        "abcdef0123",
        cors=CorsConfig(allow_origins=("https://a.example",)),
        **api_options,
    )
    routes = [
        Route(
            "GET", "/x", "Fn", "A", authorizer=api.default_authorizer, api_key_required=api.api_key_required
        )
    ]
    return AppSpec("sam-app", "ap-northeast-1", "123456789012", "Prod", "zzzzzzzzzz", False,
                   {"Fn": function("Fn"), "Auth": function("Auth")}, routes, [], apis={"A": api})  # fmt: skip


@pytest.fixture()
def serve():
    started = []

    def start(spec: AppSpec) -> Gateway:
        gateway = Gateway(spec, StandIn(), port=0)
        gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def test_api_level_key_is_required_on_the_preflight_too(serve):
    gateway = serve(app(api_key_required=True))
    assert request("OPTIONS", gateway.url + "/s/x").status == 403
    answered = request("OPTIONS", gateway.url + "/s/x", headers={"x-api-key": "any"})
    assert answered.status == 200 and answered.header("Access-Control-Allow-Origin") == "https://a.example"


def test_default_authorizer_runs_on_the_preflight_unless_turned_off(serve):
    authorizers = {"Tok": AuthorizerSpec("Tok", "Auth", "TOKEN")}
    guarded = serve(app(authorizers=authorizers, default_authorizer="Tok"))
    assert request("OPTIONS", guarded.url + "/s/x").status == 401
    assert request("OPTIONS", guarded.url + "/s/x", headers={"Authorization": "good"}).status == 200
    open_ = serve(app(authorizers=authorizers, default_authorizer="Tok", preflight_authorizer=False))
    assert request("OPTIONS", open_.url + "/s/x").status == 200
