from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.llm.stub_server import StubServer


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    yield server
    server.stop()
