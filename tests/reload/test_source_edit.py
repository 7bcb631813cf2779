"""emulator.reload.source_edit: a source-only edit applied to a copy of the function's build,
leaving the build old workers run from exactly as it was."""

from pathlib import Path

from emulator.reload.source_edit import apply_edits, is_source_only


def make_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_only_plain_source_files_of_the_function_take_the_fast_path(tmp_path: Path):
    code = tmp_path / "sam_ddb"
    assert is_source_only(code, [code / "app.py", code / "pkg" / "data.json"])
    assert not is_source_only(code, [code / "app.py", code / "requirements.txt"])  # new dependencies
    assert not is_source_only(code, [tmp_path / "template.yaml"])
    assert not is_source_only(code, [code / "__pycache__" / "app.cpython-311.pyc"])


def test_the_copy_has_the_edit_and_the_old_build_is_untouched(tmp_path: Path):
    source, current, new = tmp_path / "src", tmp_path / "build" / "Fn", tmp_path / "build-reload-1" / "Fn"
    make_tree(source, {"app.py": "VERSION = 2\n", "added.py": "NEW = True\n"})
    make_tree(
        current,
        {
            "app.py": "VERSION = 1\n",
            "removed.py": "OLD = True\n",
            "boto3/__init__.py": "# a dependency sam build installed\n",
            "__pycache__/app.cpython-311.pyc": "stale",
            "__pycache__/other.cpython-311.pyc": "kept",
        },
    )
    changed = [source / "app.py", source / "added.py", source / "removed.py"]  # removed.py is gone
    apply_edits(current, new, source, changed)

    assert (new / "app.py").read_text() == "VERSION = 2\n"
    assert (new / "added.py").read_text() == "NEW = True\n"
    assert not (new / "removed.py").exists()
    assert not (new / "__pycache__" / "app.cpython-311.pyc").exists()
    assert (new / "__pycache__" / "other.cpython-311.pyc").exists()
    # Unchanged files are the same files (hard links), not copies.
    assert (new / "boto3" / "__init__.py").stat().st_ino == (current / "boto3" / "__init__.py").stat().st_ino
    # The old build, which old workers may still run, is as it was.
    assert (current / "app.py").read_text() == "VERSION = 1\n"
    assert (current / "removed.py").exists()
    assert (current / "__pycache__" / "app.cpython-311.pyc").exists()
