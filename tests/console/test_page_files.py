"""The console page's files hang together: every module an import names exists, and
index.html preloads every module, so the browser fetches them all at once instead of one
level of imports after another (measured: the map drew 210 ms after navigation started,
most of it that waterfall)."""

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "console" / "web" / "static"
IMPORT = re.compile(
    r"""(?:^|;)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)""", re.M
)
PRELOAD = re.compile(r'<link rel="modulepreload" href="([^"]+)">')


def modules() -> list[Path]:
    return sorted(STATIC.rglob("*.js"))


def test_every_import_names_a_file_that_exists() -> None:
    imports = 0
    for module in modules():
        if "vendor" in module.relative_to(STATIC).parts:
            continue  # vendored as published (its record is checked in test_vendored_libraries.py)
        for found in IMPORT.finditer(module.read_text()):
            target = found.group(1) or found.group(2)
            assert target.startswith("./"), f"{module.name} imports {target!r}: only files of the page"
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports missing {target}"
            imports += 1
    assert imports > len(modules()) // 2, "the import pattern no longer finds the page's imports"


def test_index_preloads_every_module_and_nothing_else() -> None:
    preloaded = set(PRELOAD.findall((STATIC / "index.html").read_text()))
    entry = {"app.js"}  # loaded by the page's own <script type="module">
    expected = {module.relative_to(STATIC).as_posix() for module in modules()} - entry
    assert preloaded == expected
