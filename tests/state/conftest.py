"""State-aware runs use asyncio unless a test asks for trio too."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
