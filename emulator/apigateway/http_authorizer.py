"""HTTP API Lambda authorizers: invoked as API Gateway invokes them, their answer decides.

From "Control access to HTTP APIs with AWS Lambda authorizers" (API Gateway developer guide):
- the identity sources ($request.header.X, $request.querystring.x, $stageVariables.x,
  $context.x) must all be present, else the authorizer is not invoked: 401 Unauthorized;
- payload format 2.0 sends the request as the 2.0 event has it (no body) with `type`
  "REQUEST", `routeArn` and `identitySource` (the values, a list); 1.0 sends the REST-style
  request with `methodArn`, and `identitySource` and `authorizationToken` (the values, joined by
  commas);
- a simple response (EnableSimpleResponses, 2.0 only) is `{"isAuthorized": bool, "context"}`:
  false is a 403 Forbidden; otherwise the answer is an IAM policy, as a REST API's authorizer
  gives (authorizer.py: a Deny or no Allow of the route's ARN is a 403);
- a failed authorizer or a malformed answer is a 500 Internal Server Error;
- what the authorizer put in `context` reaches the function as requestContext.authorizer.lambda.
"""

import json
from collections.abc import Callable
from typing import Any

from emulator.apigateway.authorizer import Decision, Invoke, as_text, identity_value, policy_decision
from emulator.app.model import HTTP_IDENTITY_PREFIXES, AuthorizerSpec

UNAUTHORIZED = (401, {"message": "Unauthorized"})
FORBIDDEN = (403, {"message": "Forbidden"})
SERVER_ERROR = (500, {"message": "Internal Server Error"})


def route_arn(region: str, account_id: str, api_id: str, stage: str, method: str, path: str) -> str:
    """arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>, as the guide's
    examples write it ($default for the default stage)."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def authorize_http(
    authorizer: AuthorizerSpec,
    request_v2: dict[str, Any],
    request_v1: Callable[[], dict[str, Any]],
    arn: str,
    invoke: Invoke,
) -> Decision:
    """Run `authorizer` for the request whose 2.0 event is `request_v2` (`request_v1` makes the
    1.0 one, for an authorizer of payload format 1.0)."""
    values: list[str] = []
    for source in authorizer.identity_sources:
        value = identity_value(source, request_v2, HTTP_IDENTITY_PREFIXES)
        if not value:
            return Decision(UNAUTHORIZED, reason=f"identity source {source} is missing")
        values.append(value)
    if authorizer.payload_format == "2.0":
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": values,
        }
        event.update((k, v) for k, v in request_v2.items() if k not in ("version", "body", "isBase64Encoded"))
    else:
        joined = ",".join(values)
        event = {"version": "1.0", "type": "REQUEST", "methodArn": arn, "identitySource": joined,
                 "authorizationToken": joined}  # fmt: skip
        event.update(
            (k, v) for k, v in request_v1().items() if k not in ("version", "body", "isBase64Encoded")
        )
    outcome, payload = invoke(authorizer.function, json.dumps(event).encode())
    if outcome != "success":
        return Decision(SERVER_ERROR, reason=f"the authorizer failed ({outcome})")
    if authorizer.simple_responses:
        return _simple_decision(payload)
    decision = policy_decision(payload, arn)
    if decision.refusal is not None:
        status, _ = decision.refusal
        # An HTTP API answers in its own words: 403 Forbidden, 500 Internal Server Error.
        refusal = FORBIDDEN if status == 403 else SERVER_ERROR
        return Decision(refusal, reason=decision.reason)
    context = dict(decision.context)
    principal = context.pop("principalId", None)
    return Decision(context={"lambda": context, "principalId": principal})


def _simple_decision(payload: bytes) -> Decision:
    try:
        answer = json.loads(payload)
        authorized = answer["isAuthorized"]
        context = answer.get("context") or {}
        if not isinstance(authorized, bool) or not isinstance(context, dict):
            raise TypeError("isAuthorized must be a boolean and context a map")
    except (ValueError, KeyError, TypeError) as error:
        return Decision(SERVER_ERROR, reason=f"malformed authorizer answer: {error!r}"[:200])
    if not authorized:
        return Decision(FORBIDDEN, reason="the authorizer answered isAuthorized: false")
    return Decision(context={"lambda": {key: _passed(value) for key, value in context.items()}})


def _passed(value: Any) -> Any:
    # Scalars as the REST authorizer passes them; maps and lists as the authorizer gave them.
    return as_text(value) if isinstance(value, (str, int, float, bool)) else value
