"""Android devices through an adb server (Debian's `adb`, a remote one, or a private one),
driven with adbutils. adbutils errors are translated here, at the boundary."""

from __future__ import annotations

import os
import posixpath
import shlex
import socket
import time
from typing import Any

from farm.errors import DeviceUnavailable, TargetError, TargetTimeout, disk_full
from farm.targets.base import CommandResult
from farm.targets.space import free_mb

DEFAULT_WORKDIR = "/data/local/tmp/farm"
# What `describe` reads; ro.soc.model exists from Android 12, ro.board.platform before it.
FINGERPRINT_PROPS = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "board_platform": "ro.board.platform",
    "soc": "ro.soc.model",
    # Which NPU SDK and dispatch library fit: LiteRT's compiler plugins are chosen by SoC
    # manufacturer and model (apply_plugin --soc_manufacturer Qualcomm --soc_model SM8650).
    "soc_manufacturer": "ro.soc.manufacturer",
    "build_fingerprint": "ro.build.fingerprint",
    "sdk": "ro.build.version.sdk",
    "abi": "ro.product.cpu.abi",
}
# The shell's exit status of a command killed at its timeout (128 + SIGKILL).
KILLED_BY_TIMEOUT = 137
HOST_GRACE_S = 15.0
KILL_GRACE_S = 5  # after the TERM at the timeout, the KILL `timeout -k` sends the wrapper
# The command's own exit status, printed on its own line after it ended. toybox's `timeout`
# (0.8.9, Debian's and Android 14's) loses the status of a command that ends within about a
# millisecond and exits 127 instead, for 40-70 % of `mkdir -p`, `true` and `false` runs here
# (toybox issue 389 reports the same in 0.8.8); so the status comes from a shell that waits for
# the command itself, and `timeout` only stops that shell, which then kills the command: a
# trapped TERM interrupts `wait` (POSIX), and the KILL reaches the command, not just the shell;
# a command stopped so reports 137, as one `timeout -s KILL` killed did.
STATUS_MARK = "FARM-STATUS:"
WRAPPER = (
    "\"$@\" & c=$!; k=; trap 'k=1; kill -KILL $c 2>/dev/null' TERM; wait $c; s=$?; "
    "[ -z \"$k\" ] || { wait $c; s=137; }; printf '\\n%s%d\\n' " + STATUS_MARK + ' "$s"'
)


class AdbTarget:
    """One Android device (``serial`` exactly as `adb devices` prints it) via an adb server."""

    def __init__(
        self,
        name: str,
        serial: str,
        host: str = "127.0.0.1",
        port: int = 5037,
        workdir: str | None = None,
    ) -> None:
        import adbutils

        self.name, self.serial = name, serial
        self.workdir = workdir or DEFAULT_WORKDIR
        self._client = adbutils.AdbClient(host=host, port=port, socket_timeout=30)
        self._server = (host, port)
        self._where = f"adb server {host}:{port}"
        self._device = self._call(lambda: self._client.device(serial))
        self._check_state()

    def _check_state(self) -> None:
        state = self._call(self._device.get_state)
        if state != "device":
            raise DeviceUnavailable(
                self.name, f"{self.serial} is {state} ({_STATE_FIX.get(state, '')})"
            )

    def push(self, local: str, remote: str) -> None:
        try:
            self._call(lambda: self._device.sync.push(local, remote, mode=0o755))
        except TargetError as exc:
            # adbutils drops the device's FAIL message ("No space left on device", a read-only
            # path ...); say what was refused and how much room the folder has.
            raise TargetError(
                self.name,
                f"cannot push {os.path.basename(local)} to {remote} "
                f"({exc.message}){self._free_space(remote)}",
            ) from exc

    def _free_space(self, remote: str) -> str:
        free = free_mb(self, posixpath.dirname(remote))
        return f"; {int(free)} MB free there" if free is not None else ""

    def pull(self, remote: str, local: str) -> None:
        # adbutils' pull of a missing path creates an empty folder instead of failing.
        info = self._call(lambda: self._device.sync.stat(remote))
        if info.mode == 0:
            raise TargetError(self.name, f"no such file on device: {remote}")
        self._call(lambda: self._device.sync.pull(remote, local))

    def run(self, argv: list[str], timeout_s: float) -> CommandResult:
        # `timeout` (toybox on the device) stops the remote command itself; the host-side
        # socket timeout is only the backstop for a device that stops answering.
        command = (
            f"timeout -s TERM -k {KILL_GRACE_S} {timeout_s:g} "
            f"sh -c {shlex.quote(WRAPPER)} sh {shlex.join(argv)}"
        )
        start = time.perf_counter()
        reply = self._call(
            lambda: self._device.shell2(command, timeout=timeout_s + KILL_GRACE_S + HOST_GRACE_S),
            argv=argv,
            timeout_s=timeout_s,
        )
        wall = time.perf_counter() - start
        output, returncode = split_status(reply.output, reply.returncode)
        if returncode == KILLED_BY_TIMEOUT and wall >= timeout_s:
            raise TargetTimeout(self.name, argv, timeout_s)
        return CommandResult(tuple(argv), returncode, output, "", wall)

    def describe(self) -> dict[str, Any]:
        props = {
            key: self._call(lambda p=prop: self._device.getprop(p)) or None
            for key, prop in FINGERPRINT_PROPS.items()
        }
        return {"transport": "adb", "serial": self.serial, **props}

    def close(self) -> None:
        pass

    def _call(self, action: Any, argv: list[str] | None = None, timeout_s: float = 0) -> Any:
        import adbutils

        # adbutils answers a refused connection by running `adb start-server` on the default
        # port: a stray local server, and still not the one devices.yaml names. Ask first.
        if not _answers(*self._server):
            raise DeviceUnavailable(self.name, f"no {self._where} answering")
        try:
            return action()
        except adbutils.AdbTimeout as exc:
            if argv is not None:
                raise TargetTimeout(self.name, argv, timeout_s) from exc
            raise TargetError(self.name, f"adb timed out talking to {self.serial}") from exc
        except (adbutils.AdbError, OSError) as exc:
            if disk_full(exc):  # writing a pulled file on this host: the run folder is full
                raise
            raise _translate(self.name, self.serial, self._where, exc) from exc


def split_status(output: str, fallback: int) -> tuple[str, int]:
    """The command's output and its status from WRAPPER's last line; without that line (the
    wrapper was killed, or never ran) the status the shell gave."""
    mark = output.rfind(f"\n{STATUS_MARK}")
    status = output[mark + len(STATUS_MARK) + 1 :].strip() if mark >= 0 else ""
    if not status.isdigit():
        return output, fallback
    return output[:mark], int(status)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


_STATE_FIX = {
    "unauthorized": "accept the USB debugging prompt on the device",
    "offline": "reconnect the device or restart adbd",
}


def _translate(name: str, serial: str, where: str, exc: Exception) -> TargetError:
    text = str(exc)
    if "not found" in text:
        return DeviceUnavailable(name, f"serial {serial} not found by {where} (see `adb devices`)")
    if "unauthorized" in text:
        return DeviceUnavailable(name, f"{serial} is unauthorized ({_STATE_FIX['unauthorized']})")
    if "offline" in text:
        return DeviceUnavailable(name, f"{serial} is offline ({_STATE_FIX['offline']})")
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
        return DeviceUnavailable(name, f"no {where} answering ({text})")
    return TargetError(name, f"adb: {text or type(exc).__name__}")
