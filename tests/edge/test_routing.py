"""emulator.edge.routing: the service a request is signed for, and where it goes."""

import pytest

from emulator.edge.routing import Unrouted, route, signed_service

UPSTREAMS: dict[str, str | None] = {
    "dynamodb": "http://127.0.0.1:5000",
    "logs": "http://127.0.0.1:5000",
    "xray": None,  # segments go to a daemon the stack did not start
    "lambda": "http://127.0.0.1:3001",
}


def authorization(scope: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=testing/{scope}, SignedHeaders=host;x-amz-date, Signature=ab"


@pytest.mark.parametrize("service", ["dynamodb", "logs", "xray", "lambda", "sqs"])
def test_the_service_is_the_credential_scopes(service: str) -> None:
    assert signed_service(authorization(f"20260101/us-east-1/{service}/aws4_request"), "/") == service


def test_a_presigned_url_names_it_in_the_query() -> None:
    target = "/?X-Amz-Credential=testing%2F20260101%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Signature=ab"
    assert signed_service(None, target) == "lambda"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "AWS testing:signature",  # SigV2
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
        authorization("20260101/us-east-1/dynamodb"),  # no aws4_request
        authorization("20260101/us-east-1//aws4_request"),
    ],
)
def test_no_sigv4_scope_is_not_signed(header: str | None) -> None:
    assert signed_service(header, "/") is None


def test_routes() -> None:
    assert route("logs", UPSTREAMS) == "http://127.0.0.1:5000"
    assert route("lambda", UPSTREAMS) == "http://127.0.0.1:3001"


@pytest.mark.parametrize(
    ("service", "words"),
    [
        (None, "not signed"),
        ("xray", "not running in this stack"),
        ("s3", "not emulated"),
    ],
)
def test_what_cannot_be_routed_says_why_and_what_is_served(service: str | None, words: str) -> None:
    unrouted = route(service, UPSTREAMS)
    assert isinstance(unrouted, Unrouted) and 400 <= unrouted.status < 500
    assert words in unrouted.message
    assert "dynamodb, logs, lambda" in unrouted.message
