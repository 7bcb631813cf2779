"""python -m console.web [--aws] [--port N] [--region R] [--no-open]: serve the console, print
its URL and open it in a browser where there is one. Ctrl-C stops it.

A running local stack serves the console itself (its X-Ray process, URL in endpoints.json);
with no option that says otherwise, this prints and opens that one instead of serving another.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import webbrowser
from pathlib import Path
from urllib.parse import urlsplit

import botocore.session
from botocore.exceptions import BotoCoreError

from console.web.server import ConsoleServer
from console.xray_client import DEFAULT_REGION, ENDPOINTS_FILE, local_endpoint

# The local stack's moto server (DynamoDB's port) serves CloudWatch Logs too.
DEFAULT_LOGS_ENDPOINT = "http://127.0.0.1:5000"


def local_logs_endpoint(endpoints_file: Path = ENDPOINTS_FILE) -> str | None:
    """The running stack's CloudWatch Logs: its own entry, else the moto server behind DynamoDB,
    which serves every service moto has."""
    try:
        endpoints = json.loads(endpoints_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(endpoints, dict):
        return None
    for key in ("logs", "dynamodb"):
        value = endpoints.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def running_stack_console(endpoints_file: Path = ENDPOINTS_FILE) -> str | None:
    """The running stack's console URL if endpoints.json names one and it answers, else None
    (no stack, a stack started without it, or a stale file from a stack that has stopped)."""
    try:
        url = json.loads(endpoints_file.read_text()).get("console")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        connection.request("HEAD", "/")
        answered = connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    return url if answered else None


def has_aws_credentials() -> bool:
    """Whether the default credential chain finds any (it does not check they are valid)."""
    try:
        return botocore.session.Session().get_credentials() is not None
    except BotoCoreError:
        return False


def open_in_browser(url: str, no_open: bool) -> None:
    if not no_open and has_display():
        webbrowser.open(url)


def has_display() -> bool:
    """Whether webbrowser can show something: a desktop session, or macOS / Windows."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.web", description=__doc__.split("\n")[0])
    parser.add_argument("--aws", action="store_true", help="read X-Ray and Logs in AWS with your credentials")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    default_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    parser.add_argument("--region", default=default_region, help=f"AWS region (default {default_region})")
    parser.add_argument("--endpoint-url", help="the local X-Ray API (default: the running stack's)")
    parser.add_argument(
        "--logs-endpoint-url", help="the local CloudWatch Logs (default: the running stack's)"
    )
    parser.add_argument("--no-open", action="store_true", help="print the URL only; do not open a browser")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0 to 65535")

    own_choice = args.aws or args.port or args.endpoint_url or args.logs_endpoint_url
    stack_console = None if own_choice else running_stack_console()
    if stack_console is not None:
        print(f"X-Ray console  {stack_console}   (served by the running local stack)", flush=True)
        open_in_browser(stack_console, args.no_open)
        return 0

    if args.aws:
        # Said once here rather than as an error on every call the page makes.
        if not has_aws_credentials():
            print("error: no AWS credentials found (aws configure, or AWS_PROFILE)", file=sys.stderr)
            return 2
        xray_url = logs_url = None
        source = f"X-Ray and CloudWatch Logs in {args.region}, with your AWS credentials (read-only calls)"
    else:
        xray_url = args.endpoint_url or local_endpoint()
        logs_url = args.logs_endpoint_url or local_logs_endpoint() or DEFAULT_LOGS_ENDPOINT
        source = f"the local X-Ray at {xray_url}"
    server = ConsoleServer(xray_url, logs_url, port=args.port, region=args.region)
    try:
        server.start()
    except OSError as error:
        print(
            f"error: cannot serve the console on 127.0.0.1:{args.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    print(f"X-Ray console  {server.url}   ({source}; Ctrl-C stops it)", flush=True)
    open_in_browser(server.url, args.no_open)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
