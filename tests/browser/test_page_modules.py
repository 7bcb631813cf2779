"""The page's pure functions, run in Chromium as the page runs them (no Node.js): each test
imports a module of console/web/static into the console's own page and calls it."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from console.web.server import ConsoleServer
from emulator.loopback import free_port

# Calls m[name](...args) in the page. The page's CSP allows no eval, so what comes back is
# shaped here: a linkTrace tree as [name, depth, parent's name] per span, anything else as JSON.
RUN = """
const [module, name, args, done] = arguments;
const shape = (value) => (value && Array.isArray(value.spans))
  ? value.spans.map((s) => [s.doc.name, s.depth, s.parent ? s.parent.doc.name : null])
  : value;
import(module).then((m) => done({value: JSON.parse(JSON.stringify(shape(m[name](...args)) ?? null))}),
  (error) => done({error: String(error)}));
"""
API_ERROR = """
const done = arguments[0];
import('/api.js').then(async (m) => {
  const original = window.fetch;
  const message = "FilterExpression is not valid: unknown keyword 'foo' (at position 3)";
  const type = 'InvalidRequestException:http://internal.amazon.com/';
  window.fetch = async () => new Response(JSON.stringify({message}),
    {status: 400, headers: {'x-amzn-ErrorType': type}});
  try {
    await m.xray('/TraceSummaries', {});
    done(null);
  } catch (e) {
    done({name: e.name, message: e.message, status: e.status, type: e.type, position: e.position});
  } finally {
    window.fetch = original;
  }
});
"""


@pytest.fixture(scope="module")
def console() -> Iterator[ConsoleServer]:
    down = f"http://127.0.0.1:{free_port()}"  # no API call is made here
    with ConsoleServer(down, None) as server:
        yield server


@pytest.fixture
def page(driver: WebDriver, console: ConsoleServer) -> WebDriver:
    driver.get(console.url + "favicon.svg")  # a document of the console's origin, with no app running
    driver.set_script_timeout(10)
    return driver


def run(page: WebDriver, module: str, name: str, *args: Any) -> Any:
    """The module's function `name` called with `args`, in the page."""
    answer = page.execute_async_script(RUN, f"/{module}", name, list(args))
    assert "error" not in answer, answer["error"]
    return answer["value"]


def segment(doc: dict[str, Any]) -> dict[str, Any]:
    return {"Id": doc["id"], "Document": json.dumps(doc)}


def test_segments_hang_under_the_subsegment_their_parent_id_names(page: WebDriver):
    stage = {
        "id": "a1",
        "name": "stage",
        "start_time": 1,
        "end_time": 3,
        "subsegments": [{"id": "a2", "name": "Lambda", "start_time": 1.1, "end_time": 2.9}],
    }
    function = {"id": "b1", "name": "function", "parent_id": "a2", "start_time": 1.2, "end_time": 2.8}
    orphan = {"id": "c1", "name": "orphan", "parent_id": "missing", "start_time": 0.5, "end_time": 0.6}
    tree = run(
        page, "spans.js", "linkTrace", {"Segments": [segment(function), segment(stage), segment(orphan)]}
    )
    assert tree == [
        ["orphan", 0, None],
        ["stage", 0, None],
        ["Lambda", 1, "stage"],
        ["function", 2, "Lambda"],
    ]


def test_parent_ids_in_a_loop_still_give_every_span_once(page: WebDriver):
    first = {"id": "x1", "name": "first", "parent_id": "y1", "start_time": 1, "end_time": 2}
    second = {"id": "y1", "name": "second", "parent_id": "x1", "start_time": 1.5, "end_time": 2}
    tree = run(page, "spans.js", "linkTrace", {"Segments": [segment(first), segment(second)]})
    assert sorted(name for name, _, _ in tree) == ["first", "second"]


def test_documents_that_are_not_json_objects_are_left_out(page: WebDriver):
    good = {"id": "g1", "name": "good", "start_time": 1, "end_time": 2}
    documents = [{"Id": "1", "Document": "not json"}, {"Id": "2", "Document": "[1]"}, segment(good)]
    assert run(page, "spans.js", "linkTrace", {"Segments": documents}) == [["good", 0, None]]


@pytest.mark.parametrize(
    ("request_", "command"),
    [
        ({"method": "GET", "url": "http://127.0.0.1:3000/hello"}, "curl 'http://127.0.0.1:3000/hello'"),
        ({"method": "post", "url": "http://h/ddb"}, "curl -X 'POST' 'http://h/ddb'"),
        ({"method": "GET", "url": "http://h/it's;$(rm -rf ~)"}, "curl 'http://h/it'\\''s;$(rm -rf ~)'"),
    ],
)
def test_curl_commands_quote_what_they_are_given(page: WebDriver, request_: dict[str, str], command: str):
    assert run(page, "curl.js", "curlCommand", request_) == command


def test_filter_literals_and_annotation_values(page: WebDriver):
    assert run(page, "format.js", "quote", 'say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert run(page, "format.js", "annotationLiteral", {"BooleanValue": True}) == "true"
    assert run(page, "format.js", "annotationLiteral", {"NumberValue": 1.5}) == "1.5"
    assert run(page, "format.js", "annotationLiteral", {"StringValue": 'a"b'}) == '"a\\"b"'
    assert run(page, "format.js", "urlPath", "https://x.example/Prod/ddb?a=1") == "/Prod/ddb?a=1"
    durations = [run(page, "format.js", "ms", seconds) for seconds in (0.0123, 0.3, 2.5, None)]
    assert durations == ["12.3 ms", "300.0 ms", "2.50 s", "–"]


def test_api_errors_carry_the_filter_position(page: WebDriver):
    error = page.execute_async_script(API_ERROR)
    assert error == {
        "name": "ApiError",
        "message": "FilterExpression is not valid: unknown keyword 'foo' (at position 3)",
        "status": 400,
        "type": "InvalidRequestException",
        "position": 3,
    }


# CloudWatch Logs as the page's fetch() sees it, in the page: one stream holding three
# invocations, answered two events a page, so the reader has to follow nextForwardToken.
FAKE_LOGS = """
const [groups, stream, call, done] = arguments;
const lines = stream.map((message, index) => ({timestamp: 1000 + index, message, ingestionTime: 1}));
const original = window.fetch;
const answer = (body) => new Response(JSON.stringify(body), {status: 200});
window.fetch = async (url, init) => {
  const operation = init.headers['X-Amz-Target'].split('.')[1];
  const request = JSON.parse(init.body);
  if (operation === 'DescribeLogGroups') {
    const prefix = request.logGroupNamePrefix ?? '';
    const named = groups.filter((g) => g.startsWith(prefix));
    return answer({logGroups: named.map((logGroupName) => ({logGroupName}))});
  }
  if (request.logGroupName !== groups[0]) return answer({events: []});
  if (operation === 'FilterLogEvents') {
    const wanted = request.filterPattern.slice(1, -1);
    const matching = lines.filter((l) => l.message.includes(wanted));
    return answer({events: matching.map((l) => ({...l, logStreamName: 's1'}))});
  }
  const from = Number(request.nextToken ?? lines.findIndex((l) => l.timestamp >= request.startTime));
  const next = String(Math.min(from + 2, lines.length));
  return answer({events: lines.slice(from, from + 2), nextForwardToken: next});
};
import('/invocation_logs.js').then((m) => m.findInvocationLines(call))
  .then((found) => done(found), (error) => done({error: String(error)}))
  .finally(() => { window.fetch = original; });
"""


def test_an_invocations_lines_are_those_from_its_start_to_its_report(page: WebDriver):
    groups = ["/aws/lambda/sam-app/SamDdbFunction", "/aws/lambda/sam-app/HelloWorldFunction"]
    stream = [
        "START RequestId: r-1 Version: $LATEST", "END RequestId: r-1", "REPORT RequestId: r-1\tBilled",
        "START RequestId: r-2 Version: $LATEST", "[INFO] storing key", "END RequestId: r-2",
        "REPORT RequestId: r-2\tDuration: 2 ms", "START RequestId: r-3 Version: $LATEST",
    ]  # fmt: skip
    call = {"requestId": "r-2", "functionName": "sam-app-SamDdbFunction-P809NJ0VDL1X", "start": 1, "end": 2}
    found = page.execute_async_script(FAKE_LOGS, groups, stream, call)
    assert found["logGroupName"] == groups[0]
    assert found["logStreamName"] == "s1"
    assert found["complete"] is True
    assert [event["message"] for event in found["events"]] == stream[3:7]


def test_a_log_group_outside_aws_lambda_is_found_by_its_names(page: WebDriver):
    groups = ["/sam-app/functions/SamDdbFunction", "/sam-app/functions/HelloWorldFunction"]
    stream = ["START RequestId: r-9 Version: $LATEST", "END RequestId: r-9", "REPORT RequestId: r-9"]
    call = {"requestId": "r-9", "functionName": "sam-app-SamDdbFunction-P809NJ0VDL1X", "start": 1, "end": 2}
    found = page.execute_async_script(FAKE_LOGS, groups, stream, call)
    assert found["logGroupName"] == groups[0]
    assert [event["message"] for event in found["events"]] == stream
