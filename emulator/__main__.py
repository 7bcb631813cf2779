"""`python -m emulator`: see emulator/cli.py."""

import sys

from emulator.cli import main

# Guarded: the X-Ray child process (multiprocessing, spawn) imports this module again.
if __name__ == "__main__":
    sys.exit(main())
