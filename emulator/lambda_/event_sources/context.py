"""What every event source needs from the running stack, handed over in one piece."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator.app.model import AppSpec
from emulator.lambda_.async_invoke import AsyncInvoker
from emulator.lambda_.service import LambdaService
from emulator.tracing.segment_sender import SegmentSender

# Stops what a start_* function started; called once, when the stack stops.
Stopper = Callable[[], None]


@dataclass(frozen=True)
class EventSourceContext:
    app: AppSpec
    lambda_service: LambdaService
    # Lambda's queue for asynchronous invocations (what EventBridge's schedules hand events to).
    async_invoker: AsyncInvoker
    # moto's endpoint: SQS, DynamoDB and DynamoDB Streams are served there (signed per service).
    endpoint_url: str
    segment_sender: SegmentSender | None
    # One line for the terminal per event worth a user's attention (a batch that failed, a rule
    # that fired), without a trailing newline; the stack prefixes it with the source's name.
    log: Callable[[str], None]
    # The stack's data directory (--data-dir), where a source keeps what must outlive a run (a
    # stream mapping's place); None: nothing is kept, as the tables are not either.
    data_dir: Path | None = None
