"""The local DynamoDB's durability costs: start and stop times as the table grows, and what the
journal's fsync adds to a write, each beside moto without a data directory in the same run.

    python -m bench.durability_figures [--sizes 1000 10000 100000]

A data directory of N items is made the fast way (moto's backend called in a child process,
then a checkpoint written), with a full journal after it (the writes a start replays at most),
so the start measured is the slowest the stack would see at that size.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.dynamodb.durable_app import CHECKPOINT_EVERY_WRITES  # noqa: E402
from emulator.dynamodb.moto_process import MotoProcess  # noqa: E402
from emulator.local_credentials import FAKE_CREDENTIALS, local_session  # noqa: E402

REGION = "ap-northeast-1"
AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential=testing/20261130/{REGION}/dynamodb/aws4_request, SignedHeaders=host"
)
KEY_SCHEMA = {
    "KeySchema": [
        {"AttributeName": "Key", "KeyType": "HASH"},
        {"AttributeName": "CreateDate", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "Key", "AttributeType": "S"},
        {"AttributeName": "CreateDate", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def item(index: int) -> dict[str, dict[str, str]]:
    return {"Key": {"S": f"item-{index:07d}"}, "CreateDate": {"S": "2026-11-30T00:00:00.000000"}}


def prefill(data_dir: Path, items: int) -> None:
    """In a child process (moto's state is module-level): N items, a checkpoint, a full journal."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from emulator.dynamodb.checkpoint import capture_state, write_checkpoint
    from emulator.dynamodb.durable_app import DurableDynamoDB, encode_request, replay_environ
    from emulator.dynamodb.journal import Journal

    def request(operation: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "HTTP_AUTHORIZATION": AUTHORIZATION,
            "HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{operation}",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
        }
        return replay_environ(headers, json.dumps(body).encode())

    moto = DurableDynamoDB(DomainDispatcherApplication(create_backend_app), None)
    moto.apply(request("CreateTable", {"TableName": "Demo", **KEY_SCHEMA}))
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    for index in range(items):  # moto's backend directly: ~50 µs an item, not ~1 ms through HTTP
        backend.put_item("Demo", item(index))
    data_dir.mkdir(parents=True, exist_ok=True)
    write_checkpoint(data_dir, 1, capture_state())
    journal = Journal(data_dir, 1)
    for index in range(items, items + CHECKPOINT_EVERY_WRITES - 1):
        environ = request("PutItem", {"TableName": "Demo", "Item": item(index)})
        journal.append(encode_request(environ, environ["wsgi.input"].read()))
    journal.close()


@dataclass
class StartStop:
    start: float
    stop: float


def start_and_stop(data_dir: Path | None) -> StartStop:
    moto = MotoProcess(data_dir=data_dir)
    started = time.perf_counter()
    moto.start()
    start = time.perf_counter() - started
    stopped = time.perf_counter()
    moto.stop()
    return StartStop(start, time.perf_counter() - stopped)


def put_latency_ms(data_dir: Path | None, count: int) -> float:
    """p50 of sequential PutItem calls through boto3, as a function makes them."""
    moto = MotoProcess(data_dir=data_dir)
    moto.start()
    try:
        client = local_session().client(
            "dynamodb", endpoint_url=moto.endpoint_url, region_name=REGION, **FAKE_CREDENTIALS
        )
        client.create_table(TableName="Demo", **KEY_SCHEMA)  # type: ignore[arg-type]
        times = []
        for index in range(count):
            started = time.perf_counter()
            client.put_item(TableName="Demo", Item=item(index))
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000
    finally:
        moto.stop()


def measure(sizes: list[int], puts: int = 500) -> Table:
    table = Table(title="Local DynamoDB durability: start/stop as the table grows, and a write's cost")
    for column in ("items", "start s", "start / memory-only", "stop s", "stop / memory-only"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="sam-app-durability-") as work:
        for size in sizes:
            data_dir = Path(work) / f"items-{size}"
            subprocess.run(
                [sys.executable, "-m", "bench.durability_figures", "--prefill", str(data_dir), str(size)],
                cwd=ROOT,
                check=True,
            )
            baseline = start_and_stop(None)
            ours = start_and_stop(data_dir)
            table.add_row(
                f"{size:,} + {CHECKPOINT_EVERY_WRITES - 1:,} journaled",
                f"{ours.start:.2f}", f"{ours.start / baseline.start:.2f}",
                f"{ours.stop:.3f}", f"{ours.stop / baseline.stop:.2f}",
            )  # fmt: skip
        memory = put_latency_ms(None, puts)
        journaled = put_latency_ms(Path(work) / "puts", puts)
    table.caption = (
        f"PutItem p50 over {puts} sequential calls: {journaled:.2f} ms journaled (fsync), "
        f"{memory:.2f} ms memory-only ({journaled / memory:.2f}×)"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.durability_figures", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--prefill", nargs=2, metavar=("DIR", "ITEMS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prefill:
        prefill(Path(args.prefill[0]), int(args.prefill[1]))
        return
    from rich.console import Console

    Console().print(measure(args.sizes))


if __name__ == "__main__":
    main()
