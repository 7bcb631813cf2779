"""CORS as API Gateway answers it for an API's configured settings; never a reflected Origin.

- REST APIs (SAM's `Cors`): SAM adds an OPTIONS method with a mock integration to every path of
  the API; it answers 200 with the configured headers, whatever the request's Origin
  (Access-Control-Allow-Methods defaults to the path's methods and OPTIONS, every method for
  ANY). Other answers carry only what the function returns.
- HTTP APIs (`CorsConfiguration`): API Gateway answers a preflight itself (204), even without
  an OPTIONS route, and adds the CORS headers to the integration's answer, replacing any the
  function set. Both only when the request's Origin is one of AllowOrigins (or AllowOrigins is
  `*`); Access-Control-Allow-Origin is then that configured origin, or `*`.
"""

from emulator.app.model import CorsConfig

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def rest_preflight(cors: CorsConfig, path_methods: set[str]) -> list[tuple[str, str]]:
    """The headers of the mock OPTIONS answer SAM configures on a path with `path_methods`."""
    if cors.allow_methods:
        methods = ",".join(cors.allow_methods)
    elif "ANY" in path_methods:
        methods = ",".join(ALL_METHODS)
    else:
        methods = ",".join(sorted({*path_methods, "OPTIONS"}))
    headers = [("Access-Control-Allow-Origin", cors.allow_origins[0])]
    if cors.allow_headers:
        headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    headers.append(("Access-Control-Allow-Methods", methods))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return headers


def http_allowed_origin(cors: CorsConfig, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None: no CORS headers at all."""
    if not origin:
        return None
    if "*" in cors.allow_origins:
        return "*"
    for allowed in cors.allow_origins:
        if allowed.rstrip("/").lower() == origin.rstrip("/").lower():
            return allowed  # the configured value, never the request's text
    return None


def is_preflight(method: str, origin: str | None, request_method: str | None) -> bool:
    return method == "OPTIONS" and bool(origin) and bool(request_method)


def http_preflight(cors: CorsConfig, allow_origin: str) -> list[tuple[str, str]]:
    headers = [("access-control-allow-origin", allow_origin)]
    if cors.allow_methods:
        headers.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("access-control-max-age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    return headers


def http_response_headers(
    cors: CorsConfig, allow_origin: str | None, headers: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The integration's headers with its own CORS headers replaced by the API's."""
    kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
    if allow_origin is None:
        return kept
    kept.append(("access-control-allow-origin", allow_origin))
    if cors.expose_headers:
        kept.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        kept.append(("access-control-allow-credentials", "true"))
    return kept
