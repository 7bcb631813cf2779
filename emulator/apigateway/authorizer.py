"""REST API Lambda authorizers (TOKEN and REQUEST): invoked as API Gateway invokes them, their
policy decides.

From "Use API Gateway Lambda authorizers" and "Output from an API Gateway Lambda authorizer":
- a TOKEN authorizer gets `{"type": "TOKEN", "authorizationToken", "methodArn"}`; with the
  token header missing (or not matching ValidationExpression) it is not invoked: 401.
- a REQUEST authorizer gets the request (as the proxy event has it) with `type` and
  `methodArn`; with one of its identity sources missing it is not invoked: 401.
- an authorizer failing with the error message "Unauthorized" is a 401; any other failure or a
  malformed answer is a 500 (AuthorizerConfigurationException).
- the answer's policy: an explicit Deny of the method's ARN is a 403, no Allow of it a 403;
  with an Allow, `principalId` and `context` (its values as strings) reach the function as
  requestContext.authorizer.
"""

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from emulator.app.model import REST_IDENTITY_PREFIXES, AuthorizerSpec

UNAUTHORIZED = (401, {"message": "Unauthorized"})
DENIED = (403, {"Message": "User is not authorized to access this resource with an explicit deny"})
NOT_ALLOWED = (403, {"Message": "User is not authorized to access this resource"})
CONFIGURATION_ERROR = (500, {"message": None})


@dataclass(frozen=True)
class Decision:
    """Either a refusal (status and body) or what the function sees of the authorizer."""

    refusal: tuple[int, dict[str, Any]] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # for the gateway's log: why a request was refused


# (invoke the authorizer function with this event) -> (outcome, payload)
Invoke = Callable[[str, bytes], tuple[str, bytes]]


def method_arn(region: str, account_id: str, api_id: str, stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def authorize(
    authorizer: AuthorizerSpec, request_event: dict[str, Any], arn: str, invoke: Invoke
) -> Decision:
    """Run `authorizer` for the request whose proxy event is `request_event`."""
    if authorizer.type == "TOKEN":
        header = authorizer.identity_sources[0].removeprefix("method.request.header.")
        token = lookup(request_event.get("headers"), header)
        if not token:
            return Decision(UNAUTHORIZED, reason=f"no {header} header")
        if authorizer.validation_expression and not re.fullmatch(authorizer.validation_expression, token):
            return Decision(UNAUTHORIZED, reason="the token does not match ValidationExpression")
        event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
    else:
        for source in authorizer.identity_sources:
            if not identity_value(source, request_event, REST_IDENTITY_PREFIXES):
                return Decision(UNAUTHORIZED, reason=f"identity source {source} is missing")
        event = {
            "type": "REQUEST",
            "methodArn": arn,
            **{k: v for k, v in request_event.items() if k != "body"},
        }
        event.pop("isBase64Encoded", None)
    started = time.monotonic()
    outcome, payload = invoke(authorizer.function, json.dumps(event).encode())
    latency_ms = int((time.monotonic() - started) * 1000)
    if outcome != "success":
        if error_message(payload) == "Unauthorized":
            return Decision(UNAUTHORIZED, reason="the authorizer answered Unauthorized")
        return Decision(CONFIGURATION_ERROR, reason=f"the authorizer failed ({outcome})")
    decision = policy_decision(payload, arn)
    if decision.refusal is not None:
        return decision
    return Decision(context={**decision.context, "integrationLatency": latency_ms})


def policy_decision(payload: bytes, arn: str) -> Decision:
    """An authorizer's IAM policy answer for `arn`: an explicit Deny is a 403, no Allow a 403;
    with an Allow, its `context` (values as strings) and `principalId`."""
    try:
        answer = json.loads(payload)
        principal = answer["principalId"]
        statements = answer["policyDocument"]["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        context = answer.get("context") or {}
        if not isinstance(context, dict) or not all(
            isinstance(v, (str, int, float, bool)) for v in context.values()
        ):
            raise ValueError("context values must be strings, numbers or booleans")
        effects = [_effect(statement, arn) for statement in statements]
    except (ValueError, KeyError, TypeError) as error:
        return Decision(CONFIGURATION_ERROR, reason=f"malformed authorizer answer: {error!r}"[:200])
    if "Deny" in effects:
        return Decision(DENIED, reason="the policy denies the method")
    if "Allow" not in effects:
        return Decision(NOT_ALLOWED, reason="the policy does not allow the method")
    # The function sees every context value as a string, as API Gateway passes them on.
    passed = {key: as_text(value) for key, value in context.items()}
    return Decision(context={**passed, "principalId": principal})


def as_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _effect(statement: dict[str, Any], arn: str) -> str | None:
    """The statement's Effect when it applies to `arn` (execute-api:Invoke on a matching Resource)."""
    actions = _as_list(statement.get("Action", "execute-api:Invoke"))
    resources = _as_list(statement["Resource"])
    effect = statement["Effect"]
    if effect not in ("Allow", "Deny"):
        raise ValueError(f"Effect {effect!r}")
    if not any(fnmatchcase("execute-api:Invoke", str(action)) for action in actions):
        return None
    return effect if any(fnmatchcase(arn, str(resource)) for resource in resources) else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def lookup(mapping: Any, name: str) -> str | None:
    if not isinstance(mapping, dict):
        return None
    lowered = name.lower()
    return next((v for k, v in mapping.items() if k.lower() == lowered), None)


def identity_value(source: str, event: dict[str, Any], prefixes: tuple[str, str, str, str]) -> str | None:
    """The value of one identity source in the request's event (None when it is absent)."""
    header, query, stage, context = prefixes
    if source.startswith(header):
        return lookup(event.get("headers"), source.removeprefix(header))
    if source.startswith(query):
        return (event.get("queryStringParameters") or {}).get(source.removeprefix(query))
    if source.startswith(stage):
        return (event.get("stageVariables") or {}).get(source.removeprefix(stage))
    if source.startswith(context):
        value = (event.get("requestContext") or {}).get(source.removeprefix(context))
        return None if value is None else str(value)
    return None


def error_message(payload: bytes) -> str | None:
    try:
        document = json.loads(payload)
        return str(document.get("errorMessage")) if isinstance(document, dict) else None
    except ValueError:
        return None
