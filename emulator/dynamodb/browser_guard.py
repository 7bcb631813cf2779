"""Keeps web pages out of the local DynamoDB.

moto answers every Origin with CORS headers that let it in, so a page open in the user's
browser could read and delete the tables, or reset moto and write files through its
management endpoints (`/moto-api/...`). The AWS SDKs and the CLI never send `Origin` and
always send their endpoint's name as `Host`; browsers send `Origin` with every cross-site
request and with every POST, and a page that re-points its own name at 127.0.0.1 (DNS
rebinding) still sends that name as `Host`. So this refuses:

- a `Host` that is not a loopback name;
- any request with an `Origin` or a cross-site `Sec-Fetch-Site` (a browser's);

and removes the CORS headers moto would add to anything else.
"""

import json
from collections.abc import Callable, Iterable
from typing import Any

from emulator.loopback import is_loopback_host

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# A page's own navigations say `none` (typed in the address bar) or `same-origin`.
_BROWSER_SITES = {"cross-site", "same-site"}


def refusal(environ: dict[str, Any]) -> str | None:
    """Why a request must be refused, or None."""
    host = str(environ.get("HTTP_HOST", ""))
    if not is_loopback_host(host):
        return f"Host {host[:100]!r} is not a loopback name; use 127.0.0.1 or localhost"
    if "HTTP_ORIGIN" in environ:
        return "requests from web pages (with an Origin header) are refused by the local DynamoDB"
    if str(environ.get("HTTP_SEC_FETCH_SITE", "")).lower() in _BROWSER_SITES:
        return "requests from other web sites are refused by the local DynamoDB"
    return None


class BrowserGuard:
    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        reason = refusal(environ)
        if reason is not None:
            body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": reason})
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
            )
            return [body.encode()]

        def without_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(name, value) for name, value in headers if not _is_cors(name)]
            return start_response(status, kept, exc_info)

        return self._app(environ, without_cors)


def _is_cors(header: str) -> bool:
    return header.lower().startswith("access-control-")
