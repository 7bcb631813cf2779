"""Which bodies API Gateway passes base64-encoded, and which base64 results it decodes.

- REST APIs: only the media types the API declares in `binaryMediaTypes` (wildcards such as
  `image/*` and `*/*` allowed). A request whose Content-Type matches one reaches the function
  base64-encoded; any other body reaches it as text. A result with `isBase64Encoded: true` is
  decoded to bytes only when the request's first Accept type matches one ("Binary media types
  for REST APIs"); otherwise the client gets the base64 text as the function wrote it.
- HTTP APIs have no binaryMediaTypes: the encoding is inferred from the request's Content-Type
  (text types pass as text, everything else base64), and a result with `isBase64Encoded: true`
  is always decoded.
"""

from fnmatch import fnmatchcase

# The Content-Types an HTTP API passes as text.
_TEXT_TYPES = ("text/*", "application/json", "application/*+json", "application/xml",
               "application/*+xml", "application/javascript", "application/x-www-form-urlencoded",
               "application/graphql")  # fmt: skip


def media_type(header_value: str | None) -> str:
    """`image/png` from `image/png; q=0.9` (lower case), or "" when there is none."""
    return (header_value or "").split(",")[0].split(";")[0].strip().lower()


def matches(value: str | None, patterns: tuple[str, ...]) -> bool:
    kind = media_type(value)
    return bool(kind) and any(fnmatchcase(kind, pattern.lower()) for pattern in patterns)


def rest_request_is_binary(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    return matches(content_type, binary_media_types)


def rest_decodes_result(accept: str | None, binary_media_types: tuple[str, ...]) -> bool:
    return matches(accept, binary_media_types)


def http_request_is_binary(content_type: str | None, body: bytes) -> bool:
    if media_type(content_type):
        return not matches(content_type, _TEXT_TYPES)
    try:  # no Content-Type: text if it reads as text
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
