"""Where the page's API calls go: the local stack's X-Ray and CloudWatch Logs, or AWS's.

Every call is sent as a new request built here, signed with SigV4: only its path, its JSON
body and the headers the API needs go on, never the browser's own headers (cookies, Origin,
Sec-Fetch-*). Locally the signature uses the stack's placeholder credentials (moto routes a
Logs call by the service its signature names); for AWS it uses the user's default credential
chain (environment, profile, SSO, instance role), read again for every call so that expiring
credentials are refreshed as botocore refreshes them.
"""

import http.client
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError

from emulator.local_credentials import FAKE_CREDENTIALS

# Generous for BatchGetTraces of large traces, short enough that a hung upstream is reported.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
# Headers of the upstream's answer the page may need; nothing else is passed back.
PASSED_BACK = ("Content-Type", "x-amzn-ErrorType")

CredentialSource = Callable[[], ReadOnlyCredentials | None]


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or gave no answer; the message says which and why."""


class NoCredentials(Exception):
    """No AWS credentials were found in the default chain."""


@dataclass(frozen=True)
class UpstreamAnswer:
    status: int
    headers: dict[str, str]  # only PASSED_BACK ones
    body: bytes


class Upstream:
    """One API endpoint the proxy sends to, and how it signs."""

    def __init__(
        self, endpoint_url: str, signing_name: str, region: str, credentials: CredentialSource, where: str
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {endpoint_url!r}")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.signing_name = signing_name
        self.region = region
        self.where = where  # for messages: "the local X-Ray at ...", "X-Ray in ap-northeast-1"
        self._credentials = credentials

    def call(self, path: str, body: bytes, headers: dict[str, str]) -> UpstreamAnswer:
        """POST `body` to `path`, signed; the answer whatever its status.

        Raises NoCredentials, or UpstreamUnavailable when there is no HTTP answer at all.
        """
        credentials = self._credentials()
        if credentials is None:
            raise NoCredentials(f"no AWS credentials found for {self.where} (aws configure, or AWS_PROFILE)")
        request = AWSRequest(method="POST", url=self.endpoint_url + path, data=body, headers=headers)
        SigV4Auth(credentials, self.signing_name, self.region).add_auth(request)
        prepared = request.prepare()
        return self._send(prepared.url, body, dict(prepared.headers.items()))

    def _send(self, url: str, body: bytes, headers: dict[str, str]) -> UpstreamAnswer:
        parts = urlsplit(url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.netloc, timeout=CONNECT_TIMEOUT_SECONDS)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(READ_TIMEOUT_SECONDS)
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            answer_body = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise UpstreamUnavailable(f"cannot reach {self.where}: {error or type(error).__name__}") from None
        finally:
            connection.close()
        kept = {name: value for name in PASSED_BACK if (value := response.getheader(name)) is not None}
        return UpstreamAnswer(response.status, kept, answer_body)


def local_upstream(endpoint_url: str, signing_name: str, region: str, what: str) -> Upstream:
    """The local stack's endpoint, signed with the placeholder credentials its functions use."""
    fixed = Credentials(
        FAKE_CREDENTIALS["aws_access_key_id"], FAKE_CREDENTIALS["aws_secret_access_key"]
    ).get_frozen_credentials()
    return Upstream(endpoint_url, signing_name, region, lambda: fixed, f"the local {what} at {endpoint_url}")


def aws_upstream(service: str, region: str, what: str, endpoint_url: str | None = None) -> Upstream:
    """AWS's endpoint of `service` in `region` (or `endpoint_url`, which tests point at a local
    stand-in), signed with the user's default credential chain."""
    session = botocore.session.Session()
    if endpoint_url is None:
        # botocore knows each partition's host names (amazonaws.com, amazonaws.com.cn, ...).
        endpoint_url = session.create_client(
            service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
        ).meta.endpoint_url
    signing_name = session.get_service_model(service).signing_name

    def credentials() -> ReadOnlyCredentials | None:
        try:
            found = session.get_credentials()
        except BotoCoreError as error:
            raise NoCredentials(f"cannot read AWS credentials for {what} in {region}: {error}") from None
        return None if found is None else found.get_frozen_credentials()

    return Upstream(endpoint_url, signing_name, region, credentials, f"{what} in {region}")
