"""``smart-edu outbox list`` with nothing pending: a line on stderr, stdout stays JSON lines only."""

from __future__ import annotations

from pathlib import Path

import pytest

from smart_app.cli import main


def test_an_empty_outbox_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["outbox", "list"]) == 0
    out, err = capsys.readouterr()
    store = f"smart-edu outbox: store sqlite:///{tmp_path / 'cli.db'}\n"
    assert out == "" and err == store + "smart-edu outbox: no pending writes\n"
