"""A Lambda authorizer (TOKEN and REQUEST): the token or the X-User header decides.

allow / alice → Allow with a context; deny → Deny; unauthorized → the "Unauthorized" error;
anything else → a policy that allows some other method only.
"""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["type"] == "TOKEN":
        who = event["authorizationToken"]
    else:
        who = {k.lower(): v for k, v in event["headers"].items()}["x-user"]
    if who == "unauthorized":
        raise Exception("Unauthorized")
    if who in ("allow", "alice"):
        effect, resource = "Allow", event["methodArn"]
    elif who == "deny":
        effect, resource = "Deny", event["methodArn"]
    else:
        effect, resource = "Allow", event["methodArn"].rsplit("/", 2)[0] + "/POST/elsewhere"
    return {
        "principalId": f"user-{who}",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"user": who, "type": event["type"], "level": 3},
    }
