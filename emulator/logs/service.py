"""The local CloudWatch Logs: the template's log groups, and the functions' lines shipped there.

moto serves CloudWatch Logs on the same endpoint as DynamoDB (it routes a request by the
service its signature names), in the same child process, behind the same journal: every
log event it acknowledged survives a restart (emulator/dynamodb/durable_app.py). So this
part starts no process of its own. At start it creates the template's AWS::Logs::LogGroup
resources, with their RetentionInDays, as CloudFormation would (moto keeps the setting and
returns it, but does not expire events). While the stack runs, a LogShipper sends every
function's lines to its log group (LoggingConfig.LogGroup, or /aws/lambda/<name>), one log
stream per execution environment, as Lambda does.
"""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.app.model import AppSpec
from emulator.dynamodb.service import ServicesError
from emulator.logs.shipper import LogShipper, ensure_log_group, logs_client


class CloudWatchLogs:
    """`start()` creates the log groups and starts the shipper; `put` is the Lambda service's
    CloudWatch sink; `stop()` sends what is buffered and stops the shipper."""

    def __init__(self, app: AppSpec, *, endpoint_url: str, log: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.endpoint_url = endpoint_url
        self._log = log
        self._shipper: LogShipper | None = None

    def client(self) -> Any:
        return logs_client(self.endpoint_url, self.app.region)

    def start(self) -> None:
        client = logs_client(self.endpoint_url, self.app.region)
        for group in self.app.log_groups:
            try:
                created = ensure_log_group(client, group.log_group_name, group.retention_in_days)
            except (BotoCoreError, ClientError) as error:
                message = " ".join(str(error).split())
                raise ServicesError(
                    f"log group {group.logical_id} ({group.log_group_name}): {message}"
                ) from None
            if created and self._log is not None:
                self._log(f"created log group {group.log_group_name} ({group.logical_id})")
        retention = {
            group.log_group_name: group.retention_in_days
            for group in self.app.log_groups
            if group.retention_in_days is not None
        }
        self._shipper = LogShipper(
            lambda: logs_client(self.endpoint_url, self.app.region), retention_days=retention, log=self._log
        )

    def put(self, group: str, stream: str, message: str) -> None:
        """One function log line (never blocks: the shipper sends it from its thread)."""
        if self._shipper is not None:
            self._shipper.put(group, stream, message)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every line put so far is in CloudWatch Logs (tests, the console)."""
        return self._shipper.flush(timeout) if self._shipper is not None else True

    def stop(self) -> None:
        if self._shipper is not None:
            self._shipper.close()
            self._shipper = None
