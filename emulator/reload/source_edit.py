"""The fast path of a reload: an edit of a Python function's own source files, applied to a copy
of its current build instead of running `sam build <Function>` again.

For a function sam build builds with its default Python builder (no Metadata BuildMethod), the
artifact is the CodeUri folder's files with the requirements installed beside them, so an edit
that touches neither the requirements nor the template changes exactly the edited files of the
artifact. The SAM CLI alone takes 1.5-2 s to start, read the template and copy the dependencies
(40 MB for the tutorial's SamDdbFunction) whatever changed; this path takes a fraction of that:
the new artifact is a tree of hard links to the current one (no data copied), with each edited
file written anew under its own inode, so the previous artifact, which old workers may still be
running from, never changes. Anything else (a requirements file, the template, another build
method) goes through `sam build`.
"""

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from emulator.reload.source_files import is_source_path

# Files whose change means new dependencies or another build: `sam build` handles those.
_BUILD_INPUTS = {"requirements.txt", "setup.py", "setup.cfg", "pyproject.toml", "Makefile", "Pipfile"}


def is_source_only(code_dir: Path, changed: Iterable[Path]) -> bool:
    """Whether every changed path is a plain source file inside `code_dir` (not a build input)."""
    for path in changed:
        if not path.is_relative_to(code_dir) or not is_source_path(path.relative_to(code_dir)):
            return False
        if path.name in _BUILD_INPUTS:
            return False
    return True


def apply_edits(current: Path, new: Path, code_dir: Path, changed: Iterable[Path]) -> None:
    """Make `new` the artifact `current` with the edits of `changed` (files of the source folder
    `code_dir`): hard links for what is unchanged, fresh files for what changed, and a file
    removed from the sources removed from the artifact."""
    shutil.copytree(current, new, copy_function=os.link, symlinks=True)
    for path in changed:
        target = new / path.relative_to(code_dir)
        # A worker of the old code may have compiled the file; its .pyc is judged by the source's
        # mtime and size only, which an edit in the same second can keep: never reuse it.
        for compiled in (target.parent / "__pycache__").glob(f"{target.stem}.*.pyc"):
            compiled.unlink()
        if path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Written beside and renamed over: the link to the old artifact's file is replaced,
            # never written through.
            partial = target.with_name(f".{target.name}.reload")
            shutil.copy2(path, partial)
            os.replace(partial, target)
        elif not path.exists() and (target.is_file() or target.is_symlink()):
            target.unlink()
