"""The local DynamoDB: moto in a child process, with the template's tables in it.

The functions reach it through AWS_ENDPOINT_URL, so their code is the code that runs in AWS.
The template's tables are created at start, as CloudFormation would have created them, and
their items are kept across restarts (snapshots.py).
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from emulator.app.model import TableSpec
from emulator.dynamodb import snapshots
from emulator.dynamodb.moto_process import MotoProcess, MotoProcessError
from emulator.local_credentials import FAKE_CREDENTIALS
from emulator.loopback import HOST

if TYPE_CHECKING:  # a stub package: types only, not needed to run
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

# moto's own default, and what the docs of most local stacks use.
DEFAULT_PORT = 5000


class ServicesError(Exception):
    """The services could not start; the message is one line."""


class DynamoDBService:
    """moto with the template's tables in it; port 0 picks a free port."""

    def __init__(
        self,
        tables: list[TableSpec],
        *,
        region: str,
        host: str = HOST,
        port: int = 0,
        log: Callable[[str], None] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.tables = tables
        # Where the tables' items are kept across restarts (snapshots.py); None: memory only.
        self.data_dir = data_dir
        self.region = region
        self.log = log
        self._moto = MotoProcess(host, port)
        self._started = False

    @property
    def endpoint_url(self) -> str:
        return self._moto.endpoint_url

    @property
    def port(self) -> int:
        return self._moto.port

    def start(self) -> None:
        # A busy port is the child's one-line bind error (the stack checks every port first).
        try:
            self._moto.start()
        except MotoProcessError as error:
            raise ServicesError(str(error)) from None
        self._started = True
        self.create_tables()
        if self.data_dir is not None:
            self._load_items(self.data_dir)

    def client(self) -> "DynamoDBClient":
        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
        )

    def create_tables(self) -> None:
        dynamodb = self.client()
        existing = set(dynamodb.list_tables().get("TableNames", []))
        for table in self.tables:
            if table.table_name in existing:
                continue
            try:
                dynamodb.create_table(TableName=table.table_name, **table.create_table_args)
            except (ClientError, ParamValidationError) as error:
                message = " ".join(str(error).split())
                raise ServicesError(f"table {table.logical_id} ({table.table_name}): {message}") from None
            # mypy-boto3-dynamodb types Delay as int, but botocore only hands it to time.sleep,
            # which takes a float: the stub is narrower than botocore; 0.1 s keeps startup quick.
            dynamodb.get_waiter("table_exists").wait(
                TableName=table.table_name,
                WaiterConfig={"Delay": 0.1, "MaxAttempts": 50},  # type: ignore[typeddict-item]
            )
            if self.log:
                self.log(f"created table {table.table_name} ({table.logical_id})")

    def _load_items(self, data_dir: Path) -> None:
        dynamodb = self.client()
        for table in self.tables:
            loaded = snapshots.load_table(dynamodb, table.table_name, data_dir)
            if loaded and self.log:
                self.log(f"loaded {loaded} items into {table.table_name} from {data_dir}")

    def _save_items(self, data_dir: Path) -> None:
        dynamodb = self.client()
        for table in self.tables:
            try:
                saved = snapshots.save_table(dynamodb, table.table_name, data_dir)
            except (ClientError, BotoCoreError, OSError) as error:
                logger.warning("could not save the items of %s: %s", table.table_name, error)
                continue
            if self.log:
                self.log(f"saved {saved} items of {table.table_name} to {data_dir}")

    def stop(self) -> None:
        if self._started:
            self._started = False
            if self.data_dir is not None:
                self._save_items(self.data_dir)
        self._moto.stop()

    def __enter__(self) -> "DynamoDBService":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
