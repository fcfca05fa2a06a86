"""Fixtures shared by the integration tests that write contracts of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion import contract as contract_module


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A catalog folder of test contracts, loadable by name for the duration of a test."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    monkeypatch.setattr(contract_module, "CATALOG_DIR", folder)
    contract_module.load_contract.cache_clear()
    yield folder
    contract_module.load_contract.cache_clear()
