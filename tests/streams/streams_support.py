"""What the DynamoDB stream poller tests share: a real moto, a real LambdaService running a
function that writes down every event it is given, and the poller between them."""

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from emulator.app.model import AppSpec, FunctionSpec, StreamEventSpec
from emulator.lambda_.async_invoke import AsyncInvoker
from emulator.lambda_.event_sources.context import EventSourceContext
from emulator.lambda_.event_sources.stream_poller import start_stream_pollers
from emulator.lambda_.service import LambdaService
from emulator.local_credentials import FAKE_CREDENTIALS
from emulator.tracing.segment_sender import SegmentSender

REGION = "ap-northeast-1"
FUNCTION = "RecorderFunction"
WAIT_SECONDS = 30.0

# The function: writes each event it gets as a line of RECORD_TO, then fails on the records
# whose NewImage has fail_times n for their first n deliveries (raising, or with REPORT=1 naming
# them in batchItemFailures).
RECORDER = """\
import json
import os


def handler(event, context):
    path = os.environ["RECORD_TO"]
    with open(path, "a") as out:
        out.write(json.dumps(event) + "\\n")
    with open(path) as recorded:
        batches = [json.loads(line) for line in recorded]
    tries = {}
    for batch in batches:
        for record in batch["Records"]:
            number = record["dynamodb"]["SequenceNumber"]
            tries[number] = tries.get(number, 0) + 1
    failing = []
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage", {})
        fail_times = int(image.get("fail_times", {"N": "0"})["N"])
        if tries[record["dynamodb"]["SequenceNumber"]] <= fail_times:
            failing.append(record["dynamodb"]["SequenceNumber"])
    if failing and os.environ.get("REPORT") == "1":
        return {"batchItemFailures": [{"itemIdentifier": number} for number in failing]}
    if failing:
        raise RuntimeError("failing on " + ",".join(failing))
    return None
"""


def write_recorder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(RECORDER)
    return folder


@dataclass
class Harness:
    endpoint_url: str
    code_dir: Path
    runtime_dir: Path
    work_dir: Path
    segment_address: str
    log_lines: list[str] = field(default_factory=list)

    @property
    def dynamodb(self) -> Any:
        endpoint = self.endpoint_url
        return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **FAKE_CREDENTIALS)

    def table(self, view_type: str | None = "NEW_AND_OLD_IMAGES", name: str = "") -> str:
        name = name or f"t-{uuid.uuid4().hex[:10]}"
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if view_type:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
        self.dynamodb.create_table(**args)
        return name

    def put(self, table: str, item_id: str, /, **attributes: Any) -> None:
        item: dict[str, Any] = {"id": {"S": item_id}}
        for name, value in attributes.items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
        self.dynamodb.put_item(TableName=table, Item=item)

    @contextlib.contextmanager
    def polling(
        self,
        table: str,
        *,
        tracing: str = "Active",
        report: bool = False,
        function_reports: bool | None = None,
        data_dir: Path | None = None,
        **options: Any,
    ) -> Iterator["Run"]:
        """The poller on `table`'s stream for the block, and what the function got. `report`:
        the event's FunctionResponseTypes [ReportBatchItemFailures]; `function_reports`: whether
        the function answers with batchItemFailures rather than raise (`report` if not said)."""
        record_to = self.work_dir / f"{uuid.uuid4().hex}.jsonl"
        record_to.touch()
        reports = report if function_reports is None else function_reports
        environment = {"RECORD_TO": str(record_to), "REPORT": "1" if reports else "0"}
        spec = FunctionSpec(
            logical_id=FUNCTION,
            function_name=f"sam-app-{FUNCTION}-TEST0123",
            handler="app.handler",
            runtime="python3.11",
            code_dir=self.code_dir,
            timeout=10.0,  # roomy: a slow machine must not turn a success into a timeout
            memory_size=256,
            environment=environment,
            tracing=tracing,
        )
        options.setdefault("starting_position", "TRIM_HORIZON")
        event = StreamEventSpec(
            function=FUNCTION,
            event_id="Changes",
            stream_arn=f"arn:aws:dynamodb:{REGION}:123456789012:table/{table}/stream/1970-01-01T00:00:00.000",
            report_batch_item_failures=report,
            **options,
        )
        sender = SegmentSender(self.segment_address)
        base_env = {**FAKE_CREDENTIALS_ENV, "AWS_ENDPOINT_URL": self.endpoint_url}
        service = LambdaService({FUNCTION: spec}, runtime_dir=self.runtime_dir, base_env=base_env,
                                log=lambda name, line: None, segment_sender=sender)  # fmt: skip
        app = AppSpec("sam-app", REGION, "123456789012", "Prod", "abcdefghij", False, {FUNCTION: spec},
                      [], [], stream_events=[event])  # fmt: skip
        # The stream poller invokes synchronously: Lambda's queue for Event invokes is not used.
        unused_queue = AsyncInvoker(service, sqs_endpoint_url=None, region=REGION, log=self.log_lines.append,
                                    workers=0)  # fmt: skip
        context = EventSourceContext(
            app=app,
            lambda_service=service,
            async_invoker=unused_queue,
            endpoint_url=self.endpoint_url,
            segment_sender=sender,
            log=self.log_lines.append,
            data_dir=data_dir,
        )
        stop = None
        try:
            stop = start_stream_pollers(context)
            yield Run(record_to, self.log_lines, stop is not None)
        finally:
            if stop is not None:
                stop()
            service.close()
            sender.close()

    def stream_arn(self, table: str) -> str:
        return str(self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"])


FAKE_CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class Run:
    record_to: Path
    log_lines: list[str]
    polling: bool

    def batches(self) -> list[list[dict[str, Any]]]:
        text = self.record_to.read_text()
        return [json.loads(line)["Records"] for line in text.splitlines() if line]

    def ids(self) -> list[list[str]]:
        """Each delivery, as the ids of its records."""
        return [[record["dynamodb"]["Keys"]["id"]["S"] for record in batch] for batch in self.batches()]

    def wait_for(self, what: str, done: Callable[["Run"], bool], timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not done(self):
            assert time.monotonic() < deadline, f"{what}: not after {timeout} s; got {self.ids()}"
            time.sleep(0.1)

    def delivered(self) -> list[str]:
        """Every record id delivered, in the order of its first delivery."""
        seen: list[str] = []
        for batch in self.ids():
            seen.extend(key for key in batch if key not in seen)
        return seen
