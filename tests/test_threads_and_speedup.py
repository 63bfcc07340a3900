"""What a run's threads and speedups mean, said where the user reads them: a warning when a
cell has more threads than its device's cores (terminal, once per device, and dashboard), and
the heatmap's × labelled with what it is relative to; a real LiteRT run on this host."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .lab import KWS, farm, model_folder_with
from .test_dashboard import device_figures, heatmap_cell, section
from .test_device_health import health_of


def test_more_threads_than_cores_is_a_warning_and_the_speedup_says_vs_what(
    host_lab: Path, tmp_path: Path
) -> None:
    cores = os.cpu_count() or 1
    run_dir = tmp_path / "run"
    code, output = farm(
        "run", "--devices", host_lab, "--models", model_folder_with(tmp_path, KWS),
        "--run-dir", run_dir, "--runs", "5", "--warmup", "1", "--threads", f"1,{cores + 1}",
    )  # fmt: skip
    assert code == 0, output
    warning = f"warning: host: {cores + 1} threads on {cores} cores"
    assert output.count(warning) == 1, output  # four cells, one device: once
    html = (run_dir / "dashboard.html").read_text()
    colour, lines = health_of(html)["host"]
    assert (colour, lines[0]) == ("ok", "healthy")  # a warning, not a failure
    assert lines[1].startswith(f"host: {cores + 1} threads on {cores} cores")
    latency = section(html, "latency")
    assert re.search(r"speedup \(× vs cpu, same threads\) is the median of the cpu cell", latency)
    shown = heatmap_cell(html, "host", KWS, "xnnpack/t1")
    assert re.search(r"· \d+\.\d× vs cpu, same threads", shown["hover"])
    (_, layout) = device_figures(html, "latency")["host"]
    assert layout["xaxis"]["title"]["text"].endswith("× vs cpu, same threads")
