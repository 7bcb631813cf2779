"""Without Chromium the browser tests and the bench stop on one line that says how to get it."""

from pathlib import Path

import pytest

from bench import chromium


def test_a_missing_chromium_names_itself_and_the_way_to_install_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chromium, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(chromium.ChromiumMissing) as raised, chromium.chromium():
        pass
    message = str(raised.value)
    assert str(tmp_path / "no-chromium") in message
    assert "make browser" in message and "apt-get install chromium chromium-driver" in message
    assert "\n" not in message
