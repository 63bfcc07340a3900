"""The device's file system: device paths live under a sandbox root on the host.

Layout under the root: ``data/local/tmp``, ``storage/emulated/0`` (with ``sdcard`` a link to
it) and ``system/bin`` (``getprop`` and the userland's tools: userland.py). Shell commands run
with the cwd at the root (the device's ``/``) and a clean environment whose PATH is
``system/bin`` (the android userland) or starts there (linux-python).

Confined (the default): each command runs in a bubblewrap sandbox whose ``/`` is the device
root, as uid 2000 (confine.py): paths need no mapping and the host's files outside the root are
out of reach. ``system/`` is rebuilt from the profile at each start (a phone's system image),
so nothing of another profile is left in it.

Unconfined (``confined=False``, `farm sim up --insecure`): commands run as host processes as
this user, and only the device's own trees are mapped:
- sync (push, pull, ls, stat) maps *every* absolute device path into the root.
- an absolute path starting with ``/data``, ``/sdcard``, ``/storage`` or ``/system``
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

import os
import posixpath
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path

from farm.sim import confine
from farm.sim.userland import ANDROID, Userland, get_userland

# A device tree at the start of a shell word, not followed by more of a file name (/database).
_TREE = re.compile(r"(?<![^\s'\"=:(;|&<>`,])(/data|/sdcard|/storage|/system)(?![\w.\-])")
# The root is spliced unquoted into commands, so it may hold only characters the shell ignores.
_PLAIN_PATH = re.compile(r"[\w./+-]+")


class Sandbox:
    """A device root on the host."""

    def __init__(
        self,
        root: Path,
        properties: Mapping[str, str],
        userland: Userland | str = ANDROID,
        confined: bool = True,
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
        self.confined = confined
        if confined:
            confine.bwrap_path()  # fail now, saying what to install, not at the first command
        self._make_tree()
        self.userland.install(self.bin)
        confine.write_identity(root / "system")
        self._write_tool("getprop", getprop_script(properties, self.userland.script_header()))

    def _make_tree(self) -> None:
        shutil.rmtree(self.root / "system", ignore_errors=True)  # the profile's image, afresh
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
        """The shell command with the device trees' absolute paths mapped into the root (only
        unconfined: confined, the root is ``/``)."""
        if self.confined:
            return command
        return _TREE.sub(lambda match: f"{self.root}{match.group(1)}", command)

    def shell_argv(self, command: str) -> list[str]:
        """The argv that runs one shell service's command (run it with ``executable=shell``)."""
        argv = self.userland.argv(self.command(command))
        if not self.confined:
            return argv
        return confine.bwrap_argv(self.root, self._programs(), argv)

    def _programs(self) -> list[str]:
        """The host programs the userland runs, mounted read-only in the sandbox."""
        if self.userland.host_path:
            host = ["/bin", "/usr/bin", "/usr/local/bin", "/etc/alternatives"]
            return [*host, *confine.python_paths()]
        tools = [self.userland.shell, self.userland.tool("toybox")]
        return sorted({*tools, *(os.path.realpath(tool) for tool in tools)})

    @property
    def shell(self) -> str:
        """The program Popen executes (bubblewrap when confined)."""
        return confine.bwrap_path() if self.confined else self.userland.shell

    def environment(self) -> dict[str, str]:
        """A clean, Android-like environment (nothing leaks in from the simulator's own)."""
        root = Path("/") if self.confined else self.root
        return {
            "PATH": self.userland.path(root / "system" / "bin"),
            "HOME": str(root),
            "ANDROID_ROOT": str(root / "system"),
            "TMPDIR": str(root / "data" / "local" / "tmp"),
            "EXTERNAL_STORAGE": str(root / "sdcard"),
            "ANDROID_DATA": str(root / "data"),
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
