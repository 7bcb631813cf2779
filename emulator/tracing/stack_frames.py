"""Stack frames for an X-Ray exception, from the traceback a Python runtime reports.

awslambdaric answers a failed invocation with `stackTrace`: Python's `traceback.format_list`
lines, `  File "<absolute path>", line <n>, in <function>` and the source line. X-Ray's
`stackFrame` wants the parts apart: `path` relative to the code, `line`, `label` (the X-Ray
segment document reference, "Errors and exceptions"). Locally the code runs from its
`sam build` folder, not /var/task, so a path under that folder is made relative to it; a
path elsewhere (the runtime, the standard library) keeps only its file name, as the X-Ray
SDK for Python writes every frame (aws_xray_sdk/core/models/throwable.py: os.path.basename).
"""

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from emulator.tracing.documents import StackFrame

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<label>[^\n]+)')


def frames_from_traceback(lines: Iterable[str], code_dir: str) -> list[StackFrame]:
    """The frames of `traceback.format_list` lines; lines of another shape are skipped."""
    frames = []
    for line in lines:
        match = _FRAME.match(line)
        if match:
            path = _relative_path(match["path"], code_dir)
            frames.append(StackFrame(path, int(match["line"]), match["label"].strip()))
    return frames


def _relative_path(path: str, code_dir: str) -> str:
    file = PurePosixPath(path)
    if file.is_relative_to(code_dir):
        return file.relative_to(code_dir).as_posix()
    return file.name
