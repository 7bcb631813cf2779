"""`make help` is how a newcomer finds the commands: it must list every target the Makefile has."""

import re
import subprocess

from tests.conftest import REPO_ROOT


def test_make_help_lists_every_target():
    makefile = (REPO_ROOT / "Makefile").read_text()
    # Rules a user can type: `name:` at the start of a line (not variables, not file targets).
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, flags=re.MULTILINE))
    assert {"run", "test", "help"} <= targets

    printed = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    listed = set(re.findall(r"^\s*make ([a-z-]+)\s", printed, flags=re.MULTILINE))
    assert listed == targets
