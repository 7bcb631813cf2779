"""The X-Ray API through boto3, the AWS CLI and raw HTTP against a real local server."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from emulator.xray.backend import XRayBackend
from tests.xray.xray_support import (
    DDB_FUNCTION,
    STAGE,
    aws_cli,
    find,
    fresh_trace,
    send_documents,
    spaced_hello_segments,
    window,
)


def post(server, path: str, body: bytes) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(server.api_url + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_put_trace_segments_stores_valid_documents_and_reports_the_others(xray):
    documents = fresh_trace("tutorial_ddb_trace.json")
    broken = dict(documents[1], id="feedfacecafebeef")
    del broken["start_time"]

    answer = xray.put_trace_segments(
        TraceSegmentDocuments=[json.dumps(document) for document in documents] + [json.dumps(broken), "{oops"]
    )

    unprocessed = answer["UnprocessedTraceSegments"]
    assert [item["Id"] for item in unprocessed] == ["feedfacecafebeef", ""]
    assert "start_time is missing" in unprocessed[0]["Message"]
    assert "not valid JSON" in unprocessed[1]["Message"]
    assert {item["ErrorCode"] for item in unprocessed} == {"InvalidSegment"}
    names = {service["Name"] for service in xray.get_service_graph(**window())["Services"]}
    assert names == {STAGE, DDB_FUNCTION, "Demo"}


@pytest.mark.parametrize("shape", ["not a list", "a valid document and a number", "member missing"])
def test_a_badly_shaped_request_is_refused_whole_and_stores_nothing(xray_server, xray, shape):
    valid = json.dumps(fresh_trace("tutorial_hello_trace.json")[0])
    body = {
        "not a list": {"TraceSegmentDocuments": valid},
        "a valid document and a number": {"TraceSegmentDocuments": [valid, 5]},
        "member missing": {"TraceSegments": [valid]},
    }[shape]

    status, headers, answer = post(xray_server, "/TraceSegments", json.dumps(body).encode())

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert "TraceSegmentDocuments" in answer["message"]
    assert xray.get_service_graph(**window())["Services"] == []


def test_errors_are_rest_json_errors(xray_server):
    status, headers, answer = post(xray_server, "/TraceSegments", b"{not json")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestException")
    assert "not JSON" in answer["message"]
    status, headers, answer = post(xray_server, "/NoSuchOperation", b"{}")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    status, headers, answer = post(
        xray_server, "/ServiceGraph", json.dumps({"StartTime": 10, "EndTime": 5}).encode()
    )
    assert status == 400
    assert "EndTime" in answer["message"]


def test_batch_get_traces_assembles_segments_like_x_ray(xray_server, xray):
    documents = fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, documents)
    stage, lambda_service, function, put_item = documents

    answer = xray.batch_get_traces(TraceIds=[stage["trace_id"], "1-00000000-000000000000000000000000"])

    assert answer["UnprocessedTraceIds"] == ["1-00000000-000000000000000000000000"]
    [trace] = answer["Traces"]
    assert trace["Id"] == stage["trace_id"]
    assert trace["LimitExceeded"] is False
    assert trace["Duration"] == pytest.approx(stage["end_time"] - stage["start_time"], abs=1e-3)
    segments = {segment["Id"]: json.loads(segment["Document"]) for segment in trace["Segments"]}
    assert set(segments) >= {stage["id"], lambda_service["id"], function["id"]}
    # The subsegment sent on its own is back inside its segment.
    assert put_item["id"] not in segments
    # ...under the Invocation subsegment its parent_id names, as Lambda nests the SDK's work.
    [invocation] = [sub for sub in segments[function["id"]]["subsegments"] if sub["name"] == "Invocation"]
    assert [sub["name"] for sub in invocation["subsegments"]] == ["put_item ddb"]
    # DynamoDB appears as an inferred segment under the DynamoDB subsegment.
    [inferred] = [doc for doc in segments.values() if doc.get("inferred")]
    # Named for the service, as in the developer guide's BatchGetTraces example; the node on
    # the map is still the table (test_xray_graph).
    assert inferred["name"] == "DynamoDB"
    assert inferred["origin"] == "AWS::DynamoDB::Table"
    assert inferred["aws"]["table_name"] == "Demo"
    assert inferred["parent_id"] == find(documents, "DynamoDB")["id"]
    assert inferred["aws"]["operation"] == "PutItem"


@pytest.fixture
def four_traces(xray_server):
    """hello (GET 200), ddb (POST 200, cold start), ddb fault (POST 503), a throttled POST (429)."""
    hello = fresh_trace("tutorial_hello_trace.json")

    ddb_ok = fresh_trace("tutorial_ddb_trace.json")
    ddb_ok[0]["http"]["request"]["user_agent"] = "python-requests/2.32.3"
    ddb_ok[0]["http"]["request"]["client_ip"] = "198.51.100.7"

    ddb_fault = fresh_trace("tutorial_ddb_trace.json")
    ddb_fault[0]["http"]["response"]["status"] = 503
    ddb_fault[0]["end_time"] = ddb_fault[0]["start_time"] + 0.95
    find(ddb_fault, "put_item ddb")["annotations"]["ColdStart"] = False
    dynamodb = find(ddb_fault, "DynamoDB")
    dynamodb["fault"] = True
    dynamodb["http"]["response"]["status"] = 500

    throttled = fresh_trace("tutorial_ddb_trace.json")[:1]
    throttled[0]["http"]["response"]["status"] = 429
    throttled[0]["end_time"] = throttled[0]["start_time"] + 0.01
    del throttled[0]["subsegments"]

    traces = {"hello": hello, "ddb_ok": ddb_ok, "ddb_fault": ddb_fault, "throttled": throttled}
    for documents in traces.values():
        send_documents(xray_server, documents)
    return {name: documents[0]["trace_id"] for name, documents in traces.items()}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('http.url CONTAINS "/hello"', {"hello"}),
        ('http.url ENDSWITH "/ddb" AND NOT fault', {"ddb_ok", "throttled"}),
        ('http.url BEGINSWITH "https://k2x9q7w1ab"', {"hello", "ddb_ok", "ddb_fault", "throttled"}),
        ("http.status = 503", {"ddb_fault"}),
        ("http.status >= 400 AND http.status < 500", {"throttled"}),
        ("http.status != 200", {"ddb_fault", "throttled"}),
        ('http.method = "GET"', {"hello"}),
        ('http.useragent BEGINSWITH "python-requests"', {"ddb_ok"}),
        ('http.clientip = "198.51.100.7"', {"ddb_ok"}),
        ("responsetime > 0.2 AND responsetime <= 0.5", {"ddb_ok"}),
        ("duration >= 0.9", {"ddb_fault"}),
        ("error", {"throttled"}),
        ("fault", {"ddb_fault"}),
        ("throttle", {"throttled"}),
        ("error = false AND fault = false", {"hello", "ddb_ok"}),
        ('service("Demo")', {"ddb_ok", "ddb_fault"}),
        ('service(id(name: "Demo", type: "AWS::DynamoDB::Table"))', {"ddb_ok", "ddb_fault"}),
        ('service(id(name: "Demo", type: "AWS::Lambda"))', set()),
        ("annotation.ColdStart = true", {"ddb_ok"}),
        ("annotation[ColdStart] = false", {"ddb_fault"}),
        ("annotation.ColdStart", {"ddb_ok", "ddb_fault"}),
        ('(http.method = "GET" OR throttle) AND !fault', {"hello", "throttled"}),
        ('NOT (service("Demo") OR http.status = 429)', {"hello"}),
    ],
)
def test_get_trace_summaries_filters(xray, four_traces, expression, expected):
    summaries = xray.get_trace_summaries(**window(), FilterExpression=expression)["TraceSummaries"]

    names = {name for name, trace_id in four_traces.items() if trace_id in {s["Id"] for s in summaries}}
    assert names == expected


def test_trace_summary_fields(xray, four_traces):
    answer = xray.get_trace_summaries(**window(), FilterExpression='service("Demo") AND fault')

    assert answer["TracesProcessedCount"] == 4
    [summary] = answer["TraceSummaries"]
    assert summary["Id"] == four_traces["ddb_fault"]
    assert (summary["HasFault"], summary["HasError"], summary["HasThrottle"], summary["IsPartial"]) == (
        True,
        False,
        False,
        False,
    )
    assert summary["Http"]["HttpStatus"] == 503
    assert summary["Http"]["HttpMethod"] == "POST"
    assert summary["ResponseTime"] == pytest.approx(0.95, abs=1e-3)
    assert summary["EntryPoint"] == {
        "Name": STAGE,
        "Names": [STAGE],
        "AccountId": "123456789012",
        "Type": "AWS::ApiGateway::Stage",
    }
    service_ids = {(service["Name"], service.get("Type")) for service in summary["ServiceIds"]}
    assert {
        ("Demo", "AWS::DynamoDB::Table"),
        (STAGE, "client"),
        (STAGE, "AWS::ApiGateway::Stage"),
    } <= service_ids
    function_arn = f"arn:aws:lambda:ap-northeast-1:123456789012:function:{DDB_FUNCTION}"
    assert {"ARN": function_arn} in summary["ResourceARNs"]
    assert summary["Revision"] == 4  # four documents stored for the trace
    # The fault started in DynamoDB: the path from the stage down to the inferred table.
    [cause] = summary["FaultRootCauses"]
    assert cause["ClientImpacting"] is True  # the stage answered the client 503
    assert [service["Name"] for service in cause["Services"]][-1] == "Demo"
    table = cause["Services"][-1]
    assert (table["Type"], table["Inferred"]) == ("AWS::DynamoDB::Table", True)
    assert [entity["Name"] for entity in table["EntityPath"]] == ["DynamoDB"]
    function = next(s for s in cause["Services"] if s.get("Type") == "AWS::Lambda::Function")
    assert [entity["Name"] for entity in function["EntityPath"]] == [
        DDB_FUNCTION,
        "Invocation",
        "put_item ddb",
        "DynamoDB",
    ]
    assert function["EntityPath"][-1]["Remote"] is True
    assert summary["ErrorRootCauses"] == []
    [slowest] = summary["ResponseTimeRootCauses"]
    assert slowest["Services"][0]["EntityPath"][0] == {"Name": STAGE, "Coverage": 1.0, "Remote": False}
    [cold_start] = summary["Annotations"]["ColdStart"]
    assert cold_start["AnnotationValue"] == {"BooleanValue": False}
    assert cold_start["ServiceIds"][0]["Type"] == "AWS::Lambda::Function"


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("http.status CONTAINS 5", "CONTAINS cannot be used with http.status"),
        ("responsetime >", "expected a value"),
        ('responsetime > "slow"', "responsetime is a number"),
        ("http.url = 5", "http.url is a string"),
        ("bogus = 1", "unknown keyword 'bogus'"),
        ("(error", "expected ')'"),
        ("error AND", "expected a keyword"),
        ('edge("a")', "expected ','"),
        ("error @", "unexpected character '@'"),
    ],
)
def test_an_unparseable_filter_is_an_invalid_request_naming_the_problem(xray, expression, complaint):
    with pytest.raises(ClientError) as raised:
        xray.get_trace_summaries(**window(), FilterExpression=expression)

    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert complaint in raised.value.response["Error"]["Message"]


def test_trace_summaries_page_with_next_token(xray):
    now = time.time()
    documents = spaced_hello_segments(130, now)
    assert xray.put_trace_segments(TraceSegmentDocuments=documents)["UnprocessedTraceSegments"] == []

    pages = list(xray.get_paginator("get_trace_summaries").paginate(StartTime=now - 300, EndTime=now + 5))

    assert [len(page["TraceSummaries"]) for page in pages] == [100, 30]
    ids = [summary["Id"] for page in pages for summary in page["TraceSummaries"]]
    assert sorted(ids) == sorted(json.loads(document)["trace_id"] for document in documents)
    with pytest.raises(ClientError, match="NextToken"):
        xray.get_trace_summaries(StartTime=now - 300, EndTime=now + 5, NextToken="garbage")


def test_sampling_rules_and_targets_answer_the_sdk_poller(xray):
    [record] = xray.get_sampling_rules()["SamplingRuleRecords"]
    rule = record["SamplingRule"]
    assert (rule["RuleName"], rule["FixedRate"], rule["ReservoirSize"]) == ("Default", 0.05, 1)

    answer = xray.get_sampling_targets(
        SamplingStatisticsDocuments=[
            {
                "RuleName": "Default",
                "ClientID": "a" * 24,
                "Timestamp": time.time(),
                "RequestCount": 3,
                "SampledCount": 1,
            },
            {
                "RuleName": "Nope",
                "ClientID": "a" * 24,
                "Timestamp": time.time(),
                "RequestCount": 1,
                "SampledCount": 0,
            },
        ]
    )
    [target] = answer["SamplingTargetDocuments"]
    assert (target["RuleName"], target["FixedRate"], target["ReservoirQuota"]) == ("Default", 0.05, 1)
    assert [item["RuleName"] for item in answer["UnprocessedStatistics"]] == ["Nope"]


def test_the_aws_cli_reads_the_local_service_graph(xray_server):
    send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))
    now = int(time.time())
    aws, env = aws_cli()

    command = [
        str(aws),
        "xray",
        "get-service-graph",
        "--start-time",
        str(now - 600),
        "--end-time",
        str(now + 5),
    ]
    result = subprocess.run(
        [*command, "--endpoint-url", xray_server.api_url, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    graph = json.loads(result.stdout)
    assert {(s["Name"], s["Type"]) for s in graph["Services"]} == {
        (STAGE, "client"),
        (STAGE, "AWS::ApiGateway::Stage"),
        (DDB_FUNCTION, "AWS::Lambda"),
        (DDB_FUNCTION, "AWS::Lambda::Function"),
        ("Demo", "AWS::DynamoDB::Table"),
    }


# Every example expression of the developer guide's filter-expression page
# (awsdocs/aws-xray-developer-guide, doc-source/xray-console-filters.md), with the traces of
# four_traces that it selects. The guide's `rootcause.fault.exception { last and message = ...`
# lacks its closing brace there; it is tested closed.
GUIDE_EXAMPLES = [
    ("responsetime > 5", set()),
    ("duration >= 5 AND duration <= 8", set()),
    ("ok", {"hello", "ddb_ok"}),
    ("!ok", {"ddb_fault", "throttled"}),
    ("ok = false", {"ddb_fault", "throttled"}),
    ('rootcause.fault.entity { last and name = "deserialize" }', set()),
    ('rootcause.fault.entity { last and name = "DynamoDB" }', {"ddb_fault"}),
    ('rootcause.responsetime.entity { remote and coverage > 0.7 and name = "traces" }', set()),
    ('rootcause.fault.service { inferred and name = traces and type = "AWS::DynamoDB" }', set()),
    ('rootcause.fault.service { inferred and name = Demo and type = "AWS::DynamoDB::Table" }', {"ddb_fault"}),
    ('service("data-plane") {root = true and fault = true}', set()),
    (f'service("{STAGE}") {{root = true and fault = true}}', {"ddb_fault"}),
    ("http.status != 200", {"ddb_fault", "throttled"}),
    ("ok !partial duration <3", {"hello", "ddb_ok"}),
    ("rootcause.fault.service { index > 5 }", set()),
    ("rootcause.fault.service { index > 2 }", {"ddb_fault"}),
    ("rootcause.responsetime.entity { last and coverage > 0.8 }", {"throttled"}),
    ('http.url CONTAINS "/api/game/"', set()),
    ('user CONTAINS ""', set()),
    ('rootcause.fault.service { name = "Auth" }', set()),
    ('rootcause.responsetime.service { last and type = "AWS::DynamoDB" }', set()),
    ('rootcause.fault.exception { last and message = "Access Denied for account_id: 1234567890" }', set()),
    ('service("api.example.com") { fault }', set()),
    ("service() { fault }", {"ddb_fault"}),
    ('edge("api.example.com", "backend.example.com") { error }', set()),
    (f'edge("{DDB_FUNCTION}", "Demo") {{ fault }}', {"ddb_fault"}),
    (
        'http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/"'
        ' AND !service("api.example.com")',
        set(),
    ),
    ("http.url AND responseTime > 2", set()),
    ('annotation.gameid = "817DL6VO"', set()),
    ("annotation.age", set()),
    ("!annotation.age", {"hello", "ddb_ok", "ddb_fault", "throttled"}),
    ("annotation.age > 29", set()),
    (
        'rootcause.json = #[{ "Services": [ { "Name": "GetWeatherData",'
        ' "EntityPath": [{ "Name": "GetWeatherData" }, { "Name": "get_temperature" } ] },'
        ' { "Name": "GetTemperature", "EntityPath": [ { "Name": "GetTemperature" } ] } ] }]',
        set(),
    ),
    ('service("random-name") { error }', set()),
    ('service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }', set()),
    ('service(id(type: "AWS::Lambda::Function")) { error }', set()),
    ('service(id(type: "AWS::ApiGateway::Stage")) { error }', {"throttled"}),
    (
        f'edge(id(name: "{STAGE}", type: "client"),'
        f' id(name: "{STAGE}", type: "AWS::ApiGateway::Stage")) {{ throttle }}',
        {"throttled"},
    ),
]


@pytest.mark.parametrize(("expression", "expected"), GUIDE_EXAMPLES)
def test_the_developer_guides_filter_examples(xray, four_traces, expression, expected):
    summaries = xray.get_trace_summaries(**window(), FilterExpression=expression)["TraceSummaries"]

    names = {name for name, trace_id in four_traces.items() if trace_id in {s["Id"] for s in summaries}}
    assert names == expected


def test_the_guides_unclosed_rootcause_example_is_refused_where_the_brace_is_missing(xray):
    expression = 'rootcause.fault.exception { last and message = "Access Denied for account_id: 1234567890" '
    with pytest.raises(ClientError, match=r"expected '\}', found the end of the expression"):
        xray.get_trace_summaries(**window(), FilterExpression=expression)


def test_trace_summaries_come_newest_first(xray, four_traces):
    summaries = xray.get_trace_summaries(**window())["TraceSummaries"]

    starts = [summary["StartTime"] for summary in summaries]
    assert len(starts) == 4 and starts == sorted(starts, reverse=True)


def test_the_summaries_body_is_the_stored_summaries_as_sent_and_decodes_to_the_backends_answer(
    xray_server, four_traces
):
    # GetTraceSummaries puts the index's stored JSON in its body as it is (no decoding and
    # encoding again): the body must still be one JSON object, with what the backend answers.
    start, end = time.time() - 300, time.time() + 5
    status, headers, body = post(
        xray_server, "/TraceSummaries", json.dumps({"StartTime": start, "EndTime": end}).encode()
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = XRayBackend(xray_server.store).get_trace_summaries(start, end)
    assert body["TraceSummaries"] == answer["TraceSummaries"] and len(body["TraceSummaries"]) == 4
    assert body["TracesProcessedCount"] == answer["TracesProcessedCount"] == 4
    assert set(body) == {"TraceSummaries", "ApproximateTime", "TracesProcessedCount"}
