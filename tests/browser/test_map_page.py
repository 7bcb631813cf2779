"""The trace map in Chromium against a real local X-Ray holding traces this module sends: its
nodes, edges, counts, latencies and health rings are GetServiceGraph's; a filter redraws it
from the matching traces; "View traces" on an edge lists exactly the traces through it.

The X-Ray server is this module's own, so the whole graph is known; the traces are recorded
tutorial traces made new (tests/xray/data), some turned into errors, throttles and faults.
"""

import math
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from console.web.server import ConsoleServer
from emulator.xray.server import XRayServer
from tests.browser.page_support import css, screenshot, trace_rows, wait_for
from tests.xray.xray_support import fresh_trace, make_client, send_documents

HELLO = "tutorial_hello_trace.json"
DDB = "tutorial_ddb_trace.json"
# The stage segment's status, and the flags X-Ray sets for it, per kind of request.
OUTCOMES = {
    "ok": (200, {}),
    "error": (404, {"error": True}),
    "throttle": (429, {"error": True, "throttle": True}),
    "fault": (502, {"fault": True}),
}
RING_PARTS = ("ok", "error", "throttle", "fault")


@pytest.fixture(scope="module")
def sent(xray_server: XRayServer) -> dict[str, list[str]]:
    """Trace ids by route: 5 GET /hello, and POST /ddb once of each outcome plus 2 more OK."""
    ids: dict[str, list[str]] = {"hello": [], "ddb": []}
    documents: list[dict[str, Any]] = []
    plan = [(HELLO, "ok")] * 5 + [(DDB, outcome) for outcome in OUTCOMES] + [(DDB, "ok")] * 2
    for index, (recorded, outcome) in enumerate(plan):
        trace = fresh_trace(recorded, ago=20.0 + index)
        status, flags = OUTCOMES[outcome]
        stage = trace[0]
        stage["http"]["response"]["status"] = status
        stage.update(flags)
        documents.extend(trace)
        ids["hello" if recorded == HELLO else "ddb"].append(str(stage["trace_id"]))
    send_documents(xray_server, documents)
    return ids


def service_graph(xray_server: XRayServer) -> list[dict[str, Any]]:
    """GetServiceGraph over a window that holds every trace of the module (the page's is the
    last 15 minutes, so both windows hold the same traces)."""
    now = time.time()
    answer = make_client(xray_server).get_service_graph(StartTime=now - 900, EndTime=now + 5)
    return list(answer["Services"])


def health(statistics: dict[str, Any] | None) -> dict[str, int]:
    stats = statistics or {}
    errors = stats.get("ErrorStatistics", {})
    return {
        "total": stats.get("TotalCount", 0),
        "ok": stats.get("OkCount", 0),
        "error": errors.get("OtherCount", 0),
        "throttle": errors.get("ThrottleCount", 0),
        "fault": stats.get("FaultStatistics", {}).get("TotalCount", 0),
    }


def drawn_nodes(driver: WebDriver) -> dict[tuple[str, str], WebElement]:
    return {
        (node.get_attribute("data-name") or "", node.get_attribute("data-type") or ""): node
        for node in css(driver, ".map-node")
    }


def open_map(driver: WebDriver, console: ConsoleServer, count: int) -> dict[tuple[str, str], WebElement]:
    driver.get(console.url + "#/map")

    def drawn(d: WebDriver) -> dict[tuple[str, str], WebElement] | None:
        found = drawn_nodes(d)
        return found if len(found) == count else None

    nodes = wait_for(driver, drawn, "the map")
    assert nodes is not None
    return nodes


def test_nodes_edges_and_numbers_are_the_service_graphs(page: WebDriver, console, xray_server, sent):
    services = service_graph(xray_server)
    nodes = open_map(page, console, len(services))
    by_reference = {service["ReferenceId"]: service for service in services}
    assert set(nodes) == {(s["Name"], s.get("Type", "")) for s in services}
    for service in services:
        node = nodes[(service["Name"], service.get("Type", ""))]
        counts = health(service.get("SummaryStatistics"))
        for part, count in counts.items():
            assert node.get_attribute(f"data-{part}") == str(count), (service["Name"], part)
        if service.get("Type") == "client":
            assert not css(node, ".node-latency"), "the client node has no statistics"
            continue
        average_ms = service["SummaryStatistics"]["TotalResponseTime"] / counts["total"] * 1000
        shown = node.find_element(By.CSS_SELECTOR, ".node-latency").get_attribute("data-average-ms")
        assert math.isclose(float(shown or "nan"), average_ms, rel_tol=1e-9)
        # The health ring: one arc per non-zero part, as long as its share of the circle.
        arcs = {
            arc.get_attribute("data-part") or "": arc for arc in css(node, ".health-ring circle[data-part]")
        }
        assert set(arcs) == {part for part in RING_PARTS if counts[part]}
        for part, arc in arcs.items():
            radius = float(arc.get_attribute("r") or "0")
            dash = float((arc.get_attribute("stroke-dasharray") or "0").split()[0])
            assert math.isclose(dash / (2 * math.pi * radius), counts[part] / counts["total"], rel_tol=1e-6)

    drawn_edges = {
        (
            (edge.get_attribute("data-source") or "", edge.get_attribute("data-source-type") or ""),
            (edge.get_attribute("data-target") or "", edge.get_attribute("data-target-type") or ""),
        ): int(edge.get_attribute("data-total") or "-1")
        for edge in css(page, ".map-edge")
    }
    expected_edges = {
        (
            (service["Name"], service.get("Type", "")),
            (by_reference[edge["ReferenceId"]]["Name"], by_reference[edge["ReferenceId"]].get("Type", "")),
        ): health(edge.get("SummaryStatistics"))["total"]
        for service in services
        for edge in service.get("Edges", [])
    }
    assert drawn_edges == expected_edges
    # 5 GET /hello and 3 POST /ddb were OK; one POST /ddb each was an error, a throttle and a fault.
    stage = nodes[("sam-app/Prod", "AWS::ApiGateway::Stage")]
    assert [stage.get_attribute(f"data-{part}") for part in RING_PARTS] == ["8", "1", "1", "1"]
    assert ("Demo", "AWS::DynamoDB::Table") in nodes
    screenshot(page, "map-health")


def test_a_node_opens_its_histogram_and_health(page: WebDriver, console, xray_server, sent):
    services = service_graph(xray_server)
    nodes = open_map(page, console, len(services))
    stage = next(s for s in services if s.get("Type") == "AWS::ApiGateway::Stage")
    nodes[(stage["Name"], stage["Type"])].click()
    panel = wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, ".map-details:not([hidden])"), "details")
    bars = css(panel, ".histogram-bar")
    assert sorted(
        (float(b.get_attribute("data-value") or ""), int(b.get_attribute("data-count") or "")) for b in bars
    ) == sorted((entry["Value"], entry["Count"]) for entry in stage["ResponseTimeHistogram"])
    rows = {
        row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
        for row in css(panel, "tr")
    }
    assert rows["Requests"] == str(stage["SummaryStatistics"]["TotalCount"])
    assert rows["Faults (5xx)"].startswith("1 ")
    filter_text = panel.find_element(By.CSS_SELECTOR, ".view-traces").get_attribute("data-filter")
    assert filter_text == 'service(id(name: "sam-app/Prod", type: "AWS::ApiGateway::Stage"))'


def test_view_traces_on_an_edge_lists_exactly_its_traces(page: WebDriver, console, xray_server, sent):
    services = service_graph(xray_server)
    open_map(page, console, len(services))
    ddb_lambda = next(s["Name"] for s in services if s.get("Type") == "AWS::Lambda" and "SamDdb" in s["Name"])
    edge = page.find_element(
        By.CSS_SELECTOR,
        f'.map-edge[data-source-type="AWS::ApiGateway::Stage"][data-target="{ddb_lambda}"]'
        '[data-target-type="AWS::Lambda"]',
    )
    page.execute_script("arguments[0].dispatchEvent(new Event('click'))", edge)
    button = wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, ".map-details .view-traces"), "View traces"
    )
    assert (button.get_attribute("data-filter") or "").startswith('edge(id(name: "sam-app/Prod"')
    button.click()
    wait_for(page, lambda d: set(trace_rows(d)) == set(sent["ddb"]), "the edge's traces, and only them")


def test_a_filter_redraws_the_map_from_the_matching_traces(page: WebDriver, console, xray_server, sent):
    services = service_graph(xray_server)
    open_map(page, console, len(services))
    box = page.find_element(By.ID, "filter")
    box.clear()
    box.send_keys("http.status = 502" + Keys.ENTER)

    def only_the_fault(driver: WebDriver) -> dict[tuple[str, str], WebElement] | None:
        found = drawn_nodes(driver)
        stage = found.get(("sam-app/Prod", "AWS::ApiGateway::Stage"))
        return found if stage is not None and stage.get_attribute("data-total") == "1" else None

    nodes = wait_for(page, only_the_fault, "the map of the one faulted trace")
    assert nodes is not None
    # One POST /ddb: no hello world function on it, and the stage's one request is its fault.
    assert not any("HelloWorld" in name for name, _ in nodes)
    assert nodes[("sam-app/Prod", "AWS::ApiGateway::Stage")].get_attribute("data-fault") == "1"
    assert ("Demo", "AWS::DynamoDB::Table") in nodes
    screenshot(page, "map-filtered")


def test_the_address_carries_the_range_and_the_filter(page: WebDriver, console, xray_server, sent):
    # Every trace of the module is in this window; the filter keeps the one fault.
    now = time.time()
    query = urlencode({"start": f"{now - 600:.0f}", "end": f"{now + 60:.0f}", "filter": "http.status = 502"})
    page.get(console.url + f"#/map?{query}")

    def stage_total(driver: WebDriver) -> str | None:
        stage = drawn_nodes(driver).get(("sam-app/Prod", "AWS::ApiGateway::Stage"))
        return stage.get_attribute("data-total") if stage is not None else None

    assert wait_for(page, stage_total, "the map of the address's filter") == "1"
    assert page.find_element(By.ID, "filter").get_attribute("value") == "http.status = 502"
    assert page.find_element(By.ID, "range").get_attribute("value") == "custom"
