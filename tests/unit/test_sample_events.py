"""events/*.json are API Gateway REST (v1) proxy events for the routes template.yaml really has."""

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.template_reader import Template, properties
from tests.unit.handler_support import EVENTS_DIR, load_event

# Top-level fields of the REST API (v1) Lambda proxy integration input format.
PROXY_EVENT_FIELDS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
REQUEST_CONTEXT_FIELDS = {
    "accountId",
    "apiId",
    "domainName",
    "httpMethod",
    "identity",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "stage",
}
# Which function each sample event is for.
EVENT_FUNCTIONS = {
    "hello.json": "HelloWorldFunction",
    "ddb.json": "SamDdbFunction",
    "ddb_missing_key.json": "SamDdbFunction",
    "ddb_not_json.json": "SamDdbFunction",
    "ddb_key_not_string.json": "SamDdbFunction",
}
# requestTime is in the common log format, e.g. 15/Jan/2024:10:00:00 +0000.
REQUEST_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


def api_route(template: Template, function_id: str) -> tuple[str, str]:
    """(path, METHOD) of the function's only Api event."""
    (api_event,) = properties(template, function_id)["Events"].values()
    assert api_event["Type"] == "Api"
    return api_event["Properties"]["Path"], api_event["Properties"]["Method"].upper()


def test_every_event_file_is_covered():
    assert {path.name for path in EVENTS_DIR.glob("*.json")} == set(EVENT_FUNCTIONS)


@pytest.mark.parametrize(("event_file", "function_id"), EVENT_FUNCTIONS.items())
def test_event_is_a_rest_proxy_event_for_the_functions_route(
    template: Template, event_file: str, function_id: str
):
    event: dict[str, Any] = load_event(event_file)
    path, method = api_route(template, function_id)
    context = event["requestContext"]

    assert set(event) == PROXY_EVENT_FIELDS
    assert set(context) >= REQUEST_CONTEXT_FIELDS
    assert (event["resource"], event["path"], event["httpMethod"]) == (path, path, method)
    assert (context["resourcePath"], context["httpMethod"]) == (path, method)
    assert context["stage"] == "Prod"
    assert context["path"] == f"/Prod{path}"
    assert context["domainName"] == event["headers"]["Host"]
    assert context["domainName"].startswith(f"{context['apiId']}.execute-api.")
    assert {"sourceIp", "userAgent"} <= set(context["identity"])
    assert context["identity"]["userAgent"] == event["headers"]["User-Agent"]
    request_time = datetime.strptime(context["requestTime"], REQUEST_TIME_FORMAT)
    assert context["requestTimeEpoch"] == int(request_time.astimezone(UTC).timestamp() * 1000)
    assert event["multiValueHeaders"] == {name: [value] for name, value in event["headers"].items()}
    assert event["isBase64Encoded"] is False
    assert event["body"] is None or isinstance(event["body"], str)
