"""Helpers for tests that need a real lab tool (adb, sshd, cc, chromium).

Without the tool such a test skips with the reason; with FARM_REQUIRE_LAB=1 (CI) it fails.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import yaml

from farm.hashing import file_sha256
from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice

if TYPE_CHECKING:
    import pandas as pd

    from farm.orchestrator.plan import RunPlan

ROOT = Path(__file__).resolve().parents[1]
# The opt-in virtual-phone profile whose shell has a python3: phones for the Python runner.
# Every other virtual phone has Android's userland (mksh + toybox, no Python).
PYTHON_PHONE = "linux-python"
MODELS = ROOT / "models"
KWS = "kws_dscnn_int8"  # the shipped model the pytest plugin's tests (pytester) run
DATA = Path(__file__).resolve().parent / "data"
Devices = dict[str, dict[str, object]]  # devices.yaml's `devices:` mapping, name -> entry


def require_tool(name: str, path: str | None = None) -> str:
    """The tool's path; or skip (fail in CI) saying what to install."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if found:
        return found
    lab_missing(f"{name} is not installed (apt-get install {_PACKAGES.get(name, name)})")


def lab_missing(reason: str) -> NoReturn:
    """Skip a test for a part of the lab this host lacks; in CI (FARM_REQUIRE_LAB=1) fail."""
    if os.environ.get("FARM_REQUIRE_LAB") == "1":
        pytest.fail(f"FARM_REQUIRE_LAB=1 but {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted on ``path`` (``options``: "size=1m", "noexec,size=64m"); needs root."""
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lab_missing(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


_PACKAGES = {"sshd": "openssh-server", "ssh": "openssh-client", "cc": "gcc"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackSshd:
    """Debian's sshd on a free 127.0.0.1 port with a throw-away host key, user key and
    known_hosts (see shared lab recipes). Stopped by its own pid file's pid."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = free_port()
        self.user = getpass.getuser()
        self.host_key = workdir / "host_key"
        self.user_key = workdir / "user_key"
        self.known_hosts = workdir / "known_hosts"
        self.pid_file = workdir / "sshd.pid"

    def start(self) -> LoopbackSshd:
        sshd = require_tool("sshd", "/usr/sbin/sshd")
        for key in (self.host_key, self.user_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        shutil.copyfile(f"{self.user_key}.pub", self.dir / "authorized_keys")
        (self.dir / "authorized_keys").chmod(0o600)
        self.trust_host_key(self.host_key)
        Path("/run/sshd").mkdir(exist_ok=True)  # the privilege-separation dir sshd insists on
        subprocess.run([sshd, *self._options()], check=True)
        wait_for(lambda: self.pid_file.exists() and self._answers(), "sshd to answer")
        return self

    def _options(self) -> list[str]:
        options = {
            "ListenAddress": "127.0.0.1",
            "HostKey": self.host_key,
            "AuthorizedKeysFile": self.dir / "authorized_keys",
            "PasswordAuthentication": "no",
            "PidFile": self.pid_file,
            "StrictModes": "no",
            "PermitRootLogin": "prohibit-password",
            "MaxStartups": "100",
        }
        flags = [part for k, v in options.items() for part in ("-o", f"{k}={v}")]
        return ["-f", "/dev/null", "-p", str(self.port), *flags]

    def trust_host_key(self, key: Path) -> None:
        public = " ".join(Path(f"{key}.pub").read_text().split()[:2])
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public}\n")

    def _answers(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(self.pid_file.read_text().strip()), signal.SIGTERM)
            self.pid_file.unlink(missing_ok=True)

    def kill_all(self) -> None:
        """The daemon dies with every connection it serves, as when a board loses power."""
        if not self.pid_file.exists():
            return
        daemon = int(self.pid_file.read_text().strip())
        for pid in [*descendants(daemon), daemon]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def entry(self, python: str | None = None, **extra: object) -> dict[str, object]:
        """A devices.yaml entry reaching this sshd; ``python`` is the board's interpreter."""
        return {
            "transport": "ssh",
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "identity_file": self.user_key,
            "known_hosts": self.known_hosts,
            "workdir": self.dir / "board-work",
            "python": python or sys.executable,
            "delegates": ["cpu", "xnnpack"],
            "threads": [1],
            **extra,
        }


def phone_entry(serial: str, adb_port: int, **keys: object) -> dict[str, object]:
    """A devices.yaml entry for a virtual phone behind a private adb server."""
    return {"transport": "adb", "serial": serial, "adb_port": adb_port, **keys}


def model_folder_with(
    root: Path, *models: str, name: str | None = None, folder: str = "models"
) -> Path:
    """``root/folder`` (made if missing) holding each shipped model as ``<model>.tflite``;
    ``name`` gives a lone model another file name, ``<name>.tflite`` (results name models by
    their file)."""
    if name is not None and len(models) != 1:
        raise ValueError(f"name={name!r} renames one model, not {len(models)}")
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    for model in models:
        shutil.copyfile(MODELS / f"{model}.tflite", path / f"{name or model}.tflite")
    return path


def write_manifest(models: Path, budgets: dict[str, object]) -> None:
    """models.yaml for the folder's .tflite files: the shipped entry where there is one (else
    just the file), the file's sha256, and ``budgets[name]`` as its budget_ms."""
    shipped = yaml.safe_load((MODELS / "models.yaml").read_text())["models"]
    entries = {}
    for tflite in sorted(models.glob("*.tflite")):
        name = tflite.stem
        entry = dict(shipped.get(name) or {"file": tflite.name})
        entry["sha256"] = file_sha256(tflite)
        if name in budgets:
            entry["budget_ms"] = budgets[name]
        entries[name] = entry
    (models / "models.yaml").write_text(yaml.safe_dump({"models": entries}))


def farm(*args: str | Path, columns: int = 300) -> tuple[int, str]:
    """`farm ARGS` in-process through typer's CliRunner, on a console ``columns`` wide (rich
    wraps at 80 otherwise); the exit code and what it printed."""
    from typer.testing import CliRunner

    from farm.cli import app

    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def devices_yaml(devices: Devices) -> str:
    """devices.yaml text for ``{name: entry}``, dumped through YAML (a Path is written as its
    string), so no test indents YAML by hand."""
    return yaml.safe_dump({"devices": _plain(devices)}, sort_keys=False)


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def write_devices(path: Path, devices: Devices) -> Path:
    """``path`` holding the devices.yaml for ``devices``; made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(devices_yaml(devices))
    return path


def plan_lab(devices: Path, models: Path, **settings: Any) -> RunPlan:
    """The plan of a `farm run` of ``devices`` (a devices.yaml) × ``models`` (a folder) with
    ``settings`` (the run's options: runs, warmup, seed, run_dir ...): the one place tests
    build a run."""
    from farm.orchestrator import RunRequest, plan_run  # pandas: not in the legacy tox env
    from farm.spec import RunSettings

    where = {name: settings.pop(name) for name in WHERE if name in settings}
    return plan_run(RunRequest(devices, models, RunSettings(**settings), **where))


WHERE = ("run_dir", "resume", "executor", "address")  # RunRequest's own, beside the settings


def run_lab(
    tmp_path: Path,
    devices: Devices | Path,
    models: Path | str | Sequence[str],
    **settings: Any,
) -> pd.DataFrame:
    """A real `farm run` in-process, its results.parquet as a DataFrame (the journal holds
    every row of it). ``devices``: ``{name: entry}`` (written to tmp_path/devices.yaml) or a
    devices.yaml; ``models``: a folder, or shipped model names (copied to tmp_path/models).
    ``settings``: the run's options (runs 5, warmup 1, seed 1 and run_dir tmp_path/run unless
    given), and run_plan's ``on_result`` / ``stop``."""
    import pandas as pd

    from farm.job import run_plan
    from farm.store import read_journal

    if not isinstance(devices, Path):
        devices = write_devices(tmp_path / "devices.yaml", devices)
    if not isinstance(models, Path):
        models = model_folder_with(tmp_path, *([models] if isinstance(models, str) else models))
    hooks = {key: settings.pop(key) for key in ("on_result", "stop") if key in settings}
    settings = {"runs": 5, "warmup": 1, "seed": 1, "run_dir": tmp_path / "run", **settings}
    run_plan(plan_lab(devices, models, **settings), **hooks)
    frame = pd.read_parquet(settings["run_dir"] / "results.parquet")
    assert len(read_journal(settings["run_dir"] / "journal.jsonl")) == len(frame)
    return frame


@contextlib.contextmanager
def private_adb_server(root: Path) -> Iterator[AdbServer]:
    """Debian's adb server on a free port, HOME root/adb-home, no emulator scan; stopped after."""
    adb = require_tool("adb", "/usr/bin/adb")
    require_tool("bwrap", "/usr/bin/bwrap")  # the virtual phones' shell sandbox
    (root / "adb-home").mkdir()
    server = AdbServer(adb_path=adb, home=root / "adb-home")
    try:
        yield server.start()
    finally:
        server.stop()


@contextlib.contextmanager
def phones_on(
    server: AdbServer, root: Path, profile: str, count: int, confined: bool = True
) -> Iterator[list[VirtualDevice]]:
    """``count`` virtual phones of ``profile`` (root/phone0, root/phone1 ...) connected to
    ``server``; disconnected and stopped after. ``confined=False``: commands share this
    host's pid space, as a phone's commands share the phone's (a confined phone gives each
    command a pid namespace of its own)."""
    phones: list[VirtualDevice] = []
    try:
        for i in range(count):
            key = [server.public_key]
            phone = VirtualDevice(profile, root / f"phone{i}", adb_keys=key, confined=confined)
            phones.append(phone.start())
        for phone in phones:
            server.connect(phone.serial)
        yield phones
    finally:
        for phone in phones:
            server.disconnect(phone.serial)
            phone.stop()


@contextlib.contextmanager
def phones_behind_adb(
    root: Path, profile: str, count: int, confined: bool = True
) -> Iterator[tuple[AdbServer, list[VirtualDevice]]]:
    """A private adb server and ``count`` virtual phones of ``profile`` connected to it."""
    with (
        private_adb_server(root) as server,
        phones_on(server, root, profile, count, confined) as phones,
    ):
        yield server, phones


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def one_op_model(path: Path, *ops: str, shape: tuple[int, ...] = (1, 8), arity: int = 1) -> Path:
    """A float32 model chaining builtin ops, one input and one output: e.g. LOG, whose
    outputs are NaN for the negative half of the farm's seeded uniform(-1, 1) inputs, or
    ABS, RELU_0_TO_1, ABS, where LiteRT's GPU accelerator lacks the middle op; ``arity`` 2
    feeds each op's input to both its operands (ADD: x + x)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tensors = []
    for i in range(len(ops) + 1):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = f"t{i}", list(shape), 0, 0
        tensors.append(tensor)
    codes = list(dict.fromkeys(ops))
    operators = []
    for i, op in enumerate(ops):
        operator = schema.OperatorT()
        operator.opcodeIndex, operator.outputs = codes.index(op), [i + 1]
        operator.inputs = [i] * arity
        operators.append(operator)
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.name = tensors, operators, "main"
    subgraph.inputs, subgraph.outputs = [0], [len(ops)]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = (
        3,
        [_opcode(schema, c) for c in codes],
        [subgraph],
    )
    model.buffers = [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(builder.Output()))
    return path


def _opcode(schema: Any, op: str) -> Any:
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, op)
    code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), 1
    return code
