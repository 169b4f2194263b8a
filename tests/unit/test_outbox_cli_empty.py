"""``smart-edu outbox list`` with nothing pending: a line on stderr, stdout stays JSON lines only; and with no
store at all: it says so and creates none (an empty store would answer "nothing pending" for ever)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smart_app.cli import main
from smart_app.store import Database


def test_an_empty_outbox_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    Database(url).create_all()
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", url)
    assert main(["outbox", "list"]) == 0
    out, err = capsys.readouterr()
    store = f"smart-edu outbox: store {url} (SMART_EDU_DATABASE_URL)\n"
    assert out == "" and err == store + "smart-edu outbox: no pending writes\n"


@pytest.mark.parametrize(
    "command", [["outbox", "list"], ["outbox", "retry"], ["audit"], ["audit", "--feedback"]]
)
def test_a_store_that_does_not_exist_is_named_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing = tmp_path / "nowhere.sqlite"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{missing}")
    assert main(command) == 2
    out, err = capsys.readouterr()
    first, second = err.splitlines()
    assert out == "" and first.endswith(f"store sqlite:///{missing} (SMART_EDU_DATABASE_URL)")
    assert f"no store there ({missing} does not exist); nothing was created" in second
    assert not missing.exists()
