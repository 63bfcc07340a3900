"""The confined shell: each command runs in a bubblewrap sandbox (Debian's ``bubblewrap``)
whose ``/`` holds only the device root and what a phone's system image would hold.

Inside: an empty tmpfs as ``/``; the device root's own folders (``/data``, ``/storage``,
``/sdcard``, ``/system``: ``/system`` read-only, as on a phone); a fresh ``/proc`` of a
new pid namespace, a minimal ``/dev``, the host's ``/sys`` read-only; the host's libraries
(``/lib``, ``/lib64``, ``/usr/lib``) read-only, because the farm's runners are host ELF files
that need the host's loader and libc (a phone's ``/system/lib``); and the userland's own
programs read-only (mksh and toybox; linux-python: the host's ``/usr/bin`` and the
simulator's Python). Nothing else of the host: not its ``/etc``, ``/home`` or ``/tmp``.

It runs as uid 2000 (Android's ``shell`` user) in a new user namespace (``--unshare-user``),
so it is not root even when the simulator is; ``/etc/passwd`` names that uid ``shell``.
bubblewrap's ``--die-with-parent`` and the new pid namespace make a SIGKILL of the command's
process group (shell.py) end everything it started.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

SHELL_UID = 2000  # AID_SHELL (android_filesystem_config.h)
BWRAP = "bwrap"
_LIBRARIES = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache")
_PASSWD = f"root:x:0:0::/:/system/bin/sh\nshell:x:{SHELL_UID}:{SHELL_UID}::/:/system/bin/sh\n"
_GROUP = f"root:x:0:\nshell:x:{SHELL_UID}:\n"


class SandboxMissing(RuntimeError):
    """bubblewrap is not installed."""


def bwrap_path() -> str:
    """Where bubblewrap is; SandboxMissing saying what to install."""
    found = shutil.which(BWRAP)
    if not found:
        raise SandboxMissing(
            "the virtual phones' shell runs in a sandbox that needs bubblewrap "
            "(apt-get install bubblewrap); or pass --insecure to run their commands unconfined "
            "as this user on this host's file system"
        )
    return found


def write_identity(system: Path) -> None:
    """``/system/etc/passwd`` and ``group``, so ``id`` names uid 2000 ``shell``."""
    etc = system / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(_PASSWD)
    (etc / "group").write_text(_GROUP)


def bwrap_argv(root: Path, programs: Iterable[str], argv: list[str]) -> list[str]:
    """bubblewrap's argv that runs ``argv`` with ``root`` as the device's ``/``."""
    args = [bwrap_path(), "--unshare-user", "--uid", str(SHELL_UID), "--gid", str(SHELL_UID)]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"]
    args += ["--tmpfs", "/", "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/sys", "/sys"]
    args += _device_tree(root)
    for path in (*_LIBRARIES, *programs):
        args += _host_path(path)
    for name in ("passwd", "group"):
        args += ["--ro-bind", str(root / "system" / "etc" / name), f"/etc/{name}"]
    args += ["--chdir", "/", "--"]
    return args + argv


def python_paths() -> list[str]:
    """What the simulator's Python needs (linux-python's python3 is that interpreter)."""
    return sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})


def _device_tree(root: Path) -> list[str]:
    args: list[str] = []
    for entry in sorted(root.iterdir()):
        target = f"/{entry.name}"
        if entry.is_symlink():
            args += ["--symlink", str(entry.readlink()), target]
        elif entry.is_dir():
            args += ["--ro-bind" if entry.name == "system" else "--bind", str(entry), target]
    return args


def _host_path(path: str) -> list[str]:
    host = Path(path)
    if host.is_symlink():  # /lib -> usr/lib on a merged-/usr Debian
        return ["--symlink", str(host.readlink()), path]
    return ["--ro-bind-try", path, path]
