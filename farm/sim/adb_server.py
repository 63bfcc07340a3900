"""A private adb server (Debian's `adb`) on its own port with its own HOME, for tests and demos.

The server runs in the foreground (`adb -P PORT nodaemon server`) as our child, so it is
stopped by its PID and nothing is left behind. Its environment (shared lab recipes):
- ``ADB_EMU=0``: no probing of 127.0.0.1:5555-5585, where it would register anything that
  listens as ``emulator-<n>``; ``ADB_MDNS=0``: no mDNS discovery.
- a temporary ``HOME``: the first start writes ``~/.android/adbkey``.
The serial a device gets is exactly the string given to ``connect`` (127.0.0.1:P ≠ localhost:P).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ADB = "/usr/bin/adb"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
# Ports the adb server scans for emulators; never hand them out, even with ADB_EMU=0.
EMULATOR_PORTS = range(5554, 5586)


class AdbServerError(RuntimeError):
    """The adb server did not start, or refused a command."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (outside the emulator range)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in EMULATOR_PORTS:
            return port


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05
) -> None:
    """Poll ``condition()`` until true; AdbServerError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AdbServerError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


class AdbServer:
    """``adb -P PORT`` with its own environment. ``port=None`` picks a free one."""

    def __init__(
        self, port: int | None = None, adb_path: str = ADB, home: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.adb_path = adb_path
        self.home = home  # a temporary one is made (and removed) when None
        self._own_home = home is None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_path(self) -> Path | None:
        return self.home / "adb-server.log" if self.home else None

    @property
    def public_key(self) -> Path:
        """The server's adb public key (its first start writes it): what a device must list
        in its adb_keys to let this server in."""
        home = self.home or Path.home()
        return home / ".android" / "adbkey.pub"

    def environment(self) -> dict[str, str]:
        """What the adb CLI (and the server) runs with."""
        env = dict(os.environ, ADB_EMU="0", ADB_MDNS="0")
        for name in ("ANDROID_SERIAL", "ANDROID_ADB_SERVER_PORT", "ANDROID_SDK_HOME"):
            env.pop(name, None)
        if self.home:
            env["HOME"] = str(self.home)
        return env

    def start(self) -> AdbServer:
        """Start the server in the foreground; returns once it answers on its port."""
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="farm-adb-home-"))
        self.home.mkdir(parents=True, exist_ok=True)
        assert self.log_path is not None
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [self.adb_path, "-P", str(self.port), "nodaemon", "server"],
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self._answers, START_TIMEOUT_S, f"the adb server on port {self.port}")
            # Its key pair is written by a thread of the starting server (adb_auth_init).
            wait_for(self.public_key.exists, START_TIMEOUT_S, f"{self.public_key}")
        except AdbServerError:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = self.log_path.read_text(errors="replace") if self.log_path else ""
            raise AdbServerError(f"adb server exited with {self.process.returncode}: {log}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def adb_command(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``adb -P PORT ARGS`` against this server (never raises on a non-zero exit)."""
        return subprocess.run(
            [self.adb_path, "-P", str(self.port), *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def connect(self, serial: str, timeout_s: float = 20) -> None:
        """`adb connect SERIAL`, then wait until the server lists it as ``device``."""
        result = self.adb_command("connect", serial, timeout_s=timeout_s)
        if "connected to" not in result.stdout or "failed" in result.stdout:
            raise AdbServerError(f"adb connect {serial}: {(result.stdout + result.stderr).strip()}")
        wait_for(lambda: self.state(serial) == "device", timeout_s, f"{serial} to be online")

    def running(self) -> bool:
        """Whether the server answers. Checked before teardown commands: the adb CLI starts a
        daemon server of its own when none answers, which would outlive the tests."""
        if self.process is not None and self.process.poll() is not None:
            return False
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def disconnect(self, serial: str) -> None:
        if self.running():
            self.adb_command("disconnect", serial, timeout_s=20)

    def devices(self) -> dict[str, str]:
        """Serial → state (``device``, ``offline`` ...), as `adb devices` lists them."""
        lines = self.adb_command("devices", timeout_s=20).stdout.splitlines()
        pairs = (line.split("\t") for line in lines if "\t" in line)
        return {serial: state.strip() for serial, state in pairs}

    def state(self, serial: str) -> str | None:
        return self.devices().get(serial)

    def stop(self) -> None:
        """`kill-server`, then make sure by PID; remove the temporary HOME."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.adb_command("kill-server", timeout_s=STOP_TIMEOUT_S)
            _end_process(self.process, STOP_TIMEOUT_S)
        if self.home is not None and self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self) -> AdbServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _end_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout_s / 3)
            return
