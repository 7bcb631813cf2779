"""The Traces page and a trace's timeline in Chromium, over the recorded tutorial traces in a
real local X-Ray (no Lambda here: quick). Each test sends traces of its own and looks only at
those, so the tests share one X-Ray and one console and depend on no order."""

import json
import os
import time
import uuid
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from console.web.server import ConsoleServer
from emulator.loopback import free_port
from emulator.xray.server import XRayServer
from tests.browser.page_support import css, screenshot, trace_rows, wait_for
from tests.xray.xray_support import find, fresh_trace, make_client, send_documents

HOSTILE = '<img src=x onerror="window.__pwned = 1">'


def send(
    xray_server: XRayServer, name: str, *, ago: float = 5.0, annotate: dict[str, Any] | None = None
) -> str:
    documents = fresh_trace(name, ago=ago)
    if annotate:
        documents[0].setdefault("annotations", {}).update(annotate)
    send_documents(xray_server, documents)
    return str(documents[0]["trace_id"])


def open_traces(driver: WebDriver, console: ConsoleServer, *expected: str) -> None:
    driver.get(console.url + "#/traces")
    wait_for(driver, lambda d: set(expected) <= set(trace_rows(d)), f"traces {expected} listed")


def apply_filter(driver: WebDriver, expression: str) -> None:
    box = driver.find_element(By.ID, "filter")
    box.clear()
    box.send_keys(expression, Keys.ENTER)


def test_the_list_shows_each_trace_newest_first_with_its_full_id(page: WebDriver, console, xray_server):
    older = send(xray_server, "tutorial_ddb_trace.json", ago=20)
    newer = send(xray_server, "tutorial_hello_trace.json", ago=5)
    open_traces(page, console, older, newer)
    rows = trace_rows(page)
    assert rows.index(newer) < rows.index(older)
    row = page.find_element(By.CSS_SELECTOR, f'tr.trace-row[data-trace-id="{older}"]')
    assert row.find_element(By.CSS_SELECTOR, "a.trace-id").text == older  # whole, copyable
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    assert "POST" in cells and "200" in cells
    assert "/Prod/ddb" in cells
    assert row.find_element(By.CSS_SELECTOR, ".chip.cold").text == "ColdStart=true"
    assert page.find_element(By.ID, "source").text == "local stack"
    screenshot(page, "traces-list")


def test_a_filter_narrows_the_list(page: WebDriver, console, xray_server):
    ddb = send(xray_server, "tutorial_ddb_trace.json")
    hello = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, ddb, hello)
    apply_filter(page, 'http.method = "GET"')
    wait_for(page, lambda d: hello in trace_rows(d) and ddb not in trace_rows(d), "only GET traces listed")
    assert all(row.get_attribute("data-status") == "200" for row in css(page, "tr.trace-row"))
    screenshot(page, "traces-filtered")


def test_a_bad_filter_is_shown_at_the_position_the_api_reports(page: WebDriver, console, xray_server):
    send(xray_server, "tutorial_hello_trace.json")
    page.get(console.url + "#/traces")
    apply_filter(page, "http.status = = 4")
    error = page.find_element(By.ID, "filter-error")
    wait_for(page, lambda d: error.is_displayed(), "the filter error")
    assert "position 14" in error.text
    assert error.find_element(By.CSS_SELECTOR, "mark.filter-caret").text == "="
    assert page.find_element(By.ID, "filter").get_attribute("aria-invalid") == "true"
    screenshot(page, "traces-filter-error")


def test_values_from_traces_are_shown_as_text_never_run(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_hello_trace.json", annotate={"note": HOSTILE})
    open_traces(page, console, trace_id)
    row = page.find_element(By.CSS_SELECTOR, f'tr.trace-row[data-trace-id="{trace_id}"]')
    assert f"note={HOSTILE}" in [chip.text for chip in row.find_elements(By.CSS_SELECTOR, ".chip")]
    assert css(page, "table.traces img") == []
    assert page.execute_script("return window.__pwned === undefined")


def test_a_new_trace_appears_without_a_reload(page: WebDriver, console, xray_server):
    first = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, first)
    page.execute_script("window.__sameDocument = true")
    later = send(xray_server, "tutorial_ddb_trace.json", ago=1)
    wait_for(page, lambda d: later in trace_rows(d), "the new trace listed live")
    assert trace_rows(page).index(later) < trace_rows(page).index(first)
    assert page.execute_script("return window.__sameDocument === true")


def test_columns_sort_and_refine_by_adds_to_the_filter(page: WebDriver, console, xray_server):
    ids = [send(xray_server, "tutorial_hello_trace.json"), send(xray_server, "tutorial_ddb_trace.json")]
    open_traces(page, console, *ids)
    page.find_element(By.CSS_SELECTOR, 'button.sort[data-sort="duration"]').click()
    wait_for(
        page,
        lambda d: d.find_element(By.CSS_SELECTOR, 'th[aria-sort="ascending"] button[data-sort="duration"]'),
        "sorted by duration",
    )
    durations = [
        milliseconds(row.find_elements(By.TAG_NAME, "td")[7].text) for row in css(page, "tr.trace-row")
    ]
    assert durations == sorted(durations)

    Select(page.find_element(By.CSS_SELECTOR, "select.group-by")).select_by_value("method")
    post = wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, 'button.refine[data-value="POST"]'), "a POST group"
    )
    post.click()
    wait_for(
        page,
        lambda d: d.find_element(By.ID, "filter").get_attribute("value") == 'http.method = "POST"',
        "the filter set",
    )
    wait_for(
        page, lambda d: ids[0] not in trace_rows(d) and ids[1] in trace_rows(d), "only POST traces listed"
    )
    screenshot(page, "traces-grouped")


def milliseconds(text: str) -> float:
    value, unit = text.split()
    return float(value) * (1000 if unit == "s" else 1)


def timeline_rows(driver: WebDriver) -> list[dict[str, str]]:
    return [
        {
            key: row.get_attribute(f"data-{key}") or ""
            for key in ("span-id", "name", "parent-id", "depth", "status")
        }
        for row in css(driver, ".span-row")
    ]


def ancestors(rows: list[dict[str, str]], row: dict[str, str]) -> list[str]:
    by_id = {r["span-id"]: r for r in rows}
    names = []
    parent = by_id.get(row["parent-id"])
    while parent is not None:
        names.append(parent["name"])
        parent = by_id.get(parent["parent-id"])
    return names


def test_the_timeline_of_a_cold_ddb_request(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_ddb_trace.json")
    page.get(console.url + f"#/traces/{trace_id}")
    wait_for(page, lambda d: len(css(d, ".span-row")) >= 9, "the timeline drawn")
    rows = timeline_rows(page)
    names = [row["name"] for row in rows]
    assert names.index("Initialization") < names.index("Invocation") < names.index("put_item ddb")
    dynamodb = [row for row in rows if row["name"] == "DynamoDB"]
    assert dynamodb and all("put_item ddb" in ancestors(rows, row) for row in dynamodb)
    assert "Invocation" in ancestors(rows, dynamodb[0])
    assert page.find_element(By.CSS_SELECTOR, ".span-row.cold-start .badge.cold").text == "cold start"
    assert "cold start" in page.find_element(By.CSS_SELECTOR, ".trace-header").text

    page.find_element(By.CSS_SELECTOR, '.span-row[data-name="DynamoDB"]').click()
    page.find_element(By.CSS_SELECTOR, '.tab[data-tab="resources"]').click()
    resources = page.find_element(By.CSS_SELECTOR, '.tab-panel[data-tab="resources"]').text
    assert "table_name" in resources and '"Demo"' in resources and '"PutItem"' in resources
    page.find_element(By.CSS_SELECTOR, '.tab[data-tab="raw"]').click()
    raw = json.loads(page.find_element(By.CSS_SELECTOR, ".raw-json").text)
    assert raw["name"] == "DynamoDB"
    screenshot(page, "trace-timeline-recorded")


def test_folding_a_row_hides_its_children(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_ddb_trace.json")
    page.get(console.url + f"#/traces/{trace_id}")
    toggle = wait_for(
        page,
        lambda d: d.find_element(By.CSS_SELECTOR, '.span-row[data-name="put_item ddb"] .tl-toggle'),
        "the toggle",
    )
    toggle.click()
    assert not [r for r in css(page, '.span-row[data-name="DynamoDB"]') if r.is_displayed()]
    toggle.click()
    assert [r for r in css(page, '.span-row[data-name="DynamoDB"]') if r.is_displayed()]


def test_copy_as_curl_gives_the_request(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_hello_trace.json")
    page.get(console.url + f"#/traces/{trace_id}")
    wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, "button.curl-button"), "the curl button").click()
    command = wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, ".curl-command").text, "the command")
    assert command == "curl 'https://k2x9q7w1ab.execute-api.ap-northeast-1.amazonaws.com/Prod/hello'"


def test_two_traces_side_by_side(page: WebDriver, console, xray_server):
    hello = send(xray_server, "tutorial_hello_trace.json")
    ddb = send(xray_server, "tutorial_ddb_trace.json")
    page.get(console.url + f"#/compare/{hello}/{ddb}")
    wait_for(
        page,
        lambda d: all(css(column, ".span-row") for column in css(d, ".compare-column")),
        "both timelines",
    )
    columns = css(page, ".compare-column")
    assert [c.get_attribute("data-trace-id") for c in columns] == [hello, ddb]
    assert "hello world" in columns[0].text and "put_item ddb" in columns[1].text
    # One scale for both: the axes end at the same time, the longer trace's.
    ends = [css(column, ".tl-tick")[-1].text for column in columns]
    assert ends[0] == ends[1] == "312.0 ms"
    screenshot(page, "traces-compare")


def test_a_fault_opens_on_its_exception_with_the_stack_frames(page: WebDriver, console, xray_server):
    documents = fresh_trace("tutorial_hello_trace.json")
    failing = find(documents, "hello world")
    failing["fault"] = True
    failing["cause"] = {
        "working_directory": "/var/task",
        "exceptions": [
            {
                "id": "0a1b2c3d4e5f6a7b",
                "type": "KeyError",
                "message": f"'message' {HOSTILE}",
                "stack": [
                    {"path": "/var/task/app.py", "line": 12, "label": "lambda_handler"},
                    {"path": "/var/task/app.py", "line": 30, "label": "greet"},
                ],
            }
        ],
    }
    send_documents(xray_server, documents)
    page.get(console.url + f"#/traces/{documents[0]['trace_id']}")
    selected = wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, ".span-row.selected"), "a row selected"
    )
    # The first thing shown is what failed.
    assert selected.get_attribute("data-name") == "hello world"
    assert selected.get_attribute("data-status") == "fault"
    assert page.find_element(By.CSS_SELECTOR, ".trace-facts .badge.fault").text == "fault"
    page.find_element(By.CSS_SELECTOR, '.tab[data-tab="exceptions"]').click()
    panel = page.find_element(By.CSS_SELECTOR, '.tab-panel[data-tab="exceptions"]')
    assert panel.find_element(By.CSS_SELECTOR, "h4").text == "KeyError"
    assert panel.find_element(By.CSS_SELECTOR, ".exception-message").text == f"'message' {HOSTILE}"
    frames = [frame.text for frame in panel.find_elements(By.CSS_SELECTOR, ".stack li")]
    assert frames == ["lambda_handler /var/task/app.py:12", "greet /var/task/app.py:30"]
    assert page.execute_script("return window.__pwned === undefined")
    screenshot(page, "trace-fault-exception")


def test_a_custom_time_range_reads_only_that_window(page: WebDriver, console, xray_server):
    recent = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, recent)
    Select(page.find_element(By.ID, "range")).select_by_value("custom")
    start, end = page.find_element(By.ID, "custom-start"), page.find_element(By.ID, "custom-end")
    assert start.is_displayed() and end.is_displayed()
    # A window that ended an hour before the trace: set as a person types it, then applied.
    page.execute_script(
        """const hour = 3600e3, pad = (n) => String(n).padStart(2, '0');
        const local = (t) => { const d = new Date(t); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-` +
          `${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`; };
        arguments[0].value = local(Date.now() - 3 * hour); arguments[1].value = local(Date.now() - hour);""",
        start,
        end,
    )
    page.find_element(By.CSS_SELECTOR, '#query button[type="submit"]').click()
    wait_for(page, lambda d: css(d, "tr.empty") and recent not in trace_rows(d), "an empty list")
    assert "live" not in page.find_element(By.CSS_SELECTOR, ".status-line").text


def test_more_than_a_page_of_traces_loads_by_next_token(page: WebDriver, console, xray_server):
    batch = uuid.uuid4().hex[:12]
    now = time.time()
    documents = []
    for index in range(130):  # the API answers 100 a page
        segment = fresh_trace("tutorial_hello_trace.json")[0]
        segment["start_time"] = now - 200 + index
        segment["end_time"] = segment["start_time"] + 0.01
        segment["annotations"] = {"batch": batch}
        documents.append(json.dumps(segment))
    xray = make_client(xray_server)
    for first in range(0, len(documents), 50):
        xray.put_trace_segments(TraceSegmentDocuments=documents[first : first + 50])
    expected = {json.loads(document)["trace_id"] for document in documents}
    page.get(console.url + "#/traces")
    apply_filter(page, f'annotation.batch = "{batch}"')
    wait_for(page, lambda d: len(trace_rows(d)) == 100, "the first page")
    page.find_element(By.CSS_SELECTOR, "button.more").click()
    wait_for(page, lambda d: len(trace_rows(d)) == 130, "the second page added")
    rows = trace_rows(page)
    assert set(rows) == expected
    assert not page.find_element(By.CSS_SELECTOR, "button.more").is_displayed()


def test_with_aws_the_page_reads_through_signed_calls(page: WebDriver, xray_server, monkeypatch):
    """--aws: the same page, its calls signed with the default chain's credentials and sent to
    "AWS", here the local X-Ray standing in for it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBROWSERTEST00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "browser-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    trace_id = send(xray_server, "tutorial_ddb_trace.json")
    with ConsoleServer(None, None, aws_endpoint_urls={"xray": xray_server.api_url}) as aws_console:
        open_traces(page, aws_console, trace_id)
        assert page.find_element(By.ID, "source").text == "AWS · ap-northeast-1"
        page.get(aws_console.url + f"#/traces/{trace_id}")
        wait_for(page, lambda d: css(d, '.span-row[data-name="put_item ddb"]'), "the trace's timeline")


def test_a_trace_id_from_a_response_header_opens_that_trace(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_hello_trace.json")
    page.get(console.url + "#/traces")
    box = page.find_element(By.CSS_SELECTOR, "input.open-id")
    box.send_keys(f"Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=1", Keys.ENTER)
    wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, ".trace-id-full").text == trace_id, "the trace opened"
    )
    assert page.current_url.endswith(f"#/traces/{trace_id}")


def test_an_xray_api_that_is_down_is_said_on_the_page(page: WebDriver, xray_server):
    with ConsoleServer(f"http://127.0.0.1:{free_port()}", None) as down:
        page.get(down.url + "#/traces")
        error = page.find_element(By.ID, "filter-error")
        wait_for(page, lambda d: error.is_displayed(), "the error")
        assert "cannot reach the local X-Ray at http://127.0.0.1:" in error.text
        assert css(page, "tr.empty")


SET_VISIBILITY = """
Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => arguments[0]});
document.dispatchEvent(new Event('visibilitychange'));
"""
COUNT_CALLS = """
window.__calls = 0;
const original = window.fetch;
window.fetch = (...args) => { window.__calls += 1; return original(...args); };
"""


def test_the_list_polls_only_while_the_page_is_visible(page: WebDriver, console, xray_server):
    first = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, first)
    page.execute_script(COUNT_CALLS)
    wait_for(page, lambda d: d.execute_script("return window.__calls") >= 1, "a live poll")
    page.execute_script(SET_VISIBILITY, "hidden")
    hidden_at = page.execute_script("return window.__calls")
    later = send(xray_server, "tutorial_hello_trace.json", ago=1)
    # Two and a half poll intervals with the tab hidden (a wait in the page's own clock).
    page.set_script_timeout(30)
    page.execute_async_script("setTimeout(arguments[arguments.length - 1], 2500)")
    # Hiding cancels the next poll at once (a poll already on its way was counted before).
    assert page.execute_script("return window.__calls") == hidden_at
    page.execute_script(SET_VISIBILITY, "visible")
    wait_for(page, lambda d: later in trace_rows(d), "the new trace once visible again")


def test_an_open_trace_shows_segments_that_arrive_later(page: WebDriver, console, xray_server):
    documents = fresh_trace("tutorial_ddb_trace.json", ago=1)
    stage = [d for d in documents if d.get("origin") == "AWS::ApiGateway::Stage"]
    send_documents(xray_server, stage)  # the API's segment first, as if the function still ran
    page.get(console.url + f"#/traces/{documents[0]['trace_id']}")
    wait_for(page, lambda d: css(d, '.span-row[data-name="sam-app/Prod"]'), "the stage segment")
    assert not css(page, '.span-row[data-name="put_item ddb"]')
    page.execute_script("window.__sameDocument = true")
    send_documents(xray_server, [d for d in documents if d not in stage])
    wait_for(page, lambda d: css(d, '.span-row[data-name="put_item ddb"]'), "the function's segments, live")
    assert page.execute_script("return window.__sameDocument === true")


def test_refining_by_an_aws_annotation_adds_a_filter_the_api_takes(page: WebDriver, console, xray_server):
    ddb = send(xray_server, "tutorial_ddb_trace.json", annotate={"aws:api_stage": "Beta"})
    hello = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, ddb, hello)
    apply_filter(page, "http.status = 200")
    wait_for(page, lambda d: {ddb, hello} <= set(trace_rows(d)), "both listed")
    Select(page.find_element(By.CSS_SELECTOR, "select.group-by")).select_by_value("annotation:aws:api_stage")
    wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, 'button.refine[data-value="\\"Beta\\""]'), "Beta"
    ).click()
    expected = '(http.status = 200) AND annotation["aws:api_stage"] = "Beta"'
    wait_for(page, lambda d: d.find_element(By.ID, "filter").get_attribute("value") == expected, "the filter")
    wait_for(page, lambda d: trace_rows(d) == [ddb], "only the Beta trace")
    assert not page.find_element(By.ID, "filter-error").is_displayed()


READ_CLIPBOARD = "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('failed: ' + e))"


def test_copy_puts_the_whole_trace_id_on_the_clipboard(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, trace_id)
    origin = console.url.rstrip("/")
    page.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    row = page.find_element(By.CSS_SELECTOR, f'tr.trace-row[data-trace-id="{trace_id}"]')
    row.find_element(By.CSS_SELECTOR, "button.copy").click()
    wait_for(page, lambda d: row.find_element(By.CSS_SELECTOR, "button.copy").text == "Copied", "Copied")
    assert page.execute_async_script(READ_CLIPBOARD) == trace_id


def test_a_trace_that_is_not_stored_is_said_so(page: WebDriver, console):
    missing = "1-00000000-000000000000000000000000"
    page.get(console.url + f"#/traces/{missing}")
    message = wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, ".error-box").text, "the message")
    assert message.startswith(f"No trace {missing}")


def test_a_bar_of_the_response_time_histogram_narrows_the_list(page: WebDriver, console, xray_server):
    batch = uuid.uuid4().hex[:12]
    fast = [send(xray_server, "tutorial_hello_trace.json", annotate={"batch": batch}) for _ in range(2)]
    slow = send(xray_server, "tutorial_ddb_trace.json", annotate={"batch": batch})  # 312 ms against 50
    page.get(console.url + "#/traces")
    apply_filter(page, f'annotation.batch = "{batch}"')
    wait_for(page, lambda d: set(trace_rows(d)) == {*fast, slow}, "the batch listed")
    bins = [b for b in css(page, ".histogram-bin") if b.get_attribute("data-count") != "0"]
    assert [b.get_attribute("data-count") for b in bins] == ["2", "1"]
    screenshot(page, "traces-histogram")
    bins[-1].click()
    wait_for(page, lambda d: trace_rows(d) == [slow], "only the slow trace")
    assert "responsetime >= " in (page.find_element(By.ID, "filter").get_attribute("value") or "")


def test_compare_marks_what_only_one_trace_has_and_how_long_the_rest_took(
    page: WebDriver, console, xray_server
):
    cold = fresh_trace("tutorial_ddb_trace.json")
    warm = fresh_trace("tutorial_ddb_trace.json")
    function = next(d for d in warm if d.get("origin") == "AWS::Lambda::Function")
    function["subsegments"] = [s for s in function["subsegments"] if s["name"] != "Initialization"]
    send_documents(xray_server, cold + warm)
    cold_id, warm_id = cold[0]["trace_id"], warm[0]["trace_id"]
    page.get(console.url + f"#/compare/{cold_id}/{warm_id}")
    wait_for(page, lambda d: all(css(c, ".span-row") for c in css(d, ".compare-column")), "both timelines")
    cold_column, warm_column = css(page, ".compare-column")
    only = [row.get_attribute("data-name") for row in css(cold_column, ".span-row") if css(row, ".only-here")]
    assert only == ["Initialization"]
    assert css(warm_column, ".only-here") == []
    screenshot(page, "traces-compare-cold-warm")


def test_the_address_keeps_the_filter_through_a_reload_and_back(page: WebDriver, console, xray_server):
    ddb = send(xray_server, "tutorial_ddb_trace.json")
    hello = send(xray_server, "tutorial_hello_trace.json")
    open_traces(page, console, ddb, hello)
    apply_filter(page, 'http.method = "GET"')
    wait_for(page, lambda d: "filter=http.method" in d.current_url, "the filter in the address")
    assert "minutes=15" in page.current_url
    page.refresh()
    wait_for(page, lambda d: hello in trace_rows(d) and ddb not in trace_rows(d), "the filtered list again")
    assert page.find_element(By.ID, "filter").get_attribute("value") == 'http.method = "GET"'
    page.back()  # to the list before the filter
    wait_for(page, lambda d: {ddb, hello} <= set(trace_rows(d)), "the whole list again")
    assert page.find_element(By.ID, "filter").get_attribute("value") == ""


def test_the_timeline_is_driven_from_the_keyboard(page: WebDriver, console, xray_server):
    trace_id = send(xray_server, "tutorial_ddb_trace.json")
    page.get(console.url + f"#/traces/{trace_id}")
    row = wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, '.span-row[data-name="put_item ddb"]'), "rows"
    )
    row.click()
    row.send_keys(Keys.ARROW_LEFT)  # folds put_item ddb
    assert not [r for r in css(page, '.span-row[data-name="DynamoDB"]') if r.is_displayed()]
    row.send_keys(Keys.ARROW_DOWN)  # past the folded DynamoDB rows, to Overhead
    selected = page.find_element(By.CSS_SELECTOR, ".span-row.selected")
    assert selected.get_attribute("data-name") == "Overhead"
    assert page.switch_to.active_element.get_attribute("data-name") == "Overhead"
    page.switch_to.active_element.send_keys(Keys.ARROW_UP, Keys.ARROW_RIGHT)  # back, and unfold
    assert (
        page.find_element(By.CSS_SELECTOR, ".span-row.selected").get_attribute("data-name") == "put_item ddb"
    )
    assert [r for r in css(page, '.span-row[data-name="DynamoDB"]') if r.is_displayed()]
    assert "put_item ddb" in page.find_element(By.CSS_SELECTOR, ".details h3").text
