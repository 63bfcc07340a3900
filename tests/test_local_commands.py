"""The local target answers the farm's file commands in-process: the same exit codes and
output as the real coreutils, checked side by side on the same files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from farm.targets.local_commands import run_in_process

CASES = [
    ["sha256sum", "data.bin"],
    ["sha256sum", "missing.bin"],
    ["sha256sum", "data.bin", "missing.bin"],
    ["mkdir", "fresh"],
    ["mkdir", "existing"],
    ["mkdir", "no/such/parent"],
    ["mkdir", "-p", "deep/er/still"],
    ["mkdir", "-p", "existing"],
    ["rm", "-rf", "existing"],
    ["rm", "-rf", "missing.bin"],
    ["rm", "-rf", "data.bin"],
    ["touch", "stamp"],
    ["touch", "no/such/parent/stamp"],
]


def workdir(root: Path) -> Path:
    root.mkdir()
    (root / "data.bin").write_bytes(b"model bytes\n")
    (root / "existing" / "inside").mkdir(parents=True)
    return root


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_in_process_answers_match_the_real_commands(tmp_path: Path, argv: list[str]) -> None:
    real_dir, here_dir = workdir(tmp_path / "real"), workdir(tmp_path / "here")
    real = subprocess.run(argv, cwd=real_dir, capture_output=True, text=True, check=False)
    here = run_in_process(argv, str(here_dir))

    assert here is not None
    assert (here.returncode, here.stdout) == (real.returncode, real.stdout)
    assert bool(here.stderr) == bool(real.stderr)
    assert tree(here_dir) == tree(real_dir)


@pytest.mark.parametrize(
    "argv", [["rm", "file"], ["mkdir", "-m", "700", "x"], ["sh", "-c", "true"], ["sha256sum"], []]
)
def test_other_forms_run_as_real_processes(tmp_path: Path, argv: list[str]) -> None:
    assert run_in_process(argv, str(tmp_path)) is None
