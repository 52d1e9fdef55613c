"""Fixtures for the shared quota: a real Redis server per test."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _coredis_leaks() -> Iterator[None]:
    """Every test here: coredis's leaks are collected before the next test."""
    yield
    _collect_coredis_leaks()


def _collect_coredis_leaks() -> None:
    # coredis 6.9 leaves anyio memory streams unclosed when a connection attempt fails (its
    # defect, reported by the streams' __del__). The tests here make connections fail on
    # purpose, so collect that garbage now, with only that warning silenced, instead of
    # letting it surface in whichever later test the garbage collector happens to run in.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unclosed <MemoryObject", ResourceWarning)
        gc.collect()
