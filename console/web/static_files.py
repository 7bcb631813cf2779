"""The page's files: a URL path to a file under the static folder, never outside it."""

from pathlib import Path
from urllib.parse import unquote

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


def resolve(static_dir: Path, url_path: str) -> Path | None:
    """The file `url_path` names under `static_dir`, or None (missing, a folder, outside it,
    hidden, or a type the console does not serve).

    The path is decoded once and resolved, symlinks included, before the containment check, so
    `..`, `%2e%2e`, encoded slashes and links out of the folder all end up as None.
    """
    path = unquote(url_path.split("?", 1)[0].split("#", 1)[0])
    if path in ("", "/"):
        path = "/index.html"
    if "\0" in path or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part]
    if any(part.startswith(".") for part in parts):
        return None
    root = static_dir.resolve()
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    if candidate.suffix not in CONTENT_TYPES:
        return None
    return candidate


def content_type(path: Path) -> str:
    return CONTENT_TYPES[path.suffix]
