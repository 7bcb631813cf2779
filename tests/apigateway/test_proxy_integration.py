"""emulator.apigateway.proxy_integration: the REST proxy event from a request, the result mapped back."""

import base64
import json
import re

import pytest

from emulator.apigateway.proxy_integration import (
    ApiContext,
    IncomingRequest,
    MalformedResult,
    RequestIds,
    build_event,
    parse_result,
    request_time,
)

API = ApiContext(account_id="123456789012", api_id="abcdefghij", region="ap-northeast-1", stage="Prod")


def event_for(binary: bool = False, stage_variables: dict | None = None, **overrides) -> dict:
    request = IncomingRequest(
        **{
            "method": "GET",
            "path": "/items/42",
            "query": "",
            "headers": [("Host", "127.0.0.1:3000"), ("User-Agent", "curl/8")],
            "body": b"",
            "source_ip": "127.0.0.1",
            **overrides,
        }
    )
    return build_event(
        request,
        api=API,
        resource_path="/items/{id}",
        path_parameters={"id": "42"},
        ids=RequestIds(request_id="rid", extended_request_id="ext=", epoch_ms=1583349317135),
        binary=binary,
        stage_variables=stage_variables,
    )


def test_event_has_every_documented_field():
    event = event_for()
    assert set(event) == {
        "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext",
        "body", "isBase64Encoded",
    }  # fmt: skip
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/items/{id}", "/items/42", "GET")
    assert event["pathParameters"] == {"id": "42"}
    # API Gateway sends null, not {}, when there is nothing.
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context == {
        "accountId": "123456789012",
        "apiId": "abcdefghij",
        "domainName": "abcdefghij.execute-api.ap-northeast-1.amazonaws.com",
        "domainPrefix": "abcdefghij",
        "extendedRequestId": "ext=",
        "httpMethod": "GET",
        "identity": {
            "accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
            "principalOrgId": None, "sourceIp": "127.0.0.1", "user": None, "userAgent": "curl/8",
            "userArn": None,
        },
        "path": "/Prod/items/42",
        "protocol": "HTTP/1.1",
        "requestId": "rid",
        "requestTime": "04/Mar/2020:19:15:17 +0000",
        "requestTimeEpoch": 1583349317135,
        "resourceId": context["resourceId"],
        "resourcePath": "/items/{id}",
        "stage": "Prod",
    }  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{6}", context["resourceId"])


def test_query_and_headers_single_keeps_last_multi_keeps_all():
    event = event_for(query="a=1&a=2&b=x%20y&empty=", headers=[("X-Dup", "one"), ("X-Dup", "two")])
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "empty": [""]}
    assert event["headers"] == {"X-Dup": "two"}
    assert event["multiValueHeaders"] == {"X-Dup": ["one", "two"]}


def test_body_is_base64_only_when_the_caller_says_the_api_treats_it_as_binary():
    # Which bodies are binary is the API's binaryMediaTypes (media_types.py), not a guess here.
    text = event_for(method="POST", headers=[("Content-Type", "image/png")], body=b"\x89PNG")
    assert (text["body"], text["isBase64Encoded"]) == ("\ufffdPNG", False)
    binary = event_for(method="POST", headers=[("Content-Type", "image/png")], body=b"\x89PNG", binary=True)
    assert (binary["body"], binary["isBase64Encoded"]) == (base64.b64encode(b"\x89PNG").decode(), True)


def test_stage_variables_reach_the_event():
    assert event_for()["stageVariables"] is None
    assert event_for(stage_variables={"env": "dev"})["stageVariables"] == {"env": "dev"}


def test_base64_result_is_passed_as_text_when_the_api_would_not_convert_it():
    payload = result(statusCode=200, body=base64.b64encode(b"\x00\x01").decode(), isBase64Encoded=True)
    assert parse_result(payload, decode_base64=False).body == b"AAE="


def test_request_time_uses_english_months_whatever_the_locale():
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"
    assert request_time(1702900800000) == "18/Dec/2023:12:00:00 +0000"


def result(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_result_headers_and_multi_value_headers_merge():
    response = parse_result(
        result(
            statusCode=201,
            headers={"X-One": "1", "Set-Cookie": "ignored", "X-Num": 5},
            multiValueHeaders={"set-cookie": ["a=1", "b=2"]},
            body="created",
        )
    )
    assert response.status == 201
    assert response.body == b"created"
    assert response.headers == [("X-One", "1"), ("X-Num", "5"), ("set-cookie", "a=1"), ("set-cookie", "b=2")]


def test_result_base64_body_is_decoded_and_status_string_accepted():
    response = parse_result(
        result(statusCode="200", body=base64.b64encode(b"\x00\x01").decode(), isBase64Encoded=True)
    )
    assert (response.status, response.body) == (200, b"\x00\x01")


def test_result_without_body_is_empty():
    assert parse_result(result(statusCode=204)).body == b""


@pytest.mark.parametrize(
    "payload",
    [
        b'"not a proxy result"',
        b"[1, 2]",
        b"not json",
        result(statusCode="abc", body=""),
        result(statusCode=True, body=""),
        result(statusCode=1000, body=""),
        result(body="no status"),
        result(statusCode=200, body={"not": "a string"}),
        result(statusCode=200, body="x", extra="unknown key"),
        result(statusCode=200, headers=["not", "a", "map"]),
        result(statusCode=200, multiValueHeaders={"X": "not a list"}),
        result(statusCode=200, headers={"X": {"nested": 1}}),
        result(statusCode=200, body="!!", isBase64Encoded=True),
        result(statusCode=200, body="x", isBase64Encoded="yes"),
    ],
)
def test_malformed_results_are_rejected(payload):
    with pytest.raises(MalformedResult):
        parse_result(payload)
