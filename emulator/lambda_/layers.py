"""A function's /opt: its layers merged into one folder, as Lambda extracts them.

Lambda unzips each layer of a function into /opt in the order of its Layers, a later layer's
file replacing an earlier one's at the same path. The local stack cannot use the machine's real
/opt (shared, and not ours to write), so each function gets a folder of its own that stands for
it, made of symbolic links to the built layers: where only one layer has a name, the link points
at that layer's file or folder; where several layers have the same folder, the folder is made and
merged the same way inside. A change to a layer's file is seen through the links; a rebuild that
adds files needs a new merge (the Lambda service makes one per function when it starts it and
when its code is updated).
"""

import os
import tempfile
from pathlib import Path


def merge_layers(layers: tuple[Path, ...], parent: Path) -> Path:
    """A new folder under `parent` holding `layers` as /opt would; returned."""
    parent.mkdir(parents=True, exist_ok=True)
    opt = Path(tempfile.mkdtemp(prefix="opt-", dir=parent))
    _merge([layer for layer in layers if layer.is_dir()], opt)
    return opt


def _merge(sources: list[Path], target: Path) -> None:
    names: dict[str, list[Path]] = {}
    for source in sources:
        for entry in sorted(os.listdir(source)):
            names.setdefault(entry, []).append(source / entry)
    for name, paths in names.items():
        # A file is the last layer's; so is a folder only one layer has (since the last file there):
        # link it whole. A folder several layers have is made here and merged, so each one's files show.
        shown = _from_last_file(paths) if paths[-1].is_dir() else [paths[-1]]
        if len(shown) == 1:
            os.symlink(shown[0], target / name)
        else:
            (target / name).mkdir()
            _merge(shown, target / name)


def _from_last_file(paths: list[Path]) -> list[Path]:
    """The folders that show at a name: those after the last layer that has a file there (its file
    replaced the earlier folders when it was extracted; later folders are made anew over it)."""
    start = 0
    for index, path in enumerate(paths):
        if not path.is_dir():
            start = index + 1
    return paths[start:]
