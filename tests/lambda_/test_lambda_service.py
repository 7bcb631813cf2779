"""LambdaService with real awslambdaric workers, running the `sam build` artifacts of the
fixture app and of the tutorial app."""

import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from emulator.app.model import FunctionSpec
from emulator.dynamodb.moto_process import MotoProcess
from emulator.lambda_.service import InvokeResult, LambdaService
from emulator.tracing.documents import StackFrame
from emulator.tracing.segment_sender import SegmentSender
from emulator.tracing.trace_header import TraceHeader, new_segment_id, new_trace_id, parse_trace_header
from tests import process_table

pytestmark = pytest.mark.slow

API_GATEWAY_SUBSEGMENT = "53995c3f42cd8ad8"
REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB"
    r"\tMax Memory Used: (?P<used>\d+) MB(?:\tInit Duration: (?P<init>\d+\.\d\d) ms)?"
    r"(?:\tStatus: (?P<status>\w+))?(?:\tError Type: (?P<error_type>[\w.]+))?$"
)
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


# -- helpers -------------------------------------------------------------------------------


def function_spec(
    code_dir: Path,
    logical_id: str,
    *,
    handler: str = "app.handler",
    timeout: float = 3.0,
    memory_size: int = 256,
    environment: dict[str, str] | None = None,
    tracing: str = "Active",
) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        function_name=f"sam-app-{logical_id}-TEST0123",
        handler=handler,
        runtime="python3.11",
        code_dir=code_dir,
        timeout=timeout,
        memory_size=memory_size,
        environment=environment or {},
        tracing=tracing,
    )


def fixture_spec(built_template: Path, logical_id: str, **overrides: Any) -> FunctionSpec:
    environment = {"FROM_GLOBALS": "globals-value"}
    if logical_id == "EchoFunction":
        environment["TABLE_NAME"] = "Items"
    overrides.setdefault("environment", environment)
    if logical_id == "SleepyFunction":
        overrides.setdefault("timeout", 1.0)
    return function_spec(built_template.parent / logical_id, logical_id, **overrides)


def proxy_event(**query: str) -> bytes:
    return json.dumps({"httpMethod": "GET", "path": "/echo", "queryStringParameters": query or None}).encode()


def echo_body(result: InvokeResult) -> dict[str, Any]:
    assert result.outcome == "success", result.payload
    return json.loads(json.loads(result.payload)["body"])


def all_child_pids() -> set[int]:
    """This process's children, zombies included."""
    me = os.getpid()
    return {pid for pid, parent in process_table.parents(include_zombies=True).items() if parent == me}


# The children this process already had when the test began: what an earlier test (of another
# package: a browser, a stack) left behind is not this test's to answer for, and must not make
# these tests depend on the order they run in.
_children_before_test: set[int] = set()


@pytest.fixture(autouse=True)
def note_children_before_test() -> None:
    global _children_before_test
    _children_before_test = all_child_pids()


def child_pids() -> set[int]:
    """The children this test started (workers), zombies included."""
    return all_child_pids() - _children_before_test


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class LogRecorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, name: str, line: str) -> None:
        self.lines.append((name, line))

    def of(self, name: str) -> list[str]:
        return [line for who, line in self.lines if who == name]


class XRayDaemonStub:
    """A UDP socket where an X-Ray daemon would listen: collects the documents sent to it."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    def collect(self, wait_seconds: float) -> list[dict[str, Any]]:
        documents = []
        deadline = time.monotonic() + wait_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.socket.settimeout(remaining)
            try:
                datagram = self.socket.recv(65536)
            except TimeoutError:
                break
            header, _, body = datagram.partition(b"\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
        return documents

    def close(self) -> None:
        self.socket.close()


@pytest.fixture()
def logs() -> LogRecorder:
    return LogRecorder()


@pytest.fixture()
def xray_daemon() -> Iterator[XRayDaemonStub]:
    daemon = XRayDaemonStub()
    yield daemon
    daemon.close()


@pytest.fixture()
def base_env(xray_daemon: XRayDaemonStub) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no test may reach AWS
        "AWS_XRAY_DAEMON_ADDRESS": xray_daemon.address,
    }


@pytest.fixture()
def make_service(
    lambda_runtime_dir: Path, base_env: dict[str, str], logs: LogRecorder, xray_daemon: XRayDaemonStub
) -> Iterator[Any]:
    """Builds LambdaServices that are closed (and checked to leave no process) after the test."""
    services: list[LambdaService] = []
    senders: list[SegmentSender] = []

    def make(functions: list[FunctionSpec], **options: Any) -> LambdaService:
        sender = SegmentSender(xray_daemon.address)
        senders.append(sender)
        options.setdefault("log", logs)
        options.setdefault("segment_sender", sender)
        service = LambdaService(
            {spec.logical_id: spec for spec in functions},
            runtime_dir=lambda_runtime_dir,
            base_env=base_env,
            **options,
        )
        services.append(service)
        return service

    yield make
    for service in services:
        service.close()
    for sender in senders:
        sender.close()
    assert child_pids() == set(), "a worker outlived LambdaService.close()"


@pytest.fixture(scope="module")
def handmade_functions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny functions for cases the fixture app cannot show on one function."""
    root = tmp_path_factory.mktemp("handmade")
    (root / "crash_on_demand").mkdir()
    (root / "crash_on_demand" / "app.py").write_text(
        "import os\n\n"
        "def handler(event, context):\n"
        "    if event.get('crash'):\n"
        "        os._exit(137)\n"
        "    print('answering from', os.getpid())\n"
        "    return {'pid': os.getpid()}\n"
    )
    (root / "slow_init").mkdir()
    (root / "slow_init" / "app.py").write_text(
        "import time\n\ntime.sleep(2)\n\ndef handler(event, context):\n    return 'ready'\n"
    )
    return root


# -- invoking ------------------------------------------------------------------------------


def test_echo_answers_with_the_event_it_was_given(make_service, fixture_app_template):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")])
    event = proxy_event(name="value")

    result = service.invoke("EchoFunction", event)

    body = echo_body(result)
    assert body["event"] == json.loads(event)
    assert body["request_id"] == result.request_id
    assert body["function_name"] == "sam-app-EchoFunction-TEST0123"
    assert body["memory_limit_in_mb"] == "256"
    assert 0 < body["remaining_ms"] <= 3000
    assert result.error is None


def test_echo_sees_the_lambda_environment_and_only_that(
    make_service, fixture_app_template, lambda_runtime_dir, base_env, monkeypatch
):
    monkeypatch.setenv("DEVELOPER_ONLY_SECRET", "must-not-leak")
    spec = fixture_spec(fixture_app_template, "EchoFunction", memory_size=512)
    service = make_service([spec])

    environ = echo_body(service.invoke("EchoFunction", proxy_event()))["environ"]

    assert "DEVELOPER_ONLY_SECRET" not in environ
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_REGION": "ap-northeast-1",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": str(lambda_runtime_dir),
        "_HANDLER": "app.handler",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": base_env["AWS_XRAY_DAEMON_ADDRESS"],
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": base_env["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)[1],
        # the template's variables, as FunctionSpec carries them
        "FROM_GLOBALS": "globals-value",
        "TABLE_NAME": "Items",
        # the local stack's
        "AWS_ENDPOINT_URL": base_env["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing",
    }
    assert {name: environ.get(name) for name in expected} == expected
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", environ["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", environ["AWS_LAMBDA_RUNTIME_API"])
    assert environ["PYTHONPATH"].split(os.pathsep) == [str(spec.code_dir), str(lambda_runtime_dir)]
    assert "PATH" in environ


def test_a_warm_worker_is_reused(make_service, fixture_app_template):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")])

    first = service.invoke("EchoFunction", proxy_event())
    second = service.invoke("EchoFunction", proxy_event())

    assert echo_body(first)["pid"] == echo_body(second)["pid"]
    assert first.cold_start and first.init_duration_ms is not None and first.init_duration_ms > 0
    assert first.initialization is not None
    assert first.initialization.start < first.initialization.end <= first.invocation.start
    assert not second.cold_start
    assert second.init_duration_ms is None and second.initialization is None
    assert second.invocation.start <= second.invocation.end
    assert second.duration_ms == pytest.approx((second.invocation.end - second.invocation.start) * 1000)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for a condition, never a fixed time: the machine may be slow or busy."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.02)


def test_parallel_invokes_scale_out_up_to_the_limit(make_service, fixture_app_template):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")], max_workers_per_function=3)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: service.invoke("EchoFunction", proxy_event(sleep="0.3")), range(8)))

    pids = {echo_body(result)["pid"] for result in results}
    assert 1 < len(pids) <= 3
    assert len({result.request_id for result in results}) == 8


def test_a_caller_waits_for_a_busy_worker_then_is_throttled(make_service, handmade_functions):
    # A worker that spends 2 s initializing holds the only slot longer than the 1 s a second
    # caller may wait (the function's timeout).
    spec = function_spec(handmade_functions / "slow_init", "SlowInitFunction", timeout=1.0)
    service = make_service([spec], max_workers_per_function=1)

    with ThreadPoolExecutor(max_workers=2) as pool:
        occupant = pool.submit(service.invoke, "SlowInitFunction", b"{}")
        wait_until(lambda: len(child_pids()) == 1)  # the occupant's worker holds the only slot
        started = time.monotonic()
        throttled = service.invoke("SlowInitFunction", b"{}")
        waited = time.monotonic() - started
        assert occupant.result(timeout=15).outcome == "success"

    assert throttled.outcome == "error"
    assert json.loads(throttled.payload)["errorType"] == "TooManyRequestsException"
    assert throttled.error is not None and throttled.error.error_type == "TooManyRequestsException"
    assert waited >= spec.timeout  # it waited for the slot as long as the function's timeout


def test_timeout_kills_the_worker_and_the_next_call_gets_a_fresh_one(
    make_service, fixture_app_template, logs
):
    service = make_service([fixture_spec(fixture_app_template, "SleepyFunction")])
    service.invoke("SleepyFunction", proxy_event(seconds="0"))  # warm up: the timeout starts at hand-over
    workers_before = child_pids()

    started = time.monotonic()
    result = service.invoke("SleepyFunction", proxy_event())
    elapsed = time.monotonic() - started

    assert result.outcome == "timeout"
    assert elapsed >= 1.0  # the function's Timeout, counted from the hand-over
    error = json.loads(result.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"] == f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds"
    assert result.error is not None and result.error.error_type == "Sandbox.Timedout"
    timeout_lines = [line for line in logs.of("SleepyFunction") if "Task timed out" in line]
    assert len(timeout_lines) == 1
    assert re.fullmatch(
        rf"{TIMESTAMP} {result.request_id} Task timed out after 1\.00 seconds", timeout_lines[0]
    )
    assert not any(process_exists(pid) for pid in workers_before), "the timed-out worker is still there"

    after = service.invoke("SleepyFunction", proxy_event(seconds="0"))
    assert after.outcome == "success" and after.cold_start
    assert json.loads(after.payload) == {"statusCode": 200, "body": "slept"}


def test_a_crash_fails_that_request_and_the_next_gets_a_new_worker(make_service, handmade_functions):
    service = make_service([function_spec(handmade_functions / "crash_on_demand", "CrashOnDemandFunction")])
    before = service.invoke("CrashOnDemandFunction", b"{}")

    crashed = service.invoke("CrashOnDemandFunction", b'{"crash": true}')
    after = service.invoke("CrashOnDemandFunction", b"{}")

    assert crashed.outcome == "crash"
    error = json.loads(crashed.payload)
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 137",
    }
    assert after.outcome == "success" and after.cold_start
    assert json.loads(after.payload)["pid"] != json.loads(before.payload)["pid"]


def test_the_crash_fixture_crashes_every_time_on_a_fresh_worker(make_service, fixture_app_template):
    service = make_service([fixture_spec(fixture_app_template, "CrashFunction")])

    results = [service.invoke("CrashFunction", proxy_event()) for _ in range(2)]

    assert [(result.outcome, result.cold_start) for result in results] == [("crash", True), ("crash", True)]
    assert all(result.error and result.error.error_type == "Runtime.ExitError" for result in results)


def test_a_worker_killed_while_idle_is_replaced(make_service, handmade_functions):
    service = make_service([function_spec(handmade_functions / "crash_on_demand", "CrashOnDemandFunction")])
    pid = json.loads(service.invoke("CrashOnDemandFunction", b"{}").payload)["pid"]
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while pid in child_pids() and time.monotonic() < deadline:
        time.sleep(0.01)

    result = service.invoke("CrashOnDemandFunction", b"{}")

    assert result.outcome == "success" and result.cold_start


def test_a_missing_requirement_fails_as_an_import_error(make_service, fixture_app_template):
    # aws_xray_sdk is in the developer's venv, not in this function's artifact: `-S` and the
    # PYTHONPATH of code dir + runtime dir must make the import fail as it would in Lambda.
    service = make_service([fixture_spec(fixture_app_template, "MissingDepFunction")])

    results = [service.invoke("MissingDepFunction", proxy_event()) for _ in range(2)]

    for result in results:
        assert result.outcome == "error"
        error = json.loads(result.payload)
        assert error["errorType"] == "Runtime.ImportModuleError"
        assert "No module named 'aws_xray_sdk'" in error["errorMessage"]
        assert result.error is not None and result.error.error_type == "Runtime.ImportModuleError"
        assert result.cold_start  # an environment whose init failed is not reused


def test_an_exception_in_the_handler_is_a_function_error(make_service, fixture_app_template, logs):
    service = make_service([fixture_spec(fixture_app_template, "RaisesFunction")])

    result = service.invoke("RaisesFunction", proxy_event())
    again = service.invoke("RaisesFunction", proxy_event())

    assert result.outcome == "error"
    error = json.loads(result.payload)
    assert error["errorType"] == "DemoError"
    assert error["errorMessage"] == "something went wrong on purpose"
    assert result.error is not None
    assert result.error.error_type == "DemoError"
    # The traceback's frames, as X-Ray stack frames relative to the function's code.
    assert StackFrame("app.py", 11, "handler") in result.error.stack
    assert not again.cold_start  # a handler error leaves the environment usable
    # The runtime's own error report is logged between START and END.
    lines = logs.of("RaisesFunction")
    start = lines.index(f"START RequestId: {result.request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {result.request_id}")
    assert any(
        line.startswith("[ERROR] DemoError: something went wrong on purpose") for line in lines[start:end]
    )


def test_report_lines_show_init_duration_only_on_cold_starts(make_service, handmade_functions, logs):
    service = make_service([function_spec(handmade_functions / "crash_on_demand", "CrashOnDemandFunction")])

    results = [service.invoke("CrashOnDemandFunction", b"{}") for _ in range(3)]

    lines = logs.of("CrashOnDemandFunction")
    for result in results:
        start = lines.index(f"START RequestId: {result.request_id} Version: $LATEST")
        end = lines.index(f"END RequestId: {result.request_id}")
        # what the handler printed, in its place
        assert f"answering from {json.loads(result.payload)['pid']}" in lines[start + 1 : end]
        report = REPORT.match(lines[end + 1])
        assert report is not None, lines[end + 1]
        assert report["id"] == result.request_id
        assert int(report["billed"]) == max(1, math.ceil(float(report["duration"])))
        assert report["memory"] == "256"
        assert 5 < int(report["used"]) < 256
        assert float(report["duration"]) == pytest.approx(result.duration_ms, abs=0.01)
        if result.cold_start:
            assert float(report["init"]) == pytest.approx(result.init_duration_ms, abs=0.01)
        else:
            assert report["init"] is None
    assert [result.cold_start for result in results] == [True, False, False]


class CloudWatchRecorder:
    """Stands in for the log shipper: every (log group, log stream, message) the service gives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def __call__(self, group: str, stream: str, message: str) -> None:
        self.events.append((group, stream, message))

    def streams(self) -> set[str]:
        return {stream for _, stream, _ in self.events}

    def streams_of(self, group: str) -> set[str]:
        return {stream for name, stream, _ in self.events if name == group}

    def of(self, stream: str) -> list[str]:
        return [message for _, name, message in self.events if name == stream]


LOG_STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")


def test_an_environment_writes_its_lines_to_its_own_log_stream_as_cloudwatch_events(
    make_service, fixture_app_template, handmade_functions, logs
):
    cloudwatch = CloudWatchRecorder()
    echo = fixture_spec(fixture_app_template, "EchoFunction")
    chatty = function_spec(handmade_functions / "crash_on_demand", "CrashOnDemandFunction")
    raises = fixture_spec(fixture_app_template, "RaisesFunction")
    service = make_service([echo, chatty, raises], cloudwatch=cloudwatch)

    first = service.invoke("EchoFunction", proxy_event())
    second = service.invoke("EchoFunction", proxy_event())
    printed = service.invoke("CrashOnDemandFunction", b"{}")
    failed = service.invoke("RaisesFunction", proxy_event())

    # One stream per execution environment, named as Lambda names it, in the function's group,
    # and the one the function is told (AWS_LAMBDA_LOG_STREAM_NAME).
    [echo_stream] = cloudwatch.streams_of(echo.log_group_name)
    assert LOG_STREAM.match(echo_stream), echo_stream
    # The day the environment started (UTC), whichever side of midnight the test ran.
    assert echo_stream[:10] in {time.strftime("%Y/%m/%d", time.gmtime(time.time() - ago)) for ago in (0, 60)}
    assert echo_body(first)["environ"]["AWS_LAMBDA_LOG_STREAM_NAME"] == echo_stream
    assert echo_body(second)["environ"]["AWS_LAMBDA_LOG_STREAM_NAME"] == echo_stream  # warm: the same
    assert len(cloudwatch.streams()) == 3
    # Lambda's lines and the function's own output, in order.
    [chatty_stream] = cloudwatch.streams_of(chatty.log_group_name)
    chatty_lines = cloudwatch.of(chatty_stream)
    assert chatty_lines[0] == f"START RequestId: {printed.request_id} Version: $LATEST"
    assert f"answering from {json.loads(printed.payload)['pid']}" in chatty_lines
    assert chatty_lines[-2] == f"END RequestId: {printed.request_id}"
    assert chatty_lines[-1].startswith(f"REPORT RequestId: {printed.request_id}\t")
    # The runtime's error report is one event, its lines joined by newlines, as in CloudWatch;
    # the terminal still shows it line by line.
    assert failed.outcome == "error"
    [raises_stream] = cloudwatch.streams_of(raises.log_group_name)
    [report] = [line for line in cloudwatch.of(raises_stream) if line.startswith("[ERROR] DemoError")]
    assert "\nTraceback (most recent call last):" in report
    assert "[ERROR] DemoError: something went wrong on purpose" in logs.of("RaisesFunction")
    assert "Traceback (most recent call last):" in logs.of("RaisesFunction")
    assert all("\n" not in line for _, line in logs.lines)


def test_parallel_invocations_write_to_one_stream_each(make_service, fixture_app_template):
    cloudwatch = CloudWatchRecorder()
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")], cloudwatch=cloudwatch)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: service.invoke("EchoFunction", proxy_event(sleep="1.5")), range(2)))

    streams = {echo_body(result)["environ"]["AWS_LAMBDA_LOG_STREAM_NAME"] for result in results}
    assert cloudwatch.streams() == streams and len(streams) == 2
    for result in results:
        lines = cloudwatch.of(echo_body(result)["environ"]["AWS_LAMBDA_LOG_STREAM_NAME"])
        assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
        assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\t")


def test_timeouts_and_crashes_report_their_status(make_service, fixture_app_template, logs):
    service = make_service(
        [
            fixture_spec(fixture_app_template, "SleepyFunction"),
            fixture_spec(fixture_app_template, "CrashFunction"),
        ]
    )
    service.invoke("SleepyFunction", proxy_event())
    service.invoke("CrashFunction", proxy_event())

    timeout_report = REPORT.match(logs.of("SleepyFunction")[-1])
    crash_report = REPORT.match(logs.of("CrashFunction")[-1])
    assert timeout_report is not None and timeout_report["status"] == "timeout"
    assert crash_report is not None and crash_report["status"] == "error"
    assert crash_report["error_type"] == "Runtime.ExitError"


def test_unknown_function_is_a_key_error(make_service, fixture_app_template):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")])
    with pytest.raises(KeyError):
        service.invoke("NoSuchFunction", b"{}")


# -- X-Ray ---------------------------------------------------------------------------------


def by_origin(documents: list[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    return [document for document in documents if document.get("origin") == origin]


def test_lambda_writes_its_two_segments_under_the_callers_subsegment(
    make_service, fixture_app_template, xray_daemon
):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")])
    trace_id = new_trace_id()
    incoming = TraceHeader(trace_id, API_GATEWAY_SUBSEGMENT, True)

    cold = service.invoke("EchoFunction", proxy_event(), incoming)
    warm = service.invoke("EchoFunction", proxy_event(), incoming)
    documents = xray_daemon.collect(wait_seconds=1.0)

    services = by_origin(documents, "AWS::Lambda")
    functions = by_origin(documents, "AWS::Lambda::Function")
    assert len(services) == 2 and len(functions) == 2
    for result in (cold, warm):
        [service_doc] = [d for d in services if d["aws"]["request_id"] == result.request_id]
        [function_doc] = [d for d in functions if d["parent_id"] == service_doc["id"]]
        assert service_doc["trace_id"] == function_doc["trace_id"] == trace_id
        assert service_doc["parent_id"] == API_GATEWAY_SUBSEGMENT
        assert service_doc["name"] == function_doc["name"] == "sam-app-EchoFunction-TEST0123"
        names = [sub["name"] for sub in function_doc["subsegments"]]
        assert names == (["Initialization"] if result.cold_start else []) + ["Invocation", "Overhead"]
        invocation = function_doc["subsegments"][-2]
        # The runtime's trace header names the Invocation subsegment as the parent.
        runtime_header = parse_trace_header(echo_body(result)["environ"]["_X_AMZN_TRACE_ID"])
        assert runtime_header == TraceHeader(trace_id, invocation["id"], True)
        assert invocation["start_time"] == result.invocation.start
        assert invocation["end_time"] == result.invocation.end
        overhead = function_doc["subsegments"][-1]
        assert result.invocation.end <= overhead["start_time"] <= overhead["end_time"]
        assert "fault" not in function_doc and "error" not in function_doc
    assert cold.initialization is not None
    [cold_service] = [d for d in services if d["aws"]["request_id"] == cold.request_id]
    cold_function = next(d for d in functions if d["parent_id"] == cold_service["id"])
    assert cold_function["subsegments"][0]["start_time"] == cold.initialization.start
    assert cold_function["subsegments"][0]["end_time"] == cold.initialization.end


def test_the_sdk_subsegment_hangs_under_the_invocation_subsegment(
    make_service, tutorial_app_template, xray_daemon
):
    hello = function_spec(
        tutorial_app_template.parent / "HelloWorldFunction",
        "HelloWorldFunction",
        handler="app.lambda_handler",
        memory_size=128,
    )
    service = make_service([hello])
    trace_id = new_trace_id()

    result = service.invoke("HelloWorldFunction", b"{}", TraceHeader(trace_id, API_GATEWAY_SUBSEGMENT, True))
    documents = xray_daemon.collect(wait_seconds=1.5)

    assert result.outcome == "success"
    assert json.loads(json.loads(result.payload)["body"]) == {"message": "hello world"}
    [function_doc] = by_origin(documents, "AWS::Lambda::Function")
    [invocation] = [sub for sub in function_doc["subsegments"] if sub["name"] == "Invocation"]
    [sdk_subsegment] = [d for d in documents if d.get("name") == "hello world"]
    assert sdk_subsegment["type"] == "subsegment"
    assert sdk_subsegment["parent_id"] == invocation["id"]
    assert sdk_subsegment["trace_id"] == function_doc["trace_id"] == trace_id


def test_sampled_0_records_nothing(make_service, fixture_app_template, xray_daemon):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")])
    trace_id = new_trace_id()

    result = service.invoke("EchoFunction", proxy_event(), TraceHeader(trace_id, new_segment_id(), False))

    runtime_header = parse_trace_header(echo_body(result)["environ"]["_X_AMZN_TRACE_ID"])
    assert runtime_header is not None
    assert (runtime_header.root, runtime_header.sampled) == (trace_id, False)
    assert xray_daemon.collect(wait_seconds=0.5) == []


def test_active_tracing_starts_a_trace_when_none_comes_in(make_service, fixture_app_template, xray_daemon):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction")])

    service.invoke("EchoFunction", proxy_event())
    documents = xray_daemon.collect(wait_seconds=1.0)

    [service_doc] = by_origin(documents, "AWS::Lambda")
    [function_doc] = by_origin(documents, "AWS::Lambda::Function")
    assert "parent_id" not in service_doc
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", service_doc["trace_id"])
    assert function_doc["trace_id"] == service_doc["trace_id"]


def test_passthrough_without_a_decision_records_nothing(make_service, fixture_app_template, xray_daemon):
    service = make_service([fixture_spec(fixture_app_template, "EchoFunction", tracing="PassThrough")])

    service.invoke("EchoFunction", proxy_event())

    assert xray_daemon.collect(wait_seconds=0.5) == []


def test_errors_timeouts_and_crashes_are_function_errors_with_their_cause(
    make_service, fixture_app_template, xray_daemon
):
    service = make_service(
        [
            fixture_spec(fixture_app_template, "RaisesFunction"),
            fixture_spec(fixture_app_template, "SleepyFunction"),
            fixture_spec(fixture_app_template, "CrashFunction"),
        ]
    )
    trace = TraceHeader(new_trace_id(), API_GATEWAY_SUBSEGMENT, True)

    raised = service.invoke("RaisesFunction", proxy_event(), trace)
    timed_out = service.invoke("SleepyFunction", proxy_event(), trace)
    crashed = service.invoke("CrashFunction", proxy_event(), trace)
    documents = xray_daemon.collect(wait_seconds=1.0)

    request_ids = {d["id"]: d["aws"]["request_id"] for d in by_origin(documents, "AWS::Lambda")}
    causes = {}
    for document in by_origin(documents, "AWS::Lambda::Function"):
        # The function failed, not Lambda: an error, never a fault.
        assert document["error"] is True and "fault" not in document
        [exception] = document["cause"]["exceptions"]
        [invocation] = [sub for sub in document["subsegments"] if sub["name"] == "Invocation"]
        assert invocation["error"] is True and invocation["cause"] == exception["id"]
        causes[request_ids[document["parent_id"]]] = exception
    assert set(causes) == {raised.request_id, timed_out.request_id, crashed.request_id}
    assert causes[raised.request_id]["type"] == "DemoError"
    assert causes[raised.request_id]["message"] == "something went wrong on purpose"
    assert {"path": "app.py", "line": 11, "label": "handler"} in causes[raised.request_id]["stack"]
    assert causes[timed_out.request_id]["type"] == "Sandbox.Timedout"
    assert causes[crashed.request_id]["type"] == "Runtime.ExitError"
    for document in by_origin(documents, "AWS::Lambda"):
        assert "error" not in document and "fault" not in document  # Invoke itself answered 200


# -- the tutorial's DynamoDB function, against moto ---------------------------------------


@pytest.fixture()
def moto_endpoint() -> Iterator[str]:
    """moto in a child process, as the stack runs it."""
    moto = MotoProcess()
    moto.start()
    try:
        yield moto.endpoint_url
    finally:
        moto.stop()


def test_sam_ddb_runs_from_its_artifact_and_writes_to_dynamodb(
    make_service, tutorial_app_template, base_env, moto_endpoint, lambda_runtime_dir, logs
):
    import boto3

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="ap-northeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dynamodb.create_table(
        TableName="Demo",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "Key", "AttributeType": "S"},
            {"AttributeName": "CreateDate", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "Key", "KeyType": "HASH"},
            {"AttributeName": "CreateDate", "KeyType": "RANGE"},
        ],
    )
    base_env["AWS_ENDPOINT_URL"] = moto_endpoint
    ddb = function_spec(
        tutorial_app_template.parent / "SamDdbFunction",
        "SamDdbFunction",
        handler="app.lambda_handler",
        memory_size=128,
        environment={"TABLE_NAME": "Demo"},
    )
    service = make_service([ddb])
    event = json.loads((Path(__file__).resolve().parents[2] / "events" / "ddb.json").read_text())

    result = service.invoke("SamDdbFunction", json.dumps(event).encode())

    assert result.outcome == "success", (result.payload, logs.of("SamDdbFunction"))
    answer = json.loads(result.payload)
    assert answer["statusCode"] == 200, answer
    assert dynamodb.scan(TableName="Demo")["Count"] == 1


# -- shutting down -------------------------------------------------------------------------


def test_close_leaves_no_process_and_no_listening_port(lambda_runtime_dir, fixture_app_template, base_env):
    service = LambdaService(
        {"EchoFunction": fixture_spec(fixture_app_template, "EchoFunction")},
        runtime_dir=lambda_runtime_dir,
        base_env=base_env,
        max_workers_per_function=3,
        log=lambda name, line: None,
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: service.invoke("EchoFunction", proxy_event(sleep="0.3")), range(3)))
    bodies = [echo_body(result) for result in results]
    pids = {body["pid"] for body in bodies}
    runtime_apis = {body["environ"]["AWS_LAMBDA_RUNTIME_API"] for body in bodies}
    assert len(pids) == 3 and pids <= child_pids()

    service.close()

    assert child_pids() == set()  # none left running, none left a zombie
    assert not any(process_exists(pid) for pid in pids)
    for address in runtime_apis:
        host, port = address.split(":")
        with pytest.raises(OSError):
            socket.create_connection((host, int(port)), timeout=0.5).close()


def test_close_fails_an_invoke_in_flight_and_refuses_new_ones(
    lambda_runtime_dir, fixture_app_template, base_env
):
    lines: list[str] = []
    service = LambdaService(
        {"SleepyFunction": fixture_spec(fixture_app_template, "SleepyFunction", timeout=10.0)},
        runtime_dir=lambda_runtime_dir,
        base_env=base_env,
        log=lambda name, line: lines.append(line),
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(service.invoke, "SleepyFunction", proxy_event(seconds="5"))
        wait_until(lambda: any(line.startswith("START RequestId:") for line in lines))  # handed over
        service.close()
        result = in_flight.result(timeout=5)

    assert result.outcome == "crash"
    assert child_pids() == set()
    with pytest.raises(RuntimeError):
        service.invoke("SleepyFunction", proxy_event(seconds="0"))
