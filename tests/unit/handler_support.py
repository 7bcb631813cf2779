"""Helpers the unit tests share with their conftest: sample events, fresh handler imports, throttling."""

import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from tests.template_reader import REPO_ROOT

EVENTS_DIR = REPO_ROOT / "events"

Event = dict[str, Any]


def load_event(name: str) -> Event:
    """One of the sample events in events/, as `sam local invoke -e` would pass it."""
    return json.loads((EVENTS_DIR / name).read_text())


def import_fresh(module_name: str) -> ModuleType:
    """Import (or re-import) a handler so its module-level code runs under the current env and mocks.

    An OpenTelemetry handler (otel_app) instruments botocore when it is imported; that patch is
    process-wide and keeps the tracer provider of the first import, so it is undone first and the
    re-imported module instruments botocore with its own provider (and exporter address).
    """
    if module_name.endswith("otel_app"):
        uninstrument_botocore()
    module = importlib.import_module(module_name)
    return importlib.reload(module)


def uninstrument_botocore() -> None:
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

    if BotocoreInstrumentor().is_instrumented_by_opentelemetry:
        BotocoreInstrumentor().uninstrument()


@dataclass
class ThrottledPutItem:
    """Answers every PutItem call with DynamoDB's throttling error, as botocore's Stubber would answer
    one: the handler's retries see the same error each time."""

    calls: int = 0

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.calls += 1
        # DynamoDB answers throttling with HTTP 400 and this code.
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeded"}
        return AWSResponse("", 400, HTTPHeaders(), None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }


def throttle_put_item(client: Any) -> ThrottledPutItem:
    """Throttle `client`'s PutItem calls on before-call, as Stubber does: they never reach moto."""
    throttled = ThrottledPutItem()
    client.meta.events.register_first("before-call.dynamodb.PutItem", throttled)
    return throttled
