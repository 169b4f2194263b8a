"""Shared fixtures: test data lives in tests/data (see tests/data/SOURCES.md); nothing reads ../shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def load_json(relative: str) -> Any:
    return json.loads((DATA / relative).read_text(encoding="utf-8"))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(autouse=True)
def _fresh_capability_cache() -> None:
    """Each test starts with an empty per-server capability cache (stubs of one URL differ between tests)."""
    from smart_app import capabilities

    capabilities.forget()
