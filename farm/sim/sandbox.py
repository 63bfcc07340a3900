"""The device's file system: device paths live under a sandbox root on the host.

Layout under the root: ``data/local/tmp``, ``storage/emulated/0`` (with ``sdcard`` a link to
it) and ``system/bin`` (``getprop`` and the userland's tools: userland.py). Shell commands run
with the cwd at the root (the device's ``/``) and a clean environment whose PATH is
``system/bin`` (the android userland) or starts there (linux-python).

How paths are mapped, and where that stops:
- sync (push, pull, ls, stat) maps *every* absolute device path into the root.
- Shell commands run as host processes (not in a chroot), so only the device's own trees
  are mapped: an absolute path starting with ``/data``, ``/sdcard``, ``/storage`` or ``/system``
  at the start
  of a word (after a space, a quote, a backquote or one of ``=:;|&(<>,``) is rewritten to
  ``<root>/data...`` in the command string. Not mapped: paths a script builds at run time
  (``"/da""ta"``, ``$X/data``) and every other absolute path (those are the host's). What
  commands print (``pwd``, ``ls -d /data/*``) are host paths; sync accepts a host path under
  the root that is handed back to it. ``/proc`` and ``/sys`` are the host's own (real).
- ``getprop`` answers from the profile: ``getprop NAME`` prints the value (an empty line when
  missing, or the second argument as a default), no argument prints ``[k]: [v]`` lines.
- linux-python only: ``python3`` is the Python running the simulator (it has LiteRT), so the
  farm's Python runner really runs on a virtual device; its ``cpu`` / ``xnnpack`` cells are real
  measurements of the host.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from farm.sim.userland import ANDROID, Userland, get_userland

# A device tree at the start of a shell word, not followed by more of a file name (/database).
_TREE = re.compile(r"(?<![^\s'\"=:(;|&<>`,])(/data|/sdcard|/storage|/system)(?![\w.\-])")
# The root is spliced unquoted into commands, so it may hold only characters the shell ignores.
_PLAIN_PATH = re.compile(r"[\w./+-]+")


class Sandbox:
    """A device root on the host."""

    def __init__(
        self, root: Path, properties: Mapping[str, str], userland: Userland | str = ANDROID
    ) -> None:
        root = root.absolute()
        if not _PLAIN_PATH.fullmatch(str(root)):
            raise ValueError(
                f"sandbox root {root} must hold only letters, digits and ./_+- "
                "(it is spliced into shell commands)"
            )
        self.root = root
        self.bin = root / "system" / "bin"
        self.userland = get_userland(userland) if isinstance(userland, str) else userland
        self._make_tree()
        self.userland.install(self.bin)
        self._write_tool("getprop", getprop_script(properties, self.userland.script_header()))

    def _make_tree(self) -> None:
        for folder in ("data/local/tmp", "storage/emulated/0", "system/bin"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        sdcard = self.root / "sdcard"
        if not sdcard.exists() and not sdcard.is_symlink():
            sdcard.symlink_to("storage/emulated/0")  # as on Android: /sdcard -> primary storage

    def _write_tool(self, name: str, text: str) -> None:
        tool = self.bin / name
        tool.write_text(text)
        tool.chmod(0o755)

    def host_path(self, device_path: str) -> Path:
        """Where a device path lives on the host (sync maps every path; '..' stays inside)."""
        if device_path.startswith(f"{self.root}/"):
            return Path(device_path)  # a host path a command printed and the caller handed back
        relative = posixpath.normpath("/" + device_path.lstrip("/")).lstrip("/")
        return self.root / relative if relative and relative != "." else self.root

    def command(self, command: str) -> str:
        """The shell command with the device trees' absolute paths mapped into the root."""
        return _TREE.sub(lambda match: f"{self.root}{match.group(1)}", command)

    def shell_argv(self, command: str) -> list[str]:
        """The argv that runs one shell service's command (run it with ``executable=shell``)."""
        return self.userland.argv(self.command(command))

    @property
    def shell(self) -> str:
        return self.userland.shell

    def environment(self) -> dict[str, str]:
        """A clean, Android-like environment (nothing leaks in from the simulator's own)."""
        return {
            "PATH": self.userland.path(self.bin),
            "HOME": str(self.root),
            "ANDROID_ROOT": str(self.root / "system"),
            "TMPDIR": str(self.root / "data" / "local" / "tmp"),
            "EXTERNAL_STORAGE": str(self.root / "sdcard"),
            "ANDROID_DATA": str(self.root / "data"),
            "USER": "shell",
        }


def getprop_script(properties: Mapping[str, str], header: str = "#!/bin/sh\n") -> str:
    """A POSIX-shell ``getprop`` with the table compiled in (no lookup file, no Python)."""
    listing = "".join(f"[{key}]: [{properties[key]}]\n" for key in sorted(properties))
    cases = "".join(
        f"  {shlex.quote(key)}) printf '%s\\n' {shlex.quote(properties[key])} ;;\n"
        for key in sorted(properties)
    )
    return (
        f"{header}"
        "# getprop of a farm.sim virtual device (generated from its profile)\n"
        'if [ "$#" -eq 0 ]; then\n'
        "  cat <<'FARM_SIM_PROPERTIES'\n"
        f"{listing}"
        "FARM_SIM_PROPERTIES\n"
        "  exit 0\n"
        "fi\n"
        'case "$1" in\n'
        f"{cases}"
        "  *) printf '%s\\n' \"$2\" ;;\n"
        "esac\n"
    )
