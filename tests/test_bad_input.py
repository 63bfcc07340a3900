"""Bad input to `farm run` through the real CLI: one line naming the option or file and the
fix, exit 2, and no run folder left behind (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .lab import KWS, farm, model_folder_with, tmpfs, write_devices


def refused(output: str) -> str:
    """The one error line, after checking it is the only thing the CLI printed."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("farm: error: "), output
    return lines[0]


def run_refused(host_lab: Path, tmp_path: Path, *args: str | Path) -> str:
    models = model_folder_with(tmp_path, KWS)
    run_dir = tmp_path / "run"
    code, output = farm(
        "run", "--devices", host_lab, "--models", models, "--run-dir", run_dir, *args
    )
    assert code == 2, output
    assert not run_dir.exists()
    return refused(output)


def test_a_misspelt_delegate_is_refused_with_what_was_meant(host_lab: Path, tmp_path: Path) -> None:
    line = run_refused(host_lab, tmp_path, "--delegates", "cpu,xnnpak")
    assert "--delegates: unknown delegate 'xnnpak'" in line
    assert "did you mean 'xnnpack'?" in line


@pytest.mark.parametrize("threads", ["0", "1,-2", "1.5", "two"])
def test_a_thread_count_that_cannot_run_is_refused(
    host_lab: Path, tmp_path: Path, threads: str
) -> None:
    line = run_refused(host_lab, tmp_path, "--threads", threads)
    assert "--threads" in line and "e.g. 1,2" in line


@pytest.mark.parametrize("timeout", ["1e9", "inf"])
def test_a_timeout_too_long_to_wait_for_is_refused(
    host_lab: Path, tmp_path: Path, timeout: str
) -> None:
    line = run_refused(host_lab, tmp_path, "--timeout", timeout)
    assert "--timeout" in line and "use 0 to 604800 seconds" in line


def test_a_negative_seed_is_refused_before_the_run_folder_exists(
    host_lab: Path, tmp_path: Path
) -> None:
    line = run_refused(host_lab, tmp_path, "--seed", "-1")
    assert "--seed: -1 is out of range" in line


def test_min_seconds_longer_than_the_timeout_is_refused(host_lab: Path, tmp_path: Path) -> None:
    line = run_refused(host_lab, tmp_path, "--min-seconds", "20", "--timeout", "10")
    assert "--min-seconds" in line and "--timeout of 10 s" in line


def test_a_run_dir_that_is_a_file_is_refused(host_lab: Path, tmp_path: Path) -> None:
    (tmp_path / "run").write_text("not a folder")
    models = model_folder_with(tmp_path, KWS)
    code, output = farm(
        "run", "--devices", host_lab, "--models", models, "--run-dir", tmp_path / "run"
    )
    assert code == 2 and "--run-dir" in refused(output) and "is a file" in output
    assert (tmp_path / "run").read_text() == "not a folder"


def test_a_run_dir_on_a_read_only_disk_is_refused(host_lab: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=1m") as read_only:
        line = run_refused(host_lab, tmp_path, "--run-dir", read_only / "run")
    assert "--run-dir: cannot write in" in line and "Read-only file system" in line


@pytest.mark.parametrize(
    ("target", "problem"),
    [("loop.tflite", "a symlink loop"), ("gone.tflite", "a dangling symlink to gone.tflite")],
)
def test_a_broken_symlink_in_the_models_folder_is_refused(
    host_lab: Path, tmp_path: Path, target: str, problem: str
) -> None:
    models = model_folder_with(tmp_path, KWS)
    (models / "loop.tflite").symlink_to(target)
    code, output = farm(
        "run", "--devices", host_lab, "--models", models, "--run-dir", tmp_path / "run"
    )
    assert code == 2 and not (tmp_path / "run").exists()
    assert f"{models / 'loop.tflite'}: {problem}" in refused(output)


def test_a_device_given_twice_in_devices_yaml_is_refused(tmp_path: Path) -> None:
    devices = tmp_path / "devices.yaml"
    devices.write_text(
        "devices:\n"
        "  host:\n"
        "    transport: local\n"
        "    delegates: [cpu]\n"
        "  host:\n"
        "    transport: local\n"
        "    delegates: [xnnpack]\n"
    )
    code, output = farm("devices", "--devices", devices)
    assert code == 2
    line = refused(output)
    assert f"{devices}: line 5: duplicate key 'host' (first at line 2)" in line


def test_a_key_given_twice_in_models_yaml_is_refused(host_lab: Path, tmp_path: Path) -> None:
    models = model_folder_with(tmp_path, KWS)
    (models / "models.yaml").write_text(
        f"models:\n  kws:\n    file: {KWS}.tflite\n    sha256: {'0' * 64}\n    file: other.tflite\n"
    )
    line = run_refused(host_lab, tmp_path)
    assert "models.yaml: line 5: duplicate key 'file' (first at line 3)" in line


def test_an_empty_devices_yaml_says_it_is_empty(tmp_path: Path) -> None:
    devices = tmp_path / "devices.yaml"
    devices.write_text("# nothing yet\n")
    code, output = farm("devices", "--devices", devices)
    assert code == 2
    assert refused(output) == (
        f"farm: error: {devices}: the file is empty (add a `devices:` mapping, as in the "
        "shipped one)"
    )


def test_a_key_of_another_section_says_where_it_belongs(tmp_path: Path) -> None:
    host = {"transport": "local", "timeout_s": 5}
    devices = write_devices(tmp_path / "devices.yaml", {"host": host})
    code, output = farm("devices", "--devices", devices)
    assert code == 2
    line = refused(output)
    assert "devices.host.timeout_s: unknown key" in line and "did you mean" not in line
    assert "belongs under `cooldown:`" in line and "`farm run --timeout`" in line


def test_a_wrong_sha256_in_the_users_manifest_does_not_point_at_our_build_script(
    host_lab: Path, tmp_path: Path
) -> None:
    models = model_folder_with(tmp_path, KWS)
    (models / "models.yaml").write_text(
        f"models:\n  kws:\n    file: {KWS}.tflite\n    sha256: '{'0' * 64}'\n"
    )
    line = run_refused(host_lab, tmp_path)
    assert "models.kws.sha256" in line and "build.py" not in line
    assert "put its sha256 in the manifest" in line
