"""The template's queues in the local SQS (moto), created as CloudFormation would create them.

Created right after moto starts, before Lambda: a function may send to a queue on its first
request. Created again whenever moto restarts (a queue already there, from the journal, is
left as it is). The functions reach a queue through the URL `!Ref` gives them
(https://sqs.<region>.amazonaws.com/<account>/<name>) and AWS_ENDPOINT_URL: moto goes by the
URL's last segment, the queue's name, whatever host the URL names.
"""

import json
from collections.abc import Callable
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulator.app.model import QueueSpec
from emulator.local_credentials import FAKE_CREDENTIALS, local_session


class QueueError(Exception):
    """A queue could not be created; the message is one line naming it."""


def sqs_client(endpoint_url: str, region: str, config: Config | None = None) -> Any:
    """An SQS client of moto (typed Any: the project pins no SQS type stubs)."""
    return local_session().client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=region,
        config=config,
        aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
    )


def creation_order(queues: list[QueueSpec]) -> list[QueueSpec]:
    """Dead-letter queues before the queues whose RedrivePolicy names them: SQS refuses a
    redrive policy whose target does not exist yet (CloudFormation orders them by the GetAtt)."""
    by_arn = {queue.arn: queue for queue in queues}
    ordered: list[QueueSpec] = []

    def add(queue: QueueSpec, seen: frozenset[str]) -> None:
        if queue in ordered or queue.arn in seen:
            return
        target = _dead_letter_target(queue)
        if target in by_arn:
            add(by_arn[target], seen | {queue.arn})
        ordered.append(queue)

    for queue in queues:
        add(queue, frozenset())
    return ordered


def create_queues(
    queues: list[QueueSpec], endpoint_url: str, region: str, log: Callable[[str], None] | None = None
) -> None:
    """Create every queue that is not there yet, with its attributes; one line each."""
    if not queues:
        return
    sqs = sqs_client(endpoint_url, region)
    try:
        existing = {url.rsplit("/", 1)[-1] for url in sqs.list_queues().get("QueueUrls", [])}
    except (BotoCoreError, ClientError) as error:
        raise QueueError(f"cannot list the queues: {_one_line(error)}") from None
    for queue in creation_order(queues):
        if queue.queue_name in existing:
            continue
        try:
            sqs.create_queue(QueueName=queue.queue_name, Attributes=dict(queue.attributes))
        except (BotoCoreError, ClientError) as error:
            raise QueueError(f"queue {queue.logical_id} ({queue.queue_name}): {_one_line(error)}") from None
        if log:
            log(f"created queue {queue.queue_name} ({queue.logical_id}{_describe(queue)})")


def _describe(queue: QueueSpec) -> str:
    parts = []
    if queue.attributes.get("FifoQueue") == "true":
        parts.append("FIFO")
    if "VisibilityTimeout" in queue.attributes:
        parts.append(f"visibility {queue.attributes['VisibilityTimeout']} s")
    policy = _redrive_policy(queue)
    if policy:
        target = str(policy.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
        parts.append(f"to {target} after {policy.get('maxReceiveCount')} receives")
    return "".join(f", {part}" for part in parts)


def _redrive_policy(queue: QueueSpec) -> dict[str, object]:
    try:
        policy = json.loads(queue.attributes.get("RedrivePolicy", "{}"))
    except ValueError:
        return {}
    return policy if isinstance(policy, dict) else {}


def _dead_letter_target(queue: QueueSpec) -> str:
    return str(_redrive_policy(queue).get("deadLetterTargetArn", ""))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
