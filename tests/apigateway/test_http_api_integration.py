"""emulator.apigateway.http_api_integration: the payload 2.0 event, and 2.0 results mapped back."""

import base64
import json

import pytest

from emulator.apigateway.http_api_integration import build_event_v2, parse_result_v2
from emulator.apigateway.proxy_integration import ApiContext, IncomingRequest, MalformedResult, RequestIds

API = ApiContext(account_id="123456789012", api_id="abcdefghij", region="ap-northeast-1", stage="$default")


def event_for(**overrides) -> dict:
    request = IncomingRequest(
        **{
            "method": "GET",
            "path": "/my/path",
            "query": "",
            "headers": [("Host", "127.0.0.1:3000"), ("User-Agent", "curl/8")],
            "body": b"",
            "source_ip": "127.0.0.1",
            **overrides,
        }
    )
    return build_event_v2(
        request,
        api=API,
        route_key="$default",
        raw_path=request.path,
        path_parameters={},
        ids=RequestIds(request_id="rid", extended_request_id="ext=", epoch_ms=1583348638390),
        binary=False,
        stage_variables={},
    )


def test_minimal_event_leaves_empty_fields_out():
    event = event_for()
    assert list(event) == ["version", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext",
                           "isBase64Encoded"]  # fmt: skip
    assert event["requestContext"]["time"] == "04/Mar/2020:19:03:58 +0000"
    assert event["requestContext"]["timeEpoch"] == 1583348638390


def test_repeated_headers_and_query_parameters_are_joined_with_commas():
    event = event_for(
        query="p=1&p=2&q=x", headers=[("X-A", "1"), ("x-a", "2"), ("Cookie", "a=1; b=2"), ("Cookie", "c=3")]
    )
    assert event["headers"] == {"x-a": "1,2"}
    assert event["queryStringParameters"] == {"p": "1,2", "q": "x"}
    assert event["cookies"] == ["a=1", "b=2", "c=3"]


def test_result_without_status_code_is_a_200_json_answer():
    response = parse_result_v2(json.dumps({"a": 1}).encode())
    assert (response.status, response.headers, response.body) == (
        200,
        [("content-type", "application/json")],
        b'{"a": 1}',
    )
    assert parse_result_v2(b'"text"').body == b"text"


def test_result_with_cookies_headers_and_base64_body():
    payload = {
        "statusCode": 302,
        "headers": {"Location": "/next"},
        "cookies": ["k=v"],
        "body": base64.b64encode(b"\x00").decode(),
        "isBase64Encoded": True,
    }
    response = parse_result_v2(json.dumps(payload).encode())
    assert response.status == 302
    assert response.headers == [("Location", "/next"), ("set-cookie", "k=v")]
    assert response.body == b"\x00"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"statusCode": 200, "headers": {"Bad Name": "x"}}',
        b'{"statusCode": 200, "cookies": "k=v"}',
        b'{"statusCode": 200, "body": "!!", "isBase64Encoded": true}',
        b'{"statusCode": 200, "headers": {"X": "a\\r\\nb"}}',
    ],
)
def test_malformed_results_are_refused(payload):
    with pytest.raises(MalformedResult):
        parse_result_v2(payload)
