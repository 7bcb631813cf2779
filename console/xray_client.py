"""What the terminal views of X-Ray (map, trace_view) share: where to read, the client, the errors.

Each view reads the local X-Ray API by default, or the real one with --aws, through boto3's
xray client; so one renderer draws local and AWS data, and a failure is one line on stderr
and exit status 2, never a traceback.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

if TYPE_CHECKING:  # a stub package: types only, not needed to run
    from mypy_boto3_xray import XRayClient

DEFAULT_ENDPOINT = "http://127.0.0.1:2000"
# Where a running local stack writes its URLs (python -m emulator --endpoints-file).
ENDPOINTS_FILE = Path("build/endpoints.json")
DEFAULT_REGION = "ap-northeast-1"


class Credentials(TypedDict):
    """boto3.client's credential keywords, typed so that **credentials matches its signature."""

    aws_access_key_id: str
    aws_secret_access_key: str


# The local API needs no credentials; botocore still signs, so give it placeholders.
LOCAL_CREDENTIALS: Credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
# What a call through make_client's client can raise that the user should see as one line.
API_ERRORS = (BotoCoreError, ClientError)


def make_client(endpoint_url: str | None, region: str) -> "XRayClient":
    """boto3's xray client: the local API (placeholder credentials) or AWS (the default chain)."""
    # Fail fast and once: a terminal view is not worth retries against an endpoint that is down.
    config = Config(connect_timeout=3, read_timeout=30, retries={"total_max_attempts": 1})
    if endpoint_url is None:
        return boto3.client("xray", region_name=region, config=config)
    return boto3.client(
        "xray", region_name=region, endpoint_url=endpoint_url, config=config, **LOCAL_CREDENTIALS
    )


@dataclass(frozen=True)
class Source:
    """The X-Ray API a view reads, and the time window ending now."""

    endpoint_url: str | None  # None: AWS, through the default credential chain
    region: str
    minutes: float
    where: str  # for messages: "the local X-Ray at ..." or "X-Ray in <region>"

    def client(self) -> "XRayClient":
        return make_client(self.endpoint_url, self.region)

    def window(self) -> tuple[float, float]:
        end = time.time()
        return end - self.minutes * 60, end


def local_endpoint(endpoints_file: Path = ENDPOINTS_FILE) -> str:
    """The running local stack's X-Ray API, on whatever port it was started; else the default."""
    try:
        endpoint = json.loads(endpoints_file.read_text()).get("xray_api")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_ENDPOINT
    return endpoint if isinstance(endpoint, str) and endpoint else DEFAULT_ENDPOINT


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--endpoint-url, --minutes, --aws and --region."""
    parser.add_argument(
        "--endpoint-url",
        help=f"X-Ray API (default: the running stack's, from {ENDPOINTS_FILE}; else {DEFAULT_ENDPOINT})",
    )
    parser.add_argument("--minutes", type=float, default=60, help="time window ending now (default 60)")
    parser.add_argument(
        "--aws", action="store_true", help="read the real X-Ray API with your AWS credentials"
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})")


def source_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Source:
    """The Source the parsed arguments name; a bad --minutes is a usage error (exit 2)."""
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    endpoint_url = None if args.aws else (args.endpoint_url or local_endpoint())
    where = f"X-Ray in {args.region}" if args.aws else f"the local X-Ray at {endpoint_url}"
    return Source(
        endpoint_url=endpoint_url,
        region=args.region,
        minutes=args.minutes,
        where=where,
    )


def report_api_error(error: Exception, where: str, operation: str) -> int:
    """One line on stderr for an API_ERRORS error of `operation`; returns the exit status, 2."""
    if isinstance(error, NoCredentialsError):
        message = f"no AWS credentials found for {where} (aws configure, or AWS_PROFILE)"
    elif isinstance(error, NoRegionError):
        message = "no AWS region; pass --region"
    elif isinstance(error, ClientError):
        message = f"{where} refused {operation}: {error}"
    else:
        # EndpointConnectionError and friends: the message names the URL.
        message = f"cannot reach {where}: {error}"
    print(f"error: {one_line(message)}", file=sys.stderr)
    return 2


def one_line(text: str) -> str:
    """`text` with each run of whitespace, newlines included, as one space."""
    return " ".join(text.split())
