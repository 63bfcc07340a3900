"""The README's shell blocks, run as a newcomer would type them: every command is either run
here (in a copy of the shipped devices.yaml and models, with `farm` on PATH as the README's
set-up leaves it) and must succeed, or is skip-listed below with the reason (a skip-listed
command the README no longer has fails the test: the list stays the README's)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The small shipped models: the commands run verbatim, on less work than the whole folder.
MODELS = ("kws_dscnn_fp32", "kws_dscnn_int8")

SKIPPED = {
    "python3 -m pip install tox && tox -e farm": "the set-up: this test runs in what it installs",
    "python3 -m pip install tox && tox": "the whole suite, this test included",
    "farm run --models path/to/your/tflite/folder --delegates xnnpack --threads 1,4 --runs 200": (
        "a placeholder for the reader's own folder (the same options run in test_cli_run.py)"
    ),
    "tox -e demo": "a tox environment of its own; its phones run in tests/test_adb_lab.py",
    "tox -e calibrate": "downloads pinned wheels; tests/test_parity.py covers the tolerances",
    "tox -e calibrate -- --seeds 100 mobilenet_v2_int8": "as tox -e calibrate",
    "tox -e nightly": "a tox environment of its own; farm nightly runs in tests/test_nightly.py",
    "tox": "the suite itself",
    "tox -e lint": "a tox environment of its own (run before every merge)",
    "tox -e perf": "a tox environment of its own: the farm's own benchmarks",
    "python -m tests.perf.synthetic_lab OUT --template RUN/results.parquet": (
        "a development tool run from the checkout, OUT and RUN placeholders; the scale tests "
        "(tests/test_dashboard_scale.py) build their labs with it"
    ),
    "tox -e legacy": "a tox environment of its own: an old tflite-runtime",
    "tox -e ray": "a tox environment of its own: the Ray cluster of tests/test_ray.py",
}
RAY = "needs Ray (pip install -e '.[ray]') and a cluster: tox -e ray runs one (tests/test_ray.py)"


def commands() -> list[str]:
    """Every command line of the README's ``bash`` blocks, comments dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    lines = (re.sub(r"(^|\s+)#\s.*$", "", line).strip() for b in blocks for line in b.split("\n"))
    return [line for line in lines if line]


def skip_reason(command: str) -> str | None:
    if "ray " in command or "--executor ray" in command or "farm lab " in command:
        return RAY
    return SKIPPED.get(command)


@pytest.fixture
def newcomer(tmp_path: Path) -> Path:
    """A folder with the shipped devices.yaml and two of the shipped models (and their
    manifest entries)."""
    shutil.copy(ROOT / "devices.yaml", tmp_path / "devices.yaml")
    (tmp_path / "models").mkdir()
    manifest = yaml.safe_load((ROOT / "models" / "models.yaml").read_text())
    manifest["models"] = {name: manifest["models"][name] for name in MODELS}
    (tmp_path / "models" / "models.yaml").write_text(yaml.safe_dump(manifest))
    for name in MODELS:
        shutil.copy(ROOT / "models" / f"{name}.tflite", tmp_path / "models")
    return tmp_path


def with_runs(command: str, folder: Path) -> str:
    """``<base>`` / ``<new>`` / ``<run id>`` as the runs made so far name them."""
    runs = sorted(p.name for p in (folder / "reports" / "runs").glob("*") if p.is_dir())
    if not runs:
        return command
    return (
        command.replace("<base>", runs[0]).replace("<new>", runs[-1]).replace("<run id>", runs[-1])
    )


def test_every_readme_command_runs_or_says_why_not(newcomer: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("FARM_DEVICES", None)
    ran = []
    for command in commands():
        if skip_reason(command):
            continue
        line = with_runs(command, newcomer)
        done = subprocess.run(
            ["bash", "-c", line], cwd=newcomer, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{line}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        ran.append(command)
    assert "farm devices" in ran and any(c.startswith("pytest --farm-devices") for c in ran)
    stale = set(SKIPPED) - set(commands())
    assert not stale, f"skip-listed commands the README no longer has: {sorted(stale)}"
    assert (newcomer / "devices.schema.json").stat().st_size > 0
    journal_lines_per_cell(newcomer)


def journal_lines_per_cell(folder: Path) -> None:
    """What the README says of journal.jsonl is what a run wrote."""
    journal = sorted((folder / "reports" / "runs").glob("*/journal.jsonl"))[0].read_text()
    rows = [json.loads(line) for line in journal.splitlines()]
    cells = {(r["device"], r["model"], r["delegate"], r["threads"]) for r in rows}
    assert len(rows) == 2 * len(cells)
    assert "two lines per cell" in README.read_text()


def test_farm_gets_on_path_after_the_set_up() -> None:
    text = README.read_text()
    set_up_end = text.index("```", text.index("```bash") + 3)
    assert "source .tox/farm/bin/activate" in text[set_up_end : text.index("## A five-minute")]
    assert "[testenv:farm]" in (ROOT / "tox.ini").read_text()


def test_ray_commands_install_from_the_checkout_and_carry_the_token_mode() -> None:
    text = README.read_text()
    assert "pip install 'tflite-farm" not in text  # not published: the name is not ours
    assert "pip install -e '.[ray]'" in text
    for command in commands():
        if command.startswith("ray get-auth-token"):
            continue
        if "--address" in command or command.startswith("RAY_AUTH_MODE") or "ray start" in command:
            assert command.startswith("RAY_AUTH_MODE=token "), command
    ray = [c for c in commands() if "ray " in c]
    assert ray[0] == "ray get-auth-token --generate"  # before the head starts
