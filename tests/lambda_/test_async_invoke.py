"""Lambda's queue for asynchronous invocations (emulator/lambda_/async_invoke.py), with real
awslambdaric workers and a real moto for the destinations, as the Lambda developer guide's
"asynchronous invocation" pages describe it: retries of a function error, the same request id
and trace for every try, OnSuccess / OnFailure destination records, the dead-letter queue, the
event age limit, and the Dwell Time / Attempt subsegments of each try's AWS::Lambda segment."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app.model import AsyncInvokeConfig, FunctionSpec
from emulator.dynamodb.moto_process import MotoProcess
from emulator.lambda_.async_invoke import AsyncInvoker
from emulator.lambda_.async_journal import AsyncEventJournal
from emulator.lambda_.service import LambdaService
from emulator.sqs.queues import sqs_client
from tests.lambda_ import test_lambda_service as service_tests
from tests.lambda_.test_lambda_service import XRayDaemonStub, function_spec
from tests.stack_helpers import eventually

pytestmark = pytest.mark.slow

REGION = "ap-northeast-1"
# The Lambda service tests' fixtures: real workers, a UDP socket for the segments, the log lines,
# and the check that no worker outlives the service.
note_children_before_test = service_tests.note_children_before_test
xray_daemon = service_tests.xray_daemon
logs = service_tests.logs
base_env = service_tests.base_env
make_service = service_tests.make_service
# Each try leaves a file named after the request id, so the handler knows which try it is.
HANDLER = """
import os, pathlib

def handler(event, context):
    tries_dir = pathlib.Path(os.environ["TRIES_DIR"])
    try_number = len(list(tries_dir.glob(context.aws_request_id + "-*"))) + 1
    (tries_dir / f"{context.aws_request_id}-{try_number}").touch()
    if try_number < event.get("succeed_on_try", 99):
        raise ValueError(f"try {try_number} fails")
    return {"tries": try_number, "event": event}
"""


@pytest.fixture()
def sqs(shared_moto: MotoProcess) -> Any:
    return sqs_client(shared_moto.endpoint_url, REGION)


@pytest.fixture()
def queue(sqs: Any, request: pytest.FixtureRequest) -> tuple[str, str]:
    """A queue of the test's own: (ARN, URL)."""
    name = f"destination-{request.node.name[:40].replace('[', '-').replace(']', '')}-{time.monotonic_ns()}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn, url


@pytest.fixture()
def tries_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "tries"
    folder.mkdir()
    return folder


@pytest.fixture()
def make_invoker(
    make_service: Callable[..., LambdaService],
    tmp_path: Path,
    tries_dir: Path,
    shared_moto: MotoProcess,
    logs: Any,
) -> Iterator[Callable[..., AsyncInvoker]]:
    invokers: list[AsyncInvoker] = []
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)

    def make(config: AsyncInvokeConfig, **options: Any) -> AsyncInvoker:
        spec = function_spec(code, "QueuedFunction", environment={"TRIES_DIR": str(tries_dir)})
        spec = FunctionSpec(**{**spec.__dict__, "async_config": config})
        service = make_service([spec])
        options.setdefault("retry_delays", (0.2, 0.4))
        invoker = AsyncInvoker(
            service,
            sqs_endpoint_url=shared_moto.endpoint_url,
            region=REGION,
            log=lambda line: logs("lambda", line),
            **options,
        )
        invokers.append(invoker)
        return invoker

    yield make
    for invoker in invokers:
        invoker.close()


def tries_of(tries_dir: Path, request_id: str) -> int:
    return len(list(tries_dir.glob(request_id + "-*")))


def receive_one(sqs: Any, url: str) -> dict[str, Any]:
    def receive() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        return answer.get("Messages", [])

    (message,) = eventually(receive)
    return message


def test_a_function_error_is_tried_again_with_the_same_request_id_and_the_success_is_recorded(
    make_invoker, tries_dir, sqs, queue
):
    arn, url = queue
    invoker = make_invoker(AsyncInvokeConfig(on_success=arn))
    request_id = invoker.submit("QueuedFunction", json.dumps({"succeed_on_try": 3}).encode())
    record = json.loads(receive_one(sqs, url)["Body"])
    assert tries_of(tries_dir, request_id) == 3
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(
        ":function:sam-app-QueuedFunction-TEST0123:$LATEST"
    )
    assert record["requestPayload"] == {"succeed_on_try": 3}
    assert record["responsePayload"] == {"tries": 3, "event": {"succeed_on_try": 3}}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_after_the_last_retry_the_failure_goes_to_the_on_failure_destination(
    make_invoker, tries_dir, sqs, queue, logs
):
    arn, url = queue
    invoker = make_invoker(AsyncInvokeConfig(on_failure=arn))
    request_id = invoker.submit("QueuedFunction", b'{"order": 7}')
    record = json.loads(receive_one(sqs, url)["Body"])
    assert tries_of(tries_dir, request_id) == 3  # the try and Lambda's default two retries
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "try 3 fails"
    retries = [line for line in logs.of("lambda") if request_id in line and "retry" in line]
    assert len(retries) == 2 and "retry 1 of 2" in retries[0]


def test_maximum_retry_attempts_zero_tries_once(make_invoker, tries_dir, sqs, queue):
    arn, url = queue
    invoker = make_invoker(AsyncInvokeConfig(maximum_retry_attempts=0, on_failure=arn))
    request_id = invoker.submit("QueuedFunction", b"{}")
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert tries_of(tries_dir, request_id) == 1


def test_without_a_destination_a_failed_event_goes_to_the_dead_letter_queue(make_invoker, sqs, queue):
    arn, url = queue
    invoker = make_invoker(AsyncInvokeConfig(maximum_retry_attempts=1, dead_letter_queue=arn))
    request_id = invoker.submit("QueuedFunction", b'{"order": 8}')
    message = receive_one(sqs, url)
    # The dead-letter queue gets the event itself, and why it failed as message attributes.
    assert json.loads(message["Body"]) == {"order": 8}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes == {"RequestID": request_id, "ErrorCode": "200", "ErrorMessage": "try 2 fails"}


def test_an_event_older_than_its_maximum_age_is_not_run_again(make_invoker, tries_dir, sqs, queue):
    arn, url = queue
    skew = [0.0]  # how far the invoker's clock is ahead of the real one

    def clock() -> float:
        return time.time() + skew[0]

    invoker = make_invoker(
        AsyncInvokeConfig(maximum_event_age_s=60, on_failure=arn), clock=clock, retry_delays=(1.0, 1.0)
    )
    request_id = invoker.submit("QueuedFunction", b"{}")
    eventually(lambda: tries_of(tries_dir, request_id) == 1)
    skew[0] = 120.0  # the retry comes due two minutes after the event was queued
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert tries_of(tries_dir, request_id) == 1


def test_each_try_is_traced_in_one_trace_with_its_dwell_time_and_attempt_number(
    make_invoker, xray_daemon: XRayDaemonStub, sqs, queue
):
    arn, url = queue
    invoker = make_invoker(AsyncInvokeConfig(on_success=arn))
    invoker.submit("QueuedFunction", json.dumps({"succeed_on_try": 2}).encode())
    receive_one(sqs, url)
    documents = xray_daemon.collect(wait_seconds=1.0)
    services = sorted(
        (doc for doc in documents if doc.get("origin") == "AWS::Lambda"), key=lambda doc: doc["start_time"]
    )
    functions = [doc for doc in documents if doc.get("origin") == "AWS::Lambda::Function"]
    assert len(services) == 2 and len(functions) == 2
    assert len({doc["trace_id"] for doc in documents}) == 1
    for number, segment in enumerate(services, start=1):
        dwell, attempt = segment["subsegments"]
        assert (dwell["name"], attempt["name"]) == ("Dwell Time", f"Attempt #{number}")
        assert segment["start_time"] == dwell["start_time"] <= dwell["end_time"] == attempt["start_time"]
        assert attempt["end_time"] == segment["end_time"]
        assert segment["http"]["response"]["status"] == 202
    # The retry waited for its delay in the queue: its dwell time is at least that long.
    second_dwell = services[1]["subsegments"][0]
    assert second_dwell["end_time"] - second_dwell["start_time"] >= 0.2
    assert sum(1 for doc in functions if doc.get("error")) == 1


def test_events_left_when_it_closes_are_counted(make_invoker, logs):
    invoker = make_invoker(AsyncInvokeConfig(), retry_delays=(60.0, 120.0))
    request_id = invoker.submit("QueuedFunction", b"{}")
    eventually(lambda: any(request_id in line and "retry 1 of 2" in line for line in logs.of("lambda")))
    invoker.close()
    assert "1 queued asynchronous invocation(s) not run: the stack stopped" in logs.of("lambda")


def test_an_unknown_function_is_refused(make_invoker):
    invoker = make_invoker(AsyncInvokeConfig())
    with pytest.raises(KeyError, match="NoSuchFunction"):
        invoker.submit("NoSuchFunction", b"{}")


def test_with_a_journal_an_event_left_queued_runs_at_the_next_start(
    make_invoker, tries_dir, sqs, queue, logs, tmp_path
):
    """Accepted events are durable: one waiting for its retry when the stack stops runs again,
    with its request id, when the next stack starts on the same data."""
    arn, url = queue
    journal_dir = tmp_path / "lambda-async"
    config = AsyncInvokeConfig(on_success=arn)
    first = make_invoker(config, retry_delays=(60.0, 120.0), journal=AsyncEventJournal(journal_dir))
    request_id = first.submit("QueuedFunction", json.dumps({"succeed_on_try": 2}).encode())
    eventually(lambda: any(request_id in line and "retry 1 of 2" in line for line in logs.of("lambda")))
    first.close()
    assert "1 queued asynchronous invocation(s) kept: they run at the next start" in logs.of("lambda")

    second = make_invoker(config, journal=AsyncEventJournal(journal_dir))
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert tries_of(tries_dir, request_id) == 2
    assert "1 asynchronous invocation(s) queued by the last run: running them" in logs.of("lambda")
    # Done: a third start has nothing left to run.
    eventually(lambda: second.pending() == 0)
    second.close()
    assert AsyncEventJournal(journal_dir).recovered == []
