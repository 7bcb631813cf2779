"""No web page reaches the local DynamoDB: not its tables, not moto's management endpoints."""

import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from emulator.dynamodb.service import DynamoDBService
from tests.dynamodb.test_durable_tables import TABLE, keys_in, put

SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261130/ap-northeast-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
    "Content-Type": "application/x-amz-json-1.0",
}


@pytest.fixture(scope="module")
def services():
    with DynamoDBService([TABLE], region="ap-northeast-1") as running:
        put(running, "kept")
        yield running


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def request(method: str, url: str, path: str = "/", body: str = "", **headers: str) -> Answer:
    """http.client, not an SDK: it sends exactly the headers a browser would."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(method, path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def scan(url: str, **headers: str) -> Answer:
    return request(
        "POST",
        url,
        body=json.dumps({"TableName": "Demo"}),
        **{**SIGNED, "X-Amz-Target": "DynamoDB_20120810.Scan", **headers},
    )


def test_the_sdk_way_in_still_works(services):
    answer = scan(services.endpoint_url)
    assert answer.status_code == 200 and answer.json()["Count"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": "evil.example"},  # DNS rebinding: the attacker's name, re-pointed at 127.0.0.1
        {"Host": "127.0.0.1.evil.example:5000"},
    ],
)
def test_a_browser_request_is_refused_with_no_cors_header(services, headers):
    answer = scan(services.endpoint_url, **headers)
    assert answer.status_code == 403
    assert answer.json()["__type"].endswith("AccessDeniedException")
    assert not any(name.lower().startswith("access-control-") for name in answer.headers)


def test_a_cors_preflight_is_refused(services):
    answer = request(
        "OPTIONS",
        services.endpoint_url,
        **{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in {name.lower() for name in answer.headers}


def test_a_page_cannot_reset_moto(services):
    # A cross-site form POST needs no preflight; the Origin header is what gives it away.
    answer = request("POST", services.endpoint_url, "/moto-api/reset", Origin="https://evil.example")
    assert answer.status_code == 403
    assert keys_in(services) == {"kept"}


def test_moto_adds_no_cors_header_to_what_it_answers(services):
    answer = scan(services.endpoint_url)
    assert not any(name.lower().startswith("access-control-") for name in answer.headers)
