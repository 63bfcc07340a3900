"""What runs a virtual device's shell commands: its shell, its tools, its PATH.

- ``android`` (the default): as on a real phone. ``/system/bin/sh`` is Debian's real ``mksh``
  (Android's shell since 4.0) and every other tool is an applet of Debian's real ``toybox``
  (Android's since 6.0), each a link in the device's ``/system/bin``; PATH holds nothing else,
  so there is no ``python3``, no GNU coreutils and no bash. A command the farm sends that only
  GNU understands fails here as it would on a phone.
- ``linux-python``: the host's ``/bin/sh`` with the host's tools and a ``python3`` that is the
  simulator's own interpreter (with LiteRT), so the farm's Python runner can run on a virtual
  device. Opt-in (``--profile linux-python``): no real phone looks like this.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ANDROID, LINUX_PYTHON = "android", "linux-python"
USERLANDS = (ANDROID, LINUX_PYTHON)
# What adbd runs (`adb shell` shows it as $0).
DEVICE_SHELL = "/system/bin/sh"
# Not toybox applets on a phone either; getprop is the profile's own script.
_NOT_TOYBOX = frozenset({"getprop", "sh"})


class UserlandMissing(RuntimeError):
    """A tool the userland is made of is not installed on this host."""


@dataclass(frozen=True)
class Userland:
    """A device's shell and tools; ``install`` fills its /system/bin."""

    name: str
    shell: str  # the host program that runs `sh -c COMMAND`
    argv0: str  # what the device calls its shell ($0)
    host_path: bool  # whether the host's /usr/bin and /bin follow the device's own PATH

    def install(self, bin_dir: Path) -> None:
        if self.name == ANDROID:
            _link(bin_dir / "sh", self.shell)
            toybox = _tool("toybox")
            for applet in ["toybox", *_applets(toybox)]:
                if applet not in _NOT_TOYBOX:
                    _link(bin_dir / applet, toybox)
        else:
            _write(bin_dir / "python3", f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')

    def tool(self, name: str) -> str:
        """Where the host's ``name`` is (UserlandMissing saying what to install)."""
        return _tool(name)

    def argv(self, command: str) -> list[str]:
        """The shell's argv for one service (an empty command is an interactive shell)."""
        return [self.argv0, "-c", command] if command.strip() else [self.argv0]

    def path(self, bin_dir: Path) -> str:
        return f"{bin_dir}:/usr/local/bin:/usr/bin:/bin" if self.host_path else str(bin_dir)

    def script_header(self) -> str:
        """The first line of a shell script the device itself carries (getprop)."""
        return f"#!{self.shell}\n"


def get_userland(name: str) -> Userland:
    """The userland called ``name``; the android one needs mksh and toybox on this host."""
    if name == ANDROID:
        return Userland(ANDROID, _tool("mksh"), DEVICE_SHELL, host_path=False)
    if name == LINUX_PYTHON:
        return Userland(LINUX_PYTHON, "/bin/sh", "/bin/sh", host_path=True)
    raise KeyError(f"unknown userland {name!r} (known: {', '.join(USERLANDS)})")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise UserlandMissing(
            f"the android userland of farm.sim needs Debian's {name} (apt-get install {name}), "
            "or use the linux-python profile"
        )
    return found


def _applets(toybox: str) -> list[str]:
    # `toybox` with no argument lists its applets, space separated (toybox's main.c).
    return subprocess.run([toybox], capture_output=True, text=True, check=True).stdout.split()


def _link(path: Path, target: str) -> None:
    # toybox picks the applet from argv[0]'s basename, so one link per applet is the whole
    # install, as on Android's /system/bin.
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)
