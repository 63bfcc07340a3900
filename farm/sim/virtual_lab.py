"""A virtual lab: N virtual devices registered with an adb server (a private one when asked).

In-process, for tests and scripts::

    with start_virtual_lab(count=2, profile="pixel8") as lab:
        print(lab.devices_yaml_snippet())

Detached, for `farm sim up` / `farm sim down`: ``up`` starts ``python -m farm.sim serve`` in its
own session and returns once its devices are online; the process records what it started in a
state file, and ``down`` stops it from that file (SIGTERM, then its own clean-up).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from farm.sim.adb_server import ADB, AdbServer, wait_for
from farm.sim.device import VirtualDevice
from farm.sim.profile import REAL_DELEGATES, get_profile
from farm.sim.userland import LINUX_PYTHON

DEFAULT_STATE = Path("reports") / "sim" / "state.json"
DEFAULT_ADB_PORT = 5037
UP_TIMEOUT_S = 60.0
DOWN_TIMEOUT_S = 20.0
WORKDIR = "/data/local/tmp/farm"
# The software Vulkan driver Debian's chromium ships: LiteRT's GPU accelerator runs on it (a
# software GPU: right answers, no phone's speed), so the demo's host gets a gpu column.
SWIFTSHADER_ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")


class LabError(RuntimeError):
    """The virtual lab could not be started or stopped."""


@dataclass
class LabState:
    """What `farm sim down` needs to stop everything `farm sim up` started."""

    pid: int
    serials: list[str]
    profile: str
    root: str
    adb_port: int = DEFAULT_ADB_PORT
    started_server: bool = False
    adb_pid: int | None = None
    transfer_logs: list[str] = field(default_factory=list)
    started_daemon: bool = False  # `adb connect` started a daemon server: `down` stops it

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)  # readers never see half a file

    @classmethod
    def load(cls, path: Path) -> LabState:
        return cls(**json.loads(path.read_text()))


class VirtualLab:
    """Devices + the adb server they are registered with (``server`` started by us or not)."""

    def __init__(
        self,
        devices: list[VirtualDevice],
        server: AdbServer,
        started_server: bool,
        root: Path,
        remove_root: bool = False,
    ) -> None:
        self.devices, self.server, self.root = devices, server, root
        self.started_server, self._remove_root = started_server, remove_root
        self.started_daemon = False

    @property
    def adb_port(self) -> int:
        return self.server.port

    @property
    def serials(self) -> list[str]:
        return [device.serial for device in self.devices]

    def devices_yaml_snippet(self, with_host: bool = False) -> str:
        """devices.yaml entries for these devices (a whole file when ``with_host``)."""
        return devices_yaml(self.state(), with_host=with_host)

    def state(self, pid: int | None = None) -> LabState:
        return LabState(
            pid=pid or os.getpid(),
            serials=self.serials,
            profile=self.devices[0].profile.name if self.devices else "",
            root=str(self.root),
            adb_port=self.adb_port,
            started_server=self.started_server,
            adb_pid=self.server.pid,
            transfer_logs=[str(d.transfer_log.path) for d in self.devices if d.transfer_log.path],
            started_daemon=self.started_daemon,
        )

    def stop(self) -> None:
        """Disconnect and stop every device, then the adb server if we started it."""
        for device in self.devices:
            with contextlib.suppress(Exception):
                self.server.disconnect(device.serial)
            device.stop()
        if self.started_server:
            self.server.stop()
        elif self.started_daemon and self.server.running():
            self.server.adb_command("kill-server", timeout_s=20)
        if self._remove_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> VirtualLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_virtual_lab(
    count: int = 1,
    profile: str = "pixel8",
    adb_port: int | None = None,
    start_server: bool = True,
    root: Path | None = None,
    adb_path: str = ADB,
    transfer_logs: bool = False,
    insecure: bool = False,
) -> VirtualLab:
    """Start ``count`` devices and register them; without ``start_server`` the adb server on
    ``adb_port`` (default 5037) must be running or is started by adb itself (and then stopped
    by ``stop``). Without ``root`` the devices live in a temporary folder that ``stop``
    removes; with one, each device gets a fresh ``root/deviceN``. Devices accept the user's
    and the server's adb key and confine their shell, unless ``insecure``."""
    temporary = root is None
    root = root or Path(tempfile.mkdtemp(prefix="farm-sim-"))
    server = AdbServer(adb_port if adb_port or start_server else DEFAULT_ADB_PORT, adb_path)
    devices: list[VirtualDevice] = []
    lab = VirtualLab(devices, server, start_server, root, remove_root=temporary)
    try:
        if start_server:
            server.start()
        lab.started_daemon = not start_server and not server.running()
        # The user's key (their adb server's) and the lab's server's, when it has its own HOME.
        user_key = Path.home() / ".android" / "adbkey.pub"
        keys = None if insecure else sorted({user_key, server.public_key})
        for i in range(count):
            log = root / f"device{i}.transfers.jsonl" if transfer_logs else None
            device_root = _fresh(root / f"device{i}")
            device = VirtualDevice(
                profile, device_root, transfer_log=log, adb_keys=keys, confined=not insecure
            )
            devices.append(device.start())
        for device in devices:
            server.connect(device.serial)
    except BaseException:
        lab.stop()
        raise
    return lab


def _fresh(device_root: Path) -> Path:
    """An empty folder for a device: nothing of an earlier lab (or profile) is left in it."""
    shutil.rmtree(device_root, ignore_errors=True)
    return device_root


def devices_yaml(
    state: LabState, with_host: bool = True, benchmark_model: str | None = None
) -> str:
    """A devices.yaml for the lab, with the delegates a virtual device really runs (cpu,
    xnnpack): phones with Android's userland get adb's default runner, benchmark_model (the
    file ``benchmark_model`` names, else the user cache's build for their ABI), linux-python
    ones the Python runner; with ``with_host`` the local host too, as a whole file."""
    python = get_profile(state.profile).userland == LINUX_PYTHON if state.profile else False
    runner = "    runner: python" if python else "    # runner: benchmark_model (adb's default)"
    if benchmark_model and not python:
        runner += f"\n    benchmark_model: {benchmark_model}"
    lines = ["devices:"]
    if with_host:
        lines += host_entry()
    for i, serial in enumerate(state.serials):
        lines += [
            f"  sim{i}:",
            "    transport: adb",
            f'    serial: "{serial}"',
            "    adb_host: 127.0.0.1",
            f"    adb_port: {state.adb_port}",
            f"    workdir: {WORKDIR}",
            runner,
            f"    delegates: [{', '.join(REAL_DELEGATES)}]",
        ]
    return "\n".join(lines) + "\n"


def host_entry(icd: Path = SWIFTSHADER_ICD) -> list[str]:
    """This host: cpu and xnnpack, and gpu on SwiftShader where this host has it."""
    if not icd.exists():
        return ["  host:", "    transport: local", "    delegates: [cpu, xnnpack]"]
    return [
        "  host:",
        "    transport: local",
        "    delegates: [cpu, xnnpack, gpu]  # gpu: LiteRT's GPU accelerator on SwiftShader",
        "    env:",
        f"      VK_ICD_FILENAMES: {icd}",
        f"      LD_LIBRARY_PATH: {icd.parent}",
    ]


# -- the detached lab behind `farm sim up` / `farm sim down` ---------------------------------


def serve(
    count: int,
    profile: str,
    root: Path,
    state_path: Path,
    adb_port: int | None = None,
    start_server: bool = False,
    insecure: bool = False,
) -> None:
    """Run a lab until SIGTERM or SIGINT, recording it in ``state_path`` once it is online."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    lab = start_virtual_lab(
        count, profile, adb_port, start_server, root, transfer_logs=True, insecure=insecure
    )
    try:
        lab.state().save(state_path)
        while not stop.wait(0.5):
            pass
    finally:
        lab.stop()
        state_path.unlink(missing_ok=True)


def up(
    count: int,
    profile: str,
    root: Path,
    state_path: Path = DEFAULT_STATE,
    adb_port: int | None = None,
    start_server: bool = False,
    timeout_s: float = UP_TIMEOUT_S,
    insecure: bool = False,
) -> LabState:
    """Start a detached lab and return its state once every device is online."""
    _refuse_second_lab(state_path)
    root.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "farm.sim", "serve", "--count", str(count)]
    argv += ["--profile", profile, "--root", str(root), "--state", str(state_path.absolute())]
    argv += ["--adb-port", str(adb_port)] if adb_port else []
    argv += ["--start-server"] if start_server else []
    argv += ["--insecure"] if insecure else []
    log = root / "lab.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: state_path.exists() or process.poll() is not None, timeout_s, "the lab")
    except RuntimeError:
        process.kill()
    if not state_path.exists():
        process.wait(DOWN_TIMEOUT_S)
        raise LabError(f"virtual lab did not start: {log.read_text(errors='replace')[-2000:]}")
    return LabState.load(state_path)


def down(state_path: Path = DEFAULT_STATE) -> LabState | None:
    """Stop the lab recorded in ``state_path``; None when nothing was running."""
    if not state_path.exists():
        return None
    state = LabState.load(state_path)
    if _is_lab_process(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        with contextlib.suppress(RuntimeError):
            wait_for(lambda: not _is_lab_process(state.pid), DOWN_TIMEOUT_S, "the lab to stop")
        if _is_lab_process(state.pid):
            os.kill(state.pid, signal.SIGKILL)
        # A process mid-exit has lost its command line but is not gone yet: wait for that too.
        with contextlib.suppress(RuntimeError):
            wait_for(lambda: not _is_running(state.pid, ""), DOWN_TIMEOUT_S, "the lab to exit")
    if state.started_server and state.adb_pid and _is_running(state.adb_pid, "adb"):
        os.kill(state.adb_pid, signal.SIGKILL)  # the lab died before it could stop its server
    daemon = AdbServer(state.adb_port)
    if state.started_daemon and daemon.running():
        daemon.adb_command("kill-server", timeout_s=DOWN_TIMEOUT_S)  # the lab died first
    state_path.unlink(missing_ok=True)
    return state


def stopped_message(state: LabState | None) -> str:
    """What `farm sim down` says."""
    if state is None:
        return "nothing running"
    count = len(state.serials)
    return f"stopped {count} virtual device{'' if count == 1 else 's'}"


def _refuse_second_lab(state_path: Path) -> None:
    if not state_path.exists():
        return
    state = LabState.load(state_path)
    if _is_lab_process(state.pid):
        raise LabError(f"a virtual lab is already running (pid {state.pid}): run `farm sim down`")
    state_path.unlink()


def _is_lab_process(pid: int) -> bool:
    return _is_running(pid, "farm.sim")


def _is_running(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and its command line contains ``marker``, so a
    recycled pid is never signalled."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False
    return status != "Z" and marker in cmdline
