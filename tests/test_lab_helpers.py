"""tests/lab.py's run_lab and write_devices: a lab test is three lines, and a devices.yaml
written from dicts says what the dicts say (a hand-indented f-string does not, for a path
with YAML's own characters in it)."""

from __future__ import annotations

from pathlib import Path

from farm.config import load_devices

from .lab import KWS, run_lab, write_devices


def test_a_lab_test_is_three_lines(tmp_path: Path) -> None:
    frame = run_lab(tmp_path, {"host": {"transport": "local", "delegates": ["cpu"]}}, KWS)
    assert list(frame.status) == ["ok"] and frame.samples_ms.map(len).tolist() == [5]


def test_a_path_with_yaml_characters_is_written_as_it_is(tmp_path: Path) -> None:
    workdir = tmp_path / "a #b: [c]"  # an f-string entry would end at " #" (a YAML comment)
    host = {"transport": "local", "delegates": ["cpu"], "workdir": workdir}
    (device,) = load_devices(write_devices(tmp_path / "devices.yaml", {"host": host}))
    assert device.workdir == str(workdir)
