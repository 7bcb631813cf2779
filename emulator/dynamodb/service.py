"""The local DynamoDB: moto in a child process, with the template's tables in it.

The functions reach it through AWS_ENDPOINT_URL, so their code is the code that runs in AWS.
The template's tables are created at start, as CloudFormation would have created them. With a
data directory every write is on disk before it is answered (durable_app.py), so the tables
survive any stop, crash or restart of the stack or of moto.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from emulator.app.model import TableSpec
from emulator.dynamodb import snapshots
from emulator.dynamodb.moto_process import MotoProcess, MotoProcessError
from emulator.local_credentials import FAKE_CREDENTIALS, local_session
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
        # Where the tables are kept across restarts (journal and checkpoints); None: memory only.
        self.data_dir = data_dir
        self.region = region
        self.log = log
        self._moto = MotoProcess(host, port, data_dir, log=log, on_restart=self._restarted)
        # Called after a restart, once the tables are there again: the stack creates the
        # template's queues (in the same moto) again this way.
        self.restart_hooks: list[Callable[[], None]] = []

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
        self._report_loaded()
        self.create_tables()
        if self.data_dir is not None:
            self._import_json_snapshots(self.data_dir)

    def _report_loaded(self) -> None:
        loaded = self._moto.loaded
        if self.log and (loaded.checkpoint or loaded.replayed):
            refused = f", {loaded.refused} of them refused this time" if loaded.refused else ""
            self.log(
                f"loaded the tables from {self.data_dir}: checkpoint {loaded.checkpoint} and "
                f"{loaded.replayed} journaled writes{refused} in {loaded.seconds:.2f} s"
            )

    def _restarted(self) -> None:
        """moto died and was started again: from its files, or empty without a data directory."""
        self._report_loaded()
        try:
            self.create_tables()
        except (ServicesError, BotoCoreError, ClientError) as error:
            if self.log:
                self.log(f"could not create the tables again after the restart: {error}")
        for hook in self.restart_hooks:
            hook()

    def client(self) -> "DynamoDBClient":
        return local_session().client(
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

    def _import_json_snapshots(self, data_dir: Path) -> None:
        """Tables saved as `<table>.json` by earlier versions of the stack go in once, through
        the journal; the file is then renamed, so they are not imported twice."""
        dynamodb = self.client()
        for table in self.tables:
            imported = snapshots.import_table(dynamodb, table.table_name, data_dir)
            if imported and self.log:
                self.log(f"imported {imported} items into {table.table_name} from {data_dir}")

    def stop(self) -> None:
        # Nothing to save: every acknowledged write is in the journal already.
        self._moto.stop()

    def __enter__(self) -> "DynamoDBService":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
