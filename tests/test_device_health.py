"""The dashboard's device health never says `healthy` for a device that measured nothing: a
real run with a board whose SSH port is closed, read back from the dashboard HTML (issue 19)."""

from __future__ import annotations

import re
from pathlib import Path

from farm.dashboard import render_dashboard

from .lab import KWS, farm, free_port, model_folder_with
from .test_dashboard import RUN, fleet_frame, section, table_rows


def health_of(html: str) -> dict[str, tuple[str, list[str]]]:
    """device → (its badge's colour class, the Health cell's lines)."""
    part = section(html, "devices")
    header, *rows = table_rows(part)
    colours = re.findall(r'<span class="badge (\w+)">', part)
    column = header.index("Health")
    return {
        row[0]: (colour, row[column].splitlines())
        for row, colour in zip(rows, colours, strict=True)
    }


def test_a_device_that_cannot_be_reached_is_unreachable_not_healthy(
    host_lab: Path, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there: every ssh connection is refused
    devices = tmp_path / "devices.yaml"
    devices.write_text(
        host_lab.read_text() + "  board:\n    transport: ssh\n    host: 127.0.0.1\n"
        f"    port: {closed}\n    check_host_key: false\n    delegates: [cpu]\n"
    )
    models, run_dir = model_folder_with(tmp_path, KWS), tmp_path / "run"
    code, output = farm(
        "run", "--devices", devices, "--models", models, "--run-dir", run_dir,
        "--runs", "5", "--warmup", "1", "--retries", "0", "--delegates", "cpu",
    )  # fmt: skip
    assert code == 1, output
    health = health_of((run_dir / "dashboard.html").read_text())
    colour, lines = health["board"]
    assert (colour, lines[0]) == ("failed", "unreachable")
    assert lines[1].startswith("all 1 cells failed as infra: ")
    assert "127.0.0.1" in lines[1]
    assert health["host"] == ("ok", ["healthy"])  # 1 thread: no warning about cores either
    assert "threads on" not in output


def test_a_device_with_some_infra_failures_gets_a_warning() -> None:
    frame = fleet_frame()
    pixel8 = frame.index[(frame.device == "pixel8") & (frame.status == "ok")][0]
    frame.loc[pixel8, ["status", "failure_kind", "reason"]] = [
        "failed", "infra", "pixel8: device offline",
    ]  # fmt: skip
    colour, lines = health_of(render_dashboard(frame, RUN))["pixel8"]
    assert colour == "warn"
    assert lines == ["infra failures", "1 of 11 cells failed as infra: pixel8: device offline"]


def test_a_device_whose_every_cell_was_skipped_is_not_called_healthy() -> None:
    frame = fleet_frame()
    pixel8 = (frame.device == "pixel8").to_numpy()
    frame.loc[pixel8, ["status", "failure_kind", "reason"]] = ["skipped", None, "not listed"]
    colour, lines = health_of(render_dashboard(frame, RUN))["pixel8"]
    assert (colour, lines[0]) == ("warn", "not measured")
