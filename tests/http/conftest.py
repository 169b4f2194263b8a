"""Fixtures shared by the HTTP-level tests (every outbound call stubbed at the transport with `responses`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """A transport stub; only the calls a test registers are answered, and unanswered ones fail loudly."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
