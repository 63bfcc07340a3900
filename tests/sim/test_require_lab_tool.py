"""A missing lab tool skips its tests with the reason, or fails them in CI."""

from __future__ import annotations

import pytest

from .conftest import require_lab_tool


def test_a_missing_tool_skips_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FARM_REQUIRE_LAB", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-lab-tool is not installed"):
        require_lab_tool("no-such-lab-tool")


def test_a_missing_tool_fails_when_the_lab_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARM_REQUIRE_LAB", "1")
    with pytest.raises(pytest.fail.Exception, match="FARM_REQUIRE_LAB=1"):
        require_lab_tool("no-such-lab-tool")
