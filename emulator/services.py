"""The AWS services the functions call (DynamoDB, and whatever else moto serves), on loopback.

One moto server answers every service at one endpoint; the functions reach it through
AWS_ENDPOINT_URL, so their code is the code that runs in AWS. The template's tables are
created in it at start, as CloudFormation would have created them.
"""

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from moto.server import ThreadedMotoServer

from emulator import table_snapshots
from emulator.model import TableSpec

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
# moto's own default, and what the docs of most local stacks use.
DEFAULT_PORT = 5000
# Any value works against moto; real-looking ones keep SDKs from complaining.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
START_TIMEOUT = 15.0


class ServicesError(Exception):
    """The services could not start; the message is one line."""


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def check_port_free(host: str, port: int, what: str) -> None:
    """Raise OSError naming `what` if something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The same option the servers set, so a port in TIME_WAIT is not reported as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(error.errno, f"{what}: port {host}:{port} is already in use") from None


class Services:
    """A moto server with the template's tables in it."""

    def __init__(
        self,
        tables: list[TableSpec],
        *,
        region: str,
        host: str = DEFAULT_HOST,
        port: int = 0,
        log: Callable[[str], None] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.tables = tables
        # Where the tables' items are kept across restarts (table_snapshots); None: memory only.
        self.data_dir = data_dir
        self.region = region
        self.host = host
        self.port = port
        self.log = log
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # ThreadedMotoServer binds in its thread and, if that fails, waits forever for a
        # ready signal; so the port is chosen and checked here, and the start is bounded.
        if self.port == 0:
            self.port = free_port(self.host)
        else:
            check_port_free(self.host, self.port, "DynamoDB (moto)")
        # werkzeug writes an access log line per request to stderr; the functions' calls
        # would drown the terminal.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        starter = threading.Thread(target=server.start, name="moto-start", daemon=True)
        starter.start()
        starter.join(START_TIMEOUT)
        if starter.is_alive():
            raise ServicesError(f"moto did not start on {self.endpoint_url} within {START_TIMEOUT:.0f} s")
        self._server = server
        self.create_tables()
        if self.data_dir is not None:
            self._load_items(self.data_dir)

    def client(self, service: str = "dynamodb"):  # noqa: ANN201 - boto3 clients are untyped here
        return boto3.client(
            service, endpoint_url=self.endpoint_url, region_name=self.region, **FAKE_CREDENTIALS
        )

    def create_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        existing = set(dynamodb.list_tables().get("TableNames", []))
        for table in self.tables:
            if table.table_name in existing:
                continue  # moto keeps state per process: a restart in-process finds it there
            try:
                dynamodb.create_table(TableName=table.table_name, **table.create_table_args)
            except (ClientError, ParamValidationError) as error:
                message = " ".join(str(error).split())
                raise ServicesError(f"table {table.logical_id} ({table.table_name}): {message}") from None
            dynamodb.get_waiter("table_exists").wait(
                TableName=table.table_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
            )
            if self.log:
                self.log(f"created table {table.table_name} ({table.logical_id})")

    def _load_items(self, data_dir: Path) -> None:
        dynamodb = self.client("dynamodb")
        for table in self.tables:
            loaded = table_snapshots.load_table(dynamodb, table.table_name, data_dir)
            if loaded and self.log:
                self.log(f"loaded {loaded} items into {table.table_name} from {data_dir}")

    def _save_items(self, data_dir: Path) -> None:
        dynamodb = self.client("dynamodb")
        for table in self.tables:
            try:
                saved = table_snapshots.save_table(dynamodb, table.table_name, data_dir)
            except (ClientError, BotoCoreError, OSError) as error:
                logger.warning("could not save the items of %s: %s", table.table_name, error)
                continue
            if self.log:
                self.log(f"saved {saved} items of {table.table_name} to {data_dir}")

    def stop(self) -> None:
        if self._server is not None:
            if self.data_dir is not None:
                self._save_items(self.data_dir)
            self._server.stop()
            self._server = None

    def __enter__(self) -> "Services":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
