"""Session fixtures that compile the test delegates once per test run.

Without a C compiler they skip with the reason; with FARM_REQUIRE_LAB=1 (CI) they fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..lab import require_tool
from .build import NO_ENTRY_POINTS_SOURCE, TEST_DELEGATE_SOURCE, build_delegate


@pytest.fixture(scope="session")
def test_delegate_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """farm_test_delegate.so: claims float32 nodes of the ``op`` option (see its source)."""
    return _compile(TEST_DELEGATE_SOURCE, tmp_path_factory)


@pytest.fixture(scope="session")
def no_entry_points_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid shared library without the delegate plugin entry points."""
    return _compile(NO_ENTRY_POINTS_SOURCE, tmp_path_factory)


def _compile(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = require_tool("cc")
    return build_delegate(source, tmp_path_factory.mktemp("delegates"), compiler=compiler)
