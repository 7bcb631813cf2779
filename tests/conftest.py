"""Shared by every test directory: make the function packages importable."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# `pytest` started as .venv/bin/pytest (as the Makefile does) does not put the working directory on
# sys.path, and the handlers are imported as `hello_world.app` and `sam_ddb.app`.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
