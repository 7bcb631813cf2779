"""Helpers the unit tests share with their conftest: sample events and fresh handler imports."""

import importlib
import json
from types import ModuleType
from typing import Any

from template_reader import REPO_ROOT

EVENTS_DIR = REPO_ROOT / "events"

Event = dict[str, Any]


def load_event(name: str) -> Event:
    """One of the sample events in events/, as `sam local invoke -e` would pass it."""
    return json.loads((EVENTS_DIR / name).read_text())


def import_fresh(module_name: str) -> ModuleType:
    """Import (or re-import) a handler so its module-level code runs under the current env and mocks."""
    module = importlib.import_module(module_name)
    return importlib.reload(module)
