"""A function's source files: which are newer than its build, and whether an edit compiles."""

from collections.abc import Iterable, Iterator
from pathlib import Path

# Written by tools, never by the user: not a source edit.
_SKIPPED_DIRS = {"__pycache__", ".aws-sam", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~", ".tmp")


def is_source_path(path: Path) -> bool:
    """Whether a change to `path` is an edit of the function's code (not a cache or an editor's
    scratch file, such as vim's `4913` probe or `.app.py.swp`)."""
    if any(part in _SKIPPED_DIRS for part in path.parts):
        return False
    name = path.name
    return not (name.endswith(_SKIPPED_SUFFIXES) or name.startswith(".#") or name == "4913")


def source_files(code_dir: Path) -> Iterator[Path]:
    for path in code_dir.rglob("*"):
        if path.is_file() and is_source_path(path.relative_to(code_dir)):
            yield path


def newer_than(code_dir: Path, built_at: float) -> Path | None:
    """The most recently changed source file if it is newer than the build, else None."""
    newest: tuple[float, Path] | None = None
    for path in source_files(code_dir):
        mtime = path.stat().st_mtime
        if newest is None or mtime > newest[0]:
            newest = (mtime, path)
    if newest is not None and newest[0] > built_at:
        return newest[1]
    return None


def syntax_error(paths: Iterable[Path]) -> str | None:
    """The first SyntaxError among the Python files, as one line, or None.

    `sam build` copies a Python file without compiling it, so a typo would build fine and then
    fail every request with Runtime.UserCodeSyntaxError; checked here first, the previous code
    keeps serving until the file compiles.
    """
    for path in sorted(paths):
        if path.suffix != ".py" or not path.is_file():
            continue
        try:
            compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as error:
            return f"{error.msg} ({path.name}, line {error.lineno})"
        except ValueError as error:  # null bytes
            return f"{error} ({path.name})"
    return None
