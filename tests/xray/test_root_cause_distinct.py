"""Root causes are de-duplicated on a tuple key: it must tell two causes apart exactly when
their JSON (what GetTraceSummaries shows) differs."""

import json
import random

from emulator.xray.filters import (
    RootCause,
    RootCauseEntity,
    RootCauseException,
    RootCauseService,
    root_cause_json,
)
from emulator.xray.traces import _distinct


def _base() -> RootCause:
    return RootCause(
        services=[
            RootCauseService(
                "api",
                "AWS::ApiGateway::Stage",
                "123456789012",
                False,
                [RootCauseEntity("api", [RootCauseException("Boom", "bad")], remote=False)],
            ),
            RootCauseService(
                "ddb", "AWS::DynamoDB::Table", None, True, [RootCauseEntity("ddb", [], remote=True)]
            ),
        ],
        client_impacting=True,
    )


def _covered_without_exceptions(cause: RootCause) -> None:
    cause.services[0].entity_path[0].coverage = 0.5
    cause.services[0].entity_path[0].exceptions.clear()


def _variants() -> list[RootCause]:
    """The base cause, copies of it, and each field changed (some changes the JSON does not show)."""
    changes = [
        lambda c: setattr(c, "client_impacting", False),
        lambda c: setattr(c.services[0], "name", "other"),
        lambda c: setattr(c.services[0], "node_type", ""),
        lambda c: setattr(c.services[1], "account_id", "123456789012"),
        lambda c: setattr(c.services[1], "inferred", False),
        lambda c: setattr(c.services[0].entity_path[0], "remote", True),
        lambda c: setattr(c.services[0].entity_path[0].exceptions[0], "message", None),
        lambda c: setattr(c.services[0].entity_path[0].exceptions[0], "name", "Other"),
        lambda c: c.services[0].entity_path[0].exceptions.append(RootCauseException("Boom", "bad")),
        lambda c: c.services.pop(),
        # Coverage hides the exceptions in the JSON: these two show the same.
        lambda c: setattr(c.services[0].entity_path[0], "coverage", 0.5),
        _covered_without_exceptions,
        lambda c: setattr(c.services[0].entity_path[0], "coverage", 0.25),
    ]
    causes = [_base(), _base()]
    for change in changes:
        for _ in range(2):
            cause = _base()
            change(cause)
            causes.append(cause)
    return causes


def _by_json(causes: list[RootCause]) -> list[RootCause]:
    seen: set[str] = set()
    kept = []
    for cause in causes:
        key = json.dumps(root_cause_json(cause), sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(cause)
    return kept


def test_root_causes_are_told_apart_exactly_when_their_json_differs():
    causes = _variants()
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(causes)
        # The same causes kept, the same (first) of each.
        assert [id(c) for c in _distinct(causes)] == [id(c) for c in _by_json(causes)]
    assert len(_distinct(causes)) < len(causes)
