"""The tutorial through the whole local stack, read in the console in Chromium: `GET /hello`
and `POST /ddb` with curl's requests, then the map, the traces, a cold `POST /ddb`'s timeline
and its log lines, as a user sees them. One stack for the module (a cold start happens once
per function); each test reads only the traces of its own requests."""

import json
import uuid
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from console.web.server import ConsoleServer
from emulator.xray.server import XRayServer
from tests.browser.page_support import css, screenshot, trace_rows, wait_for
from tests.stack_helpers import Response, RunningStack, request, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tutorial(tutorial_app_template, lambda_runtime_dir, xray_server) -> Iterator[RunningStack]:
    with running_stack(tutorial_app_template, lambda_runtime_dir, xray_server.daemon_address) as stack:
        yield stack


@pytest.fixture(scope="module")
def cold_ddb(tutorial: RunningStack) -> str:
    """The module's first POST /ddb: its function's cold start. Its trace id."""
    return trace_id_of(post_ddb(tutorial))


@pytest.fixture(scope="module")
def console(xray_server: XRayServer, tutorial: RunningStack) -> Iterator[ConsoleServer]:
    # Function logs are in moto's CloudWatch Logs, on the DynamoDB endpoint (emulator/logs).
    with ConsoleServer(xray_server.api_url, tutorial.dynamodb_endpoint) as server:
        yield server


def trace_id_of(response: Response) -> str:
    return response.required_header("X-Amzn-Trace-Id").split(";")[0].removeprefix("Root=")


def post_ddb(stack: RunningStack) -> Response:
    body = json.dumps({"key": f"console-{uuid.uuid4().hex[:8]}"}).encode()
    response = request("POST", stack.url + "/ddb", body, {"Content-Type": "application/json"})
    assert response.status == 200, response.body
    return response


def get_hello(stack: RunningStack) -> Response:
    response = request("GET", stack.url + "/hello")
    assert response.status == 200, response.body
    return response


def timeline_rows(driver: WebDriver) -> list[dict[str, str]]:
    keys = ("span-id", "name", "parent-id")
    return [{key: row.get_attribute(f"data-{key}") or "" for key in keys} for row in css(driver, ".span-row")]


def ancestors(rows: list[dict[str, str]], row: dict[str, str]) -> list[str]:
    by_id = {r["span-id"]: r for r in rows}
    names = []
    parent = by_id.get(row["parent-id"])
    while parent is not None:
        names.append(parent["name"])
        parent = by_id.get(parent["parent-id"])
    return names


def test_a_cold_post_ddb_timeline_and_its_log_lines(page: WebDriver, console: ConsoleServer, cold_ddb: str):
    page.get(console.url + f"#/traces/{cold_ddb}")
    # Segments arrive over UDP as each hop ends: the page reads a recent trace again until whole.
    wait_for(page, _whole_ddb_trace, "the whole cold POST /ddb trace")
    rows = timeline_rows(page)
    names = [row["name"] for row in rows]
    assert names.index("Initialization") < names.index("Invocation")
    dynamodb = [row for row in rows if row["name"] == "DynamoDB"]
    assert dynamodb and all("put_item ddb" in ancestors(rows, row) for row in dynamodb)
    assert css(page, ".span-row.cold-start")

    section = page.find_element(By.CSS_SELECTOR, ".invocation-logs")
    wait_for(page, lambda d: css(section, ".log-report"), "the invocation's REPORT line")
    request_id = section.get_attribute("data-request-id")
    lines = [line.text for line in css(section, ".log-message")]
    assert lines[0].startswith(f"START RequestId: {request_id}")
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}")
    assert any(line.startswith(f"END RequestId: {request_id}") for line in lines)
    assert "Init Duration" in lines[-1]  # the cold start, as Lambda reports it
    assert "null" not in section.text.splitlines()  # nothing missing drawn as a word
    screenshot(page, "tutorial-trace-cold-ddb")


def _whole_ddb_trace(driver: WebDriver) -> bool:
    names = {row.get_attribute("data-name") for row in css(driver, ".span-row")}
    return {"Initialization", "Invocation", "put_item ddb", "DynamoDB", "sam-app/Prod"} <= names


def test_a_filter_narrows_the_tutorials_traces(page: WebDriver, console: ConsoleServer, tutorial, cold_ddb):
    hello = trace_id_of(get_hello(tutorial))
    page.get(console.url + "#/traces")
    wait_for(page, lambda d: {hello, cold_ddb} <= set(trace_rows(d)), "both requests listed")
    box = page.find_element(By.ID, "filter")
    box.send_keys('http.url CONTAINS "/ddb"', Keys.ENTER)
    wait_for(page, lambda d: cold_ddb in trace_rows(d) and hello not in trace_rows(d), "only /ddb listed")
    screenshot(page, "tutorial-traces-filtered")


def test_a_new_request_appears_live(page: WebDriver, console: ConsoleServer, tutorial, cold_ddb):
    page.get(console.url + "#/traces")
    wait_for(page, lambda d: cold_ddb in trace_rows(d), "the list")
    page.execute_script("window.__sameDocument = true")
    later = trace_id_of(get_hello(tutorial))
    wait_for(page, lambda d: later in trace_rows(d), "the new request listed without a reload")
    assert page.execute_script("return window.__sameDocument === true")
    row = page.find_element(By.CSS_SELECTOR, f'tr.trace-row[data-trace-id="{later}"]')
    assert "/hello" in row.text and "GET" in row.text
    screenshot(page, "tutorial-traces-live")


def test_the_map_of_the_tutorial(page: WebDriver, console: ConsoleServer, tutorial, cold_ddb):
    get_hello(tutorial)
    page.get(console.url + "#/map")
    # map.js (the lead's) draws nodes; here only that the tutorial's services are on it.
    wait_for(
        page,
        lambda d: {"sam-app/Prod", "Demo"} <= {n.get_attribute("data-name") for n in css(d, ".map-node")},
        "the map's nodes",
    )
    screenshot(page, "tutorial-map")


def test_view_traces_on_a_map_node_lists_that_nodes_traces(
    page: WebDriver, console: ConsoleServer, tutorial, cold_ddb
):
    hello = trace_id_of(get_hello(tutorial))
    page.get(console.url + "#/map")
    node = wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, '.map-node[data-name="Demo"]'), "the Demo node"
    )
    node.click()
    wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, "button.view-traces"), "View traces").click()
    wait_for(page, lambda d: "#/traces?" in d.current_url, "the Traces page")
    expression = page.find_element(By.ID, "filter").get_attribute("value") or ""
    assert "Demo" in expression
    wait_for(page, lambda d: cold_ddb in trace_rows(d), "the POST /ddb trace listed")
    assert hello not in trace_rows(page)
