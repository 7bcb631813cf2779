"""`sam build` of one function (or of the whole template) into a folder of its own.

The stack keeps running the previous build while this one runs, so it never sees half-copied
files: `sam build` first empties its `--build-dir`, and `sam build <LogicalId>` into the stack's
own build folder would delete every other function's artifact. Each build therefore gets a new
folder beside the stack's (`.aws-sam/build-reload-<n>`): a sibling, so the SAM CLI finds the
same `.aws-sam/build.toml` and dependency folders, and an unchanged requirements.txt is not
installed again (its incremental build, `--cached`).
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# A SAM CLI run that takes longer has hung (a pip index that does not answer, say).
BUILD_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class BuildResult:
    build_dir: Path
    ok: bool
    seconds: float
    output: str  # what the SAM CLI printed (for the error line)

    @property
    def template(self) -> Path:
        return self.build_dir / "template.yaml"

    def error_line(self) -> str:
        """The SAM CLI's own error, one line (its last `Error:` line, else its last line)."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error")]
        return (errors or lines or ["sam build failed"])[-1]


def default_sam_cli() -> Path:
    """The project's SAM CLI, beside the Python running the stack (.venv/bin/sam)."""
    return Path(sys.executable).parent / "sam"


def sam_build(
    sam_cli: Path,
    template: Path,
    build_dir: Path,
    *,
    logical_id: str | None,
    parameter_overrides: dict[str, str],
) -> BuildResult:
    """Run `sam build [<LogicalId>]` of `template` into `build_dir`, from the template's folder
    (where samconfig.toml and .aws-sam are, as when the user runs it)."""
    command = [str(sam_cli), "build", "--template", str(template), "--build-dir", str(build_dir), "--cached"]
    if logical_id is not None:
        command.insert(2, logical_id)
    if parameter_overrides:
        overrides = [f"{name}={value}" for name, value in parameter_overrides.items()]
        command += ["--parameter-overrides", *overrides]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command,
            cwd=template.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return BuildResult(build_dir, False, time.monotonic() - started, str(error))
    ok = completed.returncode == 0 and (build_dir / "template.yaml").is_file()
    return BuildResult(build_dir, ok, time.monotonic() - started, completed.stdout + completed.stderr)
