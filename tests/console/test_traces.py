"""The terminal Traces view: the list and the timeline, end to end and on recorded responses."""

import json
import re
import time
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console

from console.traces import fetch_trace_summaries, main, render_trace_summaries, render_trace_timeline
from console.xray_client import make_client
from tests.xray.xray_support import (
    DDB_FUNCTION,
    HELLO_FUNCTION,
    STAGE,
    find,
    fresh_trace,
    load,
    send_documents,
    spaced_hello_segments,
)

GUIDES = " │├└─"
# What the ddb trace's timeline must draw: (name, origin or namespace, depth), top to bottom.
DDB_TIMELINE = [
    (STAGE, "AWS::ApiGateway::Stage", 1),
    ("Lambda", "aws", 2),
    (DDB_FUNCTION, "AWS::Lambda", 3),
    (DDB_FUNCTION, "AWS::Lambda::Function", 4),
    ("Initialization", "", 5),
    ("Invocation", "", 5),
    ("put_item ddb", "", 6),  # sent by the SDK on its own, parent_id = the Invocation subsegment
    ("DynamoDB", "aws", 7),
    ("DynamoDB", "AWS::DynamoDB::Table", 8),  # inferred from the DynamoDB subsegment (node: Demo)
    ("Overhead", "", 5),
]


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # rich reads the width from COLUMNS when stdout is not a terminal; wide enough for a URL.
    monkeypatch.setenv("COLUMNS", "250")


def text_of(renderable) -> str:
    console = Console(record=True, width=250, color_system=None)
    console.print(renderable)
    return console.export_text()


def timeline_rows(text: str) -> list[tuple[str, str, int]]:
    """(name, origin or namespace, depth) of each span line of a rendered timeline."""
    rows = []
    for line in text.splitlines():
        match = re.match(
            r"^(?P<guides>[ │├└─]*)(?P<name>.+?)\s+\+[\d.]+ ms\s+[\d.…]+ ms │[·█]+│ ?(?P<rest>.*)$", line
        )
        if match is None:
            continue
        kind = match["rest"].split(" ")[0] if match["rest"] else ""
        kind = "" if kind in ("fault", "error", "throttle", "in") else kind
        depth, remainder = divmod(len(match["guides"]), 4)
        assert remainder == 0, line
        rows.append((match["name"], kind, depth))
    return rows


def send_both(server) -> tuple[list[dict], list[dict]]:
    """The hello trace, then the ddb trace 5 s later: the ddb trace is the newest."""
    hello = fresh_trace("tutorial_hello_trace.json", ago=10)
    ddb = fresh_trace("tutorial_ddb_trace.json", ago=5)
    send_documents(server, hello)
    send_documents(server, ddb)
    return hello, ddb


def row_of(out: str, trace_id: str) -> str:
    rows = [line for line in out.splitlines() if trace_id in line]
    assert len(rows) == 1, out
    return rows[0]


# --- end to end, against a real local X-Ray ---------------------------------------------------


def test_the_list_shows_both_traces_newest_first(capsys, xray_server):
    hello, ddb = send_both(xray_server)

    code = main(["--endpoint-url", xray_server.api_url, "--minutes", "10"])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    ddb_row = row_of(captured.out, ddb[0]["trace_id"])
    hello_row = row_of(captured.out, hello[0]["trace_id"])
    assert captured.out.index(ddb_row) < captured.out.index(hello_row)
    assert re.search(r"│ POST +│ https://\S+/Prod/ddb +│ +200 │ +312\.0 │ +│ ColdStart=true", ddb_row), (
        ddb_row
    )
    assert re.search(r"│ GET +│ https://\S+/Prod/hello +│ +200 │ +50\.0 │", hello_row), hello_row
    started = datetime.fromtimestamp(ddb[0]["start_time"])
    assert f"{started:%H:%M:%S}.{started.microsecond // 1000:03d}" in ddb_row


def test_the_limit_keeps_the_newest(capsys, xray_server):
    hello, ddb = send_both(xray_server)

    assert main(["--endpoint-url", xray_server.api_url, "--limit", "1"]) == 0

    out = capsys.readouterr().out
    assert ddb[0]["trace_id"] in out
    assert hello[0]["trace_id"] not in out
    assert "newest 1 of 2" in out


def test_a_filter_chooses_the_traces(capsys, xray_server):
    hello, ddb = send_both(xray_server)

    code = main(["--endpoint-url", xray_server.api_url, "--filter", 'http.method = "POST"'])

    out = capsys.readouterr().out
    assert code == 0
    assert ddb[0]["trace_id"] in out
    assert hello[0]["trace_id"] not in out
    assert "/Prod/hello" not in out


def test_latest_draws_the_newest_traces_timeline(capsys, xray_server):
    _, ddb = send_both(xray_server)

    code = main(["--endpoint-url", xray_server.api_url, "--latest"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].startswith(f"trace {ddb[0]['trace_id']}  started ")
    assert timeline_rows(out) == DDB_TIMELINE


def test_id_draws_that_traces_timeline(capsys, xray_server):
    hello, _ = send_both(xray_server)

    code = main(["--endpoint-url", xray_server.api_url, "--id", hello[0]["trace_id"]])

    out = capsys.readouterr().out
    assert code == 0
    assert timeline_rows(out) == [
        (STAGE, "AWS::ApiGateway::Stage", 1),
        ("Lambda", "aws", 2),
        (HELLO_FUNCTION, "AWS::Lambda", 3),
        (HELLO_FUNCTION, "AWS::Lambda::Function", 4),
        ("Invocation", "", 5),
        ("hello world", "", 6),
        ("Overhead", "", 5),
    ]


def test_a_fault_shows_its_exception_under_the_span(capsys, xray_server):
    documents = fresh_trace("tutorial_ddb_trace.json")
    dynamodb = find(documents, "DynamoDB")
    dynamodb["fault"] = True
    dynamodb["cause"] = {
        "working_directory": "/var/task",
        "exceptions": [
            {"id": "0c1d2e3f4a5b6c7d", "type": "ClientError", "message": "Requested resource not found"}
        ],
    }
    send_documents(xray_server, documents)

    assert main(["--endpoint-url", xray_server.api_url, "--latest"]) == 0

    lines = capsys.readouterr().out.splitlines()
    span = next(i for i, line in enumerate(lines) if re.search(r"─ DynamoDB\s", line))
    assert lines[span].endswith(" aws fault")
    assert lines[span + 1].strip(GUIDES) == "! ClientError: Requested resource not found"
    # The inferred Demo segment copies the cause; the exception is said once.
    assert sum("Requested resource not found" in line for line in lines) == 1


def test_a_bad_filter_is_one_line_and_exit_2(capsys, xray_server):
    code = main(["--endpoint-url", xray_server.api_url, "--filter", "http.status = "])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: --filter 'http.status = ': FilterExpression is not valid:")


def test_latest_with_no_trace_says_so(capsys, xray_server):
    code = main(["--endpoint-url", xray_server.api_url, "--latest"])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == "error: no traces in the last 60 minutes\n"


def test_an_unknown_id_says_so(capsys, xray_server):
    trace_id = "1-00000000-000000000000000000000000"

    code = main(["--endpoint-url", xray_server.api_url, "--id", trace_id])

    assert code == 1
    assert (
        capsys.readouterr().err
        == f"error: trace {trace_id} not found in the local X-Ray at {xray_server.api_url}\n"
    )


def test_an_unreachable_endpoint_is_one_line_and_exit_2(capsys, xray_server):
    port = xray_server.tcp_port
    xray_server.stop()  # a port that was just ours, so nothing listens on it

    code = main(["--endpoint-url", f"http://127.0.0.1:{port}", "--latest"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: cannot reach the local X-Ray")


# --- the renderers on recorded response shapes ------------------------------------------------


def recorded_batch_get_traces_trace() -> dict:
    """The ddb trace as BatchGetTraces' JSON has it: Document is text; the SDK's loose
    subsegment is left as sent (type "subsegment"), for the renderer to place by parent_id."""
    documents = load("tutorial_ddb_trace.json")
    dynamodb = find(documents, "DynamoDB")
    dynamodb["fault"] = True
    dynamodb["cause"] = {"exceptions": [{"id": "0c1d2e3f4a5b6c7d", "type": "ClientError", "message": "boom"}]}
    put_item = find(documents, "put_item ddb")
    put_item["fault"] = True
    put_item["cause"] = "0c1d2e3f4a5b6c7d"  # the SDK refers to an exception recorded below it
    demo = {
        "id": "3a1f0c9d8e7b6a5f",
        "name": "DynamoDB",  # as AWS names the inferred segment; its node is the table
        "start_time": dynamodb["start_time"],
        "end_time": dynamodb["end_time"],
        "parent_id": dynamodb["id"],
        "inferred": True,
        "trace_id": documents[0]["trace_id"],
        "origin": "AWS::DynamoDB::Table",
    }
    # AWS lists segments in no particular order.
    segments = [
        {"Id": document["id"], "Document": json.dumps(document)} for document in [demo, *reversed(documents)]
    ]
    return {"Id": documents[0]["trace_id"], "Duration": 0.312, "LimitExceeded": False, "Segments": segments}


def test_the_timeline_renders_a_batch_get_traces_trace():
    text = text_of(render_trace_timeline(recorded_batch_get_traces_trace()))
    lines = text.splitlines()

    assert lines[0].startswith("trace 1-6666f180-5f2a1b3c4d5e6f708192a3b4  started ")
    assert "312.0 ms · 10 segments and subsegments" in lines[0]
    assert timeline_rows(text) == DDB_TIMELINE

    def line(name: str) -> str:
        return next(line for line in lines if re.search(rf"─ {re.escape(name)}\s", line))

    # Offsets and durations from the trace's start (1718000000.1), in ms.
    assert re.search(r"\+0\.0 ms +312\.0 ms │█{40}│", line(STAGE))
    # Invocation: 203 ms in, 93 ms long -> cells 26 to 38 of 40.
    assert re.search(r"\+203\.0 ms +93\.0 ms │·{26}█{12}·{2}│", line("Invocation"))
    assert re.search(r"\+296\.0 ms +2\.0 ms │·{37}█·{2}│", line("Overhead"))
    assert line("DynamoDB").endswith(" aws fault")
    assert line("put_item ddb").endswith("│ fault")
    # Both the exception recorded on DynamoDB and put_item's reference to it name it.
    assert sum(line.strip(GUIDES) == "! ClientError: boom" for line in lines) == 2


def test_the_timeline_survives_parent_ids_that_loop():
    first = {"id": "a" * 16, "name": "first", "start_time": 10.0, "end_time": 11.0, "parent_id": "b" * 16}
    second = {"id": "b" * 16, "name": "second", "start_time": 10.5, "end_time": 12.0, "parent_id": "a" * 16}
    trace = {"Id": "1-x", "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in (first, second)]}

    names = [name for name, _, _ in timeline_rows(text_of(render_trace_timeline(trace)))]

    assert sorted(names) == ["first", "second"]


@pytest.mark.parametrize(
    "start, end",
    [
        (-1e308, 1e308),
        (float("nan"), 11.0),
        (10.0, float("inf")),
        ("soon", "later"),
        (12.0, 10.0),
        (1e300, None),
    ],
)
def test_the_timeline_draws_spans_whose_times_cannot_be_placed(start, end):
    # What an X-Ray store written before intake checked times (or any other X-Ray) may answer.
    good = {"id": "a" * 16, "name": "good", "start_time": 10.0, "end_time": 11.0}
    odd = {"id": "b" * 16, "name": "odd", "start_time": start, "end_time": end, "parent_id": "a" * 16}
    trace = {"Id": "1-x", "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in (good, odd)]}

    text = text_of(render_trace_timeline(trace))

    assert "─ good " in text and "─ odd " in text
    assert text.splitlines()[0].startswith("trace 1-x  started ")


def test_the_list_renders_a_get_trace_summaries_response():
    # TraceSummaries as the API's JSON has them: StartTime in epoch seconds.
    summaries: list[dict[str, Any]] = [
        {
            "Id": "1-6666f180-5f2a1b3c4d5e6f708192a3b4",
            "StartTime": 1718000000.1,
            "ResponseTime": 0.5,
            "HasFault": True,
            "HasError": False,
            "HasThrottle": False,
            "IsPartial": False,
            "Http": {"HttpURL": "https://example.com/Prod/ddb", "HttpStatus": 502, "HttpMethod": "POST"},
            "Annotations": {
                "ColdStart": [{"AnnotationValue": {"BooleanValue": True}, "ServiceIds": []}],
                "user": [{"AnnotationValue": {"StringValue": "alice"}, "ServiceIds": []}],
            },
        },
        {
            "Id": "1-6666f17f-000000000000000000000000",
            "StartTime": 1717999999.0,
            "HasError": True,
            "HasThrottle": True,
        },
    ]

    text = text_of(render_trace_summaries(summaries))

    started = datetime.fromtimestamp(1718000000.1)
    first = row_of(text, summaries[0]["Id"])
    assert re.search(
        rf"│ {started:%H:%M:%S}\.100 +│ POST +│ https://example.com/Prod/ddb +│ +502 │ +500\.0 │ fault +│"
        r' ColdStart=true, user="alice" +│',
        first,
    ), first
    assert re.search(r"│ +- │ error throttle │", row_of(text, summaries[1]["Id"]))


def test_an_empty_list_says_so():
    assert "no traces" in text_of(render_trace_summaries([]))


def test_the_list_reads_only_the_pages_it_shows(capsys, xray_server):
    # 130 traces: two pages of GetTraceSummaries. Twenty newest need only the first.
    client = make_client(xray_server.api_url, "ap-northeast-1")
    now = time.time()
    documents = spaced_hello_segments(130, now)
    assert client.put_trace_segments(TraceSegmentDocuments=documents)["UnprocessedTraceSegments"] == []

    summaries, complete = fetch_trace_summaries(client, now - 300, now + 5, limit=20)

    assert complete is False
    assert len(summaries) == 100
    newest = sorted((json.loads(d) for d in documents), key=lambda d: d["start_time"])[-1]
    assert summaries[0]["Id"] == newest["trace_id"]
    everything, complete = fetch_trace_summaries(client, now - 300, now + 5)
    assert complete is True and len(everything) == 130
    assert main(["--endpoint-url", xray_server.api_url, "--limit", "5"]) == 0
    assert "newest 5 of more than 100" in capsys.readouterr().out
