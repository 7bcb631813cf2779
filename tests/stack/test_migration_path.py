"""The README's migration path from the X-Ray SDK to OpenTelemetry, followed as written on a copy.

The README marks the steps a reader applies to the project: `<!-- migration-test: run -->` before a
bash block (run as it is, in the copy), `<!-- migration-test: merge FILE -->` before a TOML block
(its keys added under the same section of FILE, as the README tells the reader to). The test
copies template.yaml, samconfig.toml and the function folders, applies the steps in order, and
then checks what the reader would: the variant that runs, cfn-lint, `sam build` and the local
stack's service map.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.app.template import load_app
from emulator.cli import parameter_overrides
from tests.conftest import ROOT, sam_build
from tests.stack.test_instrumentation_variants import service_map, tutorial_edges

pytestmark = pytest.mark.slow

_STEP = re.compile(
    r"<!-- migration-test: (?P<action>run|merge (?P<file>\S+)) -->\n```(?P<language>\w+)\n(?P<body>.*?)\n```",
    re.S,
)
PROJECT_FILES = ("template.yaml", "samconfig.toml", "hello_world", "sam_ddb")


@dataclass(frozen=True)
class Step:
    action: str  # "run" or "merge"
    file: str | None
    body: str


def readme_steps() -> list[Step]:
    return [
        Step(match["action"].split()[0], match["file"], match["body"])
        for match in _STEP.finditer((ROOT / "README.md").read_text())
    ]


def merge_toml(path: Path, fragment: str) -> None:
    """Add each section's keys of `fragment` right under the same section header in `path`."""
    lines = path.read_text().splitlines()
    section = None
    for line in fragment.splitlines():
        if line.startswith("["):
            section = line.strip()
            assert section in lines, f"{path.name} has no {section} section to add to"
            insert_at = lines.index(section) + 1
        elif line.strip():
            assert section is not None, f"a key before any section: {line}"
            lines.insert(insert_at, line)
            insert_at += 1
    path.write_text("\n".join(lines) + "\n")


def apply(step: Step, project: Path) -> None:
    if step.action == "run":
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step.body], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{step.body}\n{result.stdout}{result.stderr}"
    else:
        assert step.file is not None
        merge_toml(project / step.file, step.body)


def handlers(project: Path) -> set[str]:
    """The handlers the local stack would run, with samconfig.toml's parameter_overrides."""
    template = project / "template.yaml"
    app = load_app(template, parameter_overrides=parameter_overrides(template, []))
    return {function.handler for function in app.functions.values()}


def test_the_readme_migration_path_on_a_copy(tmp_path: Path, lambda_runtime_dir: Path):
    project = tmp_path / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    steps = readme_steps()
    assert [(step.action, step.file) for step in steps] == [("merge", "samconfig.toml"), ("run", None)]
    assert handlers(project) == {"app.lambda_handler"}

    # Step 3: samconfig.toml chooses OpenTelemetry, for `sam deploy` and the local stack alike.
    apply(steps[0], project)
    assert handlers(project) == {"otel_app.lambda_handler"}

    # Step 5: the X-Ray SDK gone, the parameter too.
    apply(steps[1], project)
    assert sorted(path.name for path in project.rglob("app.py")) == []
    for folder in ("hello_world", "sam_ddb"):
        assert "aws-xray-sdk" not in (project / folder / "requirements.txt").read_text()
    template_text = (project / "template.yaml").read_text()
    assert "Instrumentation" not in template_text and "UseOpenTelemetry" not in template_text
    assert "Instrumentation" not in (project / "samconfig.toml").read_text()
    assert handlers(project) == {"otel_app.lambda_handler"}
    lint = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), "template.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr

    build = sam_build(project / "template.yaml", tmp_path / "build")
    for function in ("HelloWorldFunction", "SamDdbFunction"):
        assert (build.template.parent / function / "otel_app.py").is_file()
        assert not (build.template.parent / function / "aws_xray_sdk").exists()

    migrated = service_map(build.template, lambda_runtime_dir, tmp_path / "traces.db", {})
    assert migrated["handlers"] == {"otel_app.lambda_handler"}
    assert migrated["edges"] == tutorial_edges(migrated["nodes"])
    assert {"hello world", "put_item ddb", "DynamoDB"} <= migrated["subsegments"]
