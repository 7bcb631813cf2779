"""Helpers the unit tests share with their conftest: sample events and fresh handler imports."""

import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tests.template_reader import REPO_ROOT

EVENTS_DIR = REPO_ROOT / "events"

Event = dict[str, Any]


def load_event(name: str) -> Event:
    """One of the sample events in events/, as `sam local invoke -e` would pass it."""
    return json.loads((EVENTS_DIR / name).read_text())


def import_fresh(module_name: str) -> ModuleType:
    """Import (or re-import) a handler so its module-level code runs under the current env and mocks."""
    module = importlib.import_module(module_name)
    return importlib.reload(module)


@dataclass
class FakeLambdaContext:
    """The one part of the Lambda context the /ddb handler reads: the time left in the invocation."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
