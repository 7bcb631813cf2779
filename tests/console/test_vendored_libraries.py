"""The console's vendored JavaScript is byte for byte what its VENDORED record says came from
the npm registry (console/web/refresh_vendor.sh writes both), with its licence beside it."""

import hashlib
from pathlib import Path

import pytest

VENDOR_DIR = Path(__file__).resolve().parents[2] / "console" / "web" / "static" / "vendor"
RECORDS = sorted(VENDOR_DIR.glob("*/VENDORED"))


def read_record(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields


def test_there_is_a_vendored_library() -> None:
    assert RECORDS, f"no VENDORED records under {VENDOR_DIR}"


@pytest.mark.parametrize("record", RECORDS, ids=lambda path: path.parent.name)
def test_vendored_file_matches_its_record(record: Path) -> None:
    fields = read_record(record)
    vendored = record.parent / Path(fields["file"]).name
    assert hashlib.sha256(vendored.read_bytes()).hexdigest() == fields["sha256"]
    assert fields["npm integrity"].startswith("sha512-")
    assert fields["version"] and fields["package"]
    licence = (record.parent / "LICENSE").read_text()
    assert fields["licence"] == "MIT" and "Permission is hereby granted" in licence


@pytest.mark.parametrize("record", RECORDS, ids=lambda path: path.parent.name)
def test_vendored_file_is_pinned_in_the_refresh_script(record: Path) -> None:
    # The script's default must be the version on disk, or a refresh would silently move it.
    fields = read_record(record)
    script = (VENDOR_DIR.parents[1] / "refresh_vendor.sh").read_text()
    assert f':-{fields["version"]}}}"' in script
