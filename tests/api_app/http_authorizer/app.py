"""An HTTP API Lambda authorizer, for payload format 2.0 with simple responses and for 1.0 with
an IAM policy: the X-User header decides (alice: allowed, anyone else: refused), and the event it
got comes back in the context so the tests can read it."""

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    who = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("x-user")
    seen = json.dumps({k: event.get(k) for k in ("version", "type", "routeArn", "methodArn", "identitySource",
                                                   "authorizationToken", "routeKey", "body")})  # fmt: skip
    if who == "crash":
        raise RuntimeError("the authorizer failed")
    if event["version"] == "2.0":
        return {"isAuthorized": who == "alice", "context": {"user": who, "seen": seen, "level": 3}}
    effect = "Allow" if who == "alice" else "Deny"
    return {
        "principalId": f"user-{who}",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"user": who, "seen": seen},
    }
