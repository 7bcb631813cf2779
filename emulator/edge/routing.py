"""Which local service a request is for: the one its SigV4 signature names.

Every AWS SDK and CLI signs a request with a credential scope
`<key id>/<date>/<region>/<service>/aws4_request`, in the Authorization header or, for a
presigned URL, in the X-Amz-Credential query parameter. The service in that scope is what the
client meant, whatever the path looks like, so it is the only thing routed on: a request with
no signature, or signed for a service the stack does not run, is answered with an error that
names it, never passed to moto (whose own X-Ray and other services would answer it with empty,
plausible results).
"""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# The signing names (not the endpoint prefixes) of what the local stack serves.
SERVED = ("dynamodb", "logs", "sqs", "xray", "lambda")


@dataclass(frozen=True)
class Unrouted:
    """Why a request cannot be routed: the HTTP status and the message the client gets."""

    status: int
    error_type: str
    message: str


def signed_service(authorization: str | None, target: str) -> str | None:
    """The service a request is signed for, or None when it is not signed (SigV4)."""
    if authorization:
        scheme, _, params = authorization.strip().partition(" ")
        if scheme != "AWS4-HMAC-SHA256":
            return None
        for param in params.split(","):
            name, _, value = param.strip().partition("=")
            if name == "Credential":
                return _scope_service(value)
        return None
    credentials = parse_qs(urlsplit(target).query).get("X-Amz-Credential")
    return _scope_service(credentials[0]) if credentials else None


def _scope_service(credential: str) -> str | None:
    parts = credential.split("/")
    # key id / date / region / service / aws4_request
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[3]:
        return None
    return parts[3]


def route(service: str | None, upstreams: dict[str, str | None]) -> str | Unrouted:
    """The upstream URL for `service`, or why there is none."""
    served = ", ".join(name for name, url in upstreams.items() if url)
    if service is None:
        return Unrouted(
            400,
            "MissingAuthenticationTokenException",
            "the local endpoint routes a request by the service its SigV4 signature names "
            f"(Authorization: AWS4-HMAC-SHA256 Credential=.../<service>/aws4_request); this request is "
            f"not signed. Use an AWS SDK or CLI with any credentials. Served: {served}",
        )
    url = upstreams.get(service)
    if url:
        return url
    why = "is not running in this stack" if service in upstreams else "is not emulated by the local stack"
    return Unrouted(
        400,
        "UnknownServiceException",
        f"service {service[:64]!r} {why}; this endpoint serves: {served}",
    )
