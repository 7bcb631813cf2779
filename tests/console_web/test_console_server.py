"""The console's server over real HTTP: who may call, what may be called, the pass-through to a
real local X-Ray and a real moto CloudWatch Logs, the static files, and SigV4 for --aws."""

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from console.web.server import ConsoleServer
from emulator.loopback import free_port
from emulator.xray.server import XRayServer
from tests.console_web.console_support import call, post_json, recording_forwarder
from tests.xray.xray_support import fresh_trace, send_documents, window

AWS_ACCESS_KEY = "AKIDCONSOLETEST00001"
AWS_SECRET = "console-test-secret"
START_LINE = "START RequestId: r-1 Version: $LATEST"


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    """A page folder of its own, with a secret next to it that must never be served."""
    static = tmp_path / "static"
    (static / "vendor").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><title>console</title>")
    (static / "app.js").write_text("export const app = 1;\n")
    (static / "vendor" / "lib.js").write_text("export default 2;\n")
    (static / ".hidden.js").write_text("hidden")
    (tmp_path / "secret.txt").write_text("not for the page")
    (static / "link.txt").symlink_to(tmp_path / "secret.txt")
    return static


@pytest.fixture
def console(xray_server: XRayServer, static_dir: Path) -> Iterator[ConsoleServer]:
    # Logs at a port nothing listens on: the X-Ray tests must not depend on it.
    server = ConsoleServer(xray_server.api_url, f"http://127.0.0.1:{free_port()}", static_dir=static_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def same_origin(console: ConsoleServer) -> dict[str, str]:
    """The headers Chromium sends with the page's own fetch() POSTs."""
    return {"Origin": console.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}


def stored_trace(xray_server: XRayServer) -> str:
    documents = fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, documents)
    return str(documents[0]["trace_id"])


# -- the page's files ------------------------------------------------------------------------


def test_serves_the_page_and_its_modules_with_their_types(console: ConsoleServer):
    page = call(console.url)
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.body == b"<!doctype html><title>console</title>"
    module = call(console.url + "vendor/lib.js")
    assert module.status == 200
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "script-src 'self'" in module.headers["content-security-policy"]
    assert module.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/vendor/%2e%2e/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/link.txt",  # a symlink out of the folder
        "/.hidden.js",
        "/vendor",
        "/missing.js",
        "/app.js%00.html",
    ],
)
def test_no_path_reaches_outside_the_page_folder(console: ConsoleServer, path: str):
    answer = call(console.url.rstrip("/") + path)
    assert answer.status == 404
    assert b"not for the page" not in answer.body
    assert "message" in answer.json()


# -- who may call ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "", "localhost:notaport"])
def test_a_host_that_is_not_a_loopback_name_is_refused(console: ConsoleServer, host: str):
    for method, body in (("GET", None), ("POST", b"{}")):
        answer = call(console.url + ("xray/TraceSummaries" if body else ""), method, body, {"Host": host})
        assert answer.status == 403
        assert "loopback" in answer.json()["message"]


def test_loopback_names_are_answered(console: ConsoleServer):
    port = console.url.rstrip("/").rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"LOCALHOST:{port}", f"console.localhost:{port}", f"127.0.0.1:{port}"):
        assert call(console.url, headers={"Host": host}).status == 200, host


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},  # another local page, on another port
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_api_calls_from_other_pages_are_refused_before_anything_is_sent_on(
    console: ConsoleServer, xray_server: XRayServer, headers: dict[str, str]
):
    stored_trace(xray_server)
    answer = post_json(console.url + "xray/TraceSummaries", window(), headers)
    assert answer.status == 403
    assert "refused" in answer.json()["message"]
    assert "TraceSummaries" not in answer.json()


def test_the_pages_own_calls_pass_and_no_answer_carries_cors_headers(
    console: ConsoleServer, xray_server: XRayServer
):
    trace_id = stored_trace(xray_server)
    answers = [
        post_json(console.url + "xray/TraceSummaries", window(), same_origin(console)),
        post_json(console.url + "xray/TraceSummaries", window()),  # no Origin: curl, the tests
        post_json(console.url + "xray/TraceSummaries", window(), {"Origin": "https://evil.example"}),
        call(console.url, headers={"Origin": "https://evil.example"}),
    ]
    assert [answer.status for answer in answers] == [200, 200, 403, 200]
    assert [s["Id"] for s in answers[0].json()["TraceSummaries"]] == [trace_id]
    for answer in answers:
        assert not [name for name in answer.headers if name.startswith("access-control-")]


# -- what may be called ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["TraceSegments", "CreateGroup", "DeleteGroup", "UpdateGroup", "TelemetryRecords", "Nope", ""]
)
def test_only_read_only_xray_calls_pass(
    console: ConsoleServer, xray: Any, xray_server: XRayServer, path: str
):
    payload: dict[str, Any] = {"GroupName": "made-by-a-page", "FilterExpression": "ok"}
    if path == "TraceSegments":
        payload = {"TraceSegmentDocuments": [json.dumps(d) for d in fresh_trace("tutorial_hello_trace.json")]}
    answer = post_json(console.url + "xray/" + path, payload, same_origin(console))
    assert answer.status == 403
    assert "read-only" in answer.json()["message"]
    assert xray.get_trace_summaries(**window())["TraceSummaries"] == []
    assert [g["GroupName"] for g in xray.get_groups()["Groups"]] == ["Default"]


@pytest.mark.parametrize(
    "target",
    ["Logs_20140328.PutLogEvents", "Logs_20140328.DeleteLogGroup", "Logs_20140328.CreateLogGroup",
     "DynamoDB_20120810.Scan", "Logs_20140328.", "", "FilterLogEvents"],
)  # fmt: skip
def test_only_read_only_logs_calls_pass(console: ConsoleServer, target: str):
    answer = post_json(console.url + "logs", {"logGroupName": "x"}, {"X-Amz-Target": target})
    assert answer.status == 403
    assert "read-only" in answer.json()["message"]


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"), [(b"not json", 400), (b"[1, 2]", 400), (b"\xff\xfe", 400), (b'"text"', 400)]
)
def test_a_body_that_is_not_a_json_object_is_a_400(console: ConsoleServer, body: bytes, status: int):
    answer = call(console.url + "xray/TraceSummaries", "POST", body, {"Content-Type": "application/json"})
    assert answer.status == status
    assert "JSON" in answer.json()["message"]


def test_a_body_over_the_limit_is_a_413_and_no_length_a_411(console: ConsoleServer):
    # Announced, not sent: the answer comes before the body is read, and a client still writing
    # a real megabyte might see the connection closed before it reads that answer.
    big = call(console.url + "xray/TraceSummaries", "POST", b"{}", {"Content-Length": str(1024 * 1024 + 1)})
    assert big.status == 413
    assert "over" in big.json()["message"]
    assert call(console.url + "xray/TraceSummaries", "POST").status == 411


def test_other_methods_and_paths_are_json_errors(console: ConsoleServer):
    put = call(console.url + "xray/TraceSummaries", "PUT", b"{}")
    assert put.status == 405
    assert "PUT" in put.json()["message"]
    elsewhere = post_json(console.url + "admin", {})
    assert elsewhere.status == 404
    assert "/xray/" in elsewhere.json()["message"]


# -- the pass-through ------------------------------------------------------------------------


def test_xray_answers_come_back_as_the_api_gives_them(
    console: ConsoleServer, xray_server: XRayServer, xray: Any
):
    trace_id = stored_trace(xray_server)
    through = post_json(console.url + "xray/Traces", {"TraceIds": [trace_id]}, same_origin(console)).json()
    direct = xray.batch_get_traces(TraceIds=[trace_id])
    assert [t["Id"] for t in through["Traces"]] == [trace_id]
    assert sorted(s["Id"] for s in through["Traces"][0]["Segments"]) == sorted(
        s["Id"] for s in direct["Traces"][0]["Segments"]
    )
    graph = post_json(console.url + "xray/ServiceGraph", window(), same_origin(console)).json()
    assert {s["Name"] for s in graph["Services"]} == {
        s["Name"] for s in xray.get_service_graph(**window())["Services"]
    }


def test_an_api_error_comes_back_with_its_status_type_and_message(console: ConsoleServer):
    answer = post_json(
        console.url + "xray/TraceSummaries",
        {**window(), "FilterExpression": "http.status = = 4"},
        same_origin(console),
    )
    assert answer.status == 400
    assert answer.headers["x-amzn-errortype"].startswith("InvalidRequestException")
    assert answer.headers["content-type"].startswith("application/")
    assert answer.json()["message"]


def test_an_upstream_that_is_down_is_a_502_naming_it(static_dir: Path):
    down = f"http://127.0.0.1:{free_port()}"
    with ConsoleServer(down, down, static_dir=static_dir) as console:
        xray_answer = post_json(console.url + "xray/ServiceGraph", window())
        logs_answer = post_json(console.url + "logs", {}, {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
    assert xray_answer.status == 502
    assert down in xray_answer.json()["message"]
    assert logs_answer.status == 502
    assert "CloudWatch Logs" in logs_answer.json()["message"]


@pytest.fixture
def moto_logs() -> Iterator[str]:
    """moto's server, as the local stack runs it, with a function's log lines in it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    logs = boto3.client(
        "logs", endpoint_url=url, region_name="ap-northeast-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip
    logs.create_log_group(logGroupName="/aws/lambda/sam-app-SamDdbFunction")
    logs.create_log_stream(
        logGroupName="/aws/lambda/sam-app-SamDdbFunction", logStreamName="2026/11/30/[$LATEST]ab"
    )
    logs.put_log_events(
        logGroupName="/aws/lambda/sam-app-SamDdbFunction",
        logStreamName="2026/11/30/[$LATEST]ab",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": START_LINE}],
    )
    try:
        yield url
    finally:
        server.stop()


def test_logs_calls_reach_cloudwatch_logs(xray_server: XRayServer, moto_logs: str, static_dir: Path):
    with ConsoleServer(xray_server.api_url, moto_logs, static_dir=static_dir) as console:
        answer = post_json(
            console.url + "logs",
            {"logGroupName": "/aws/lambda/sam-app-SamDdbFunction", "filterPattern": '"RequestId: r-1"'},
            {**same_origin(console), "X-Amz-Target": "Logs_20140328.FilterLogEvents"},
        )
    assert answer.status == 200, answer.body
    assert [e["message"] for e in answer.json()["events"]] == [START_LINE]


# -- --aws: signed with the user's credentials -----------------------------------------------


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default chain finds these environment credentials, and nothing of the user's."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("aws_credentials")
def test_aws_calls_are_signed_with_sigv4_by_the_default_chain(xray_server: XRayServer, static_dir: Path):
    trace_id = stored_trace(xray_server)
    with (
        recording_forwarder(xray_server.api_url) as (stand_in, seen),
        ConsoleServer(
            None, None, region="eu-west-1", aws_endpoint_urls={"xray": stand_in}, static_dir=static_dir
        ) as console,
    ):
        answer = post_json(console.url + "xray/TraceSummaries", window(), same_origin(console))
    assert answer.status == 200
    assert [s["Id"] for s in answer.json()["TraceSummaries"]] == [trace_id]
    [request] = seen
    assert request.path == "/TraceSummaries"
    authorization = request.headers["Authorization"]
    match = re.fullmatch(
        rf"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY}/(\d{{8}})/eu-west-1/xray/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
        authorization,
    )
    assert match, authorization
    assert "host" in match[2].split(";") and "x-amz-date" in match[2].split(";")
    assert "Origin" not in request.headers and "Sec-Fetch-Site" not in request.headers
    assert match[3] == expected_signature(request.headers, stand_in + request.path, request.body)


def expected_signature(headers: dict[str, str], url: str, body: bytes) -> str:
    """The SigV4 signature of this request as botocore computes it, at the request's own time."""
    signed = {
        name: headers[name] for name in headers if name.lower() in ("content-type", "host", "x-amz-date")
    }
    request = AWSRequest(method="POST", url=url, data=body, headers=signed)
    request.context["timestamp"] = headers["X-Amz-Date"]
    auth = SigV4Auth(Credentials(AWS_ACCESS_KEY, AWS_SECRET), "xray", "eu-west-1")
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))


@pytest.mark.usefixtures("aws_credentials")
def test_aws_allows_only_reads_too(xray_server: XRayServer, static_dir: Path):
    with (
        recording_forwarder(xray_server.api_url) as (stand_in, seen),
        ConsoleServer(None, None, aws_endpoint_urls={"xray": stand_in}, static_dir=static_dir) as console,
    ):
        answer = post_json(console.url + "xray/CreateGroup", {"GroupName": "g", "FilterExpression": "ok"})
    assert answer.status == 403
    assert seen == []


def test_aws_without_credentials_is_a_json_error_not_a_call(
    monkeypatch: pytest.MonkeyPatch, xray_server: XRayServer, static_dir: Path, tmp_path: Path
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path))  # no SSO cache, no ~/.aws
    with (
        recording_forwarder(xray_server.api_url) as (stand_in, seen),
        ConsoleServer(None, None, aws_endpoint_urls={"xray": stand_in}, static_dir=static_dir) as console,
    ):
        answer = post_json(console.url + "xray/ServiceGraph", window())
    assert answer.status == 401
    assert "credentials" in answer.json()["message"]
    assert seen == []


def test_a_local_console_without_logs_never_reads_aws(xray_server: XRayServer, static_dir: Path):
    with ConsoleServer(xray_server.api_url, None, static_dir=static_dir) as console:
        answer = post_json(console.url + "logs", {}, {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
    assert answer.status == 503
    assert "no CloudWatch Logs" in answer.json()["message"]


def test_the_page_can_read_where_its_calls_go(console: ConsoleServer, xray_server: XRayServer):
    source = call(console.url + "source.json").json()
    assert source["aws"] is False
    assert source["xray"] == f"the local X-Ray at {xray_server.api_url}"
    assert source["logs"].startswith("the local CloudWatch Logs at http://127.0.0.1:")


@pytest.mark.usefixtures("aws_credentials")
def test_with_aws_the_page_is_told_the_region(static_dir: Path):
    with ConsoleServer(None, None, region="eu-west-1", static_dir=static_dir) as console:
        source = call(console.url + "source.json").json()
    assert source == {"aws": True, "region": "eu-west-1", "xray": "X-Ray in eu-west-1",
                      "logs": "CloudWatch Logs in eu-west-1"}  # fmt: skip


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com"])
def test_it_listens_on_loopback_only(host: str):
    with pytest.raises(ValueError, match="loopback"):
        ConsoleServer("http://127.0.0.1:2000", None, host=host)
