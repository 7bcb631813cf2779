"""The folder that stands for a function's /opt: its layers merged as Lambda extracts them."""

from pathlib import Path

from emulator.lambda_.layers import merge_layers


def layer(root: Path, name: str, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / name / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / name / relative).write_text(text)
    return root / name


def test_later_layers_replace_earlier_files_and_folders_merge(tmp_path: Path):
    first = layer(tmp_path, "first", {"python/a.py": "first", "python/both.py": "first", "bin/tool": "t"})
    second = layer(tmp_path, "second", {"python/b.py": "second", "python/both.py": "second"})
    opt = merge_layers((first, second), tmp_path / "opt")
    assert (opt / "python" / "a.py").read_text() == "first"
    assert (opt / "python" / "b.py").read_text() == "second"
    assert (opt / "python" / "both.py").read_text() == "second"
    # A folder only one layer has is linked whole: files added to it later show.
    assert (opt / "bin").is_symlink()
    (first / "bin" / "new").write_text("n")
    assert (opt / "bin" / "new").read_text() == "n"


def test_a_later_file_replaces_an_earlier_folder(tmp_path: Path):
    first = layer(tmp_path, "first", {"data/x": "folder"})
    second = layer(tmp_path, "second", {"data": "file"})
    third = layer(tmp_path, "third", {"other": "o"})
    opt = merge_layers((first, second, third), tmp_path / "opt")
    assert (opt / "data").read_text() == "file"
    assert (opt / "other").read_text() == "o"
