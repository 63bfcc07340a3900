"""Processes as /proc shows them (zombies are dead: PID 1 here may never reap them)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def live_group_members(pgid: int) -> list[int]:
    """The pids of live (non-zombie) processes in process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # After "comm)": state, ppid, pgrp (proc(5)).
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(stat.parent.name))
    return members


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def sandboxed_group(command: str, timeout_s: float = 10) -> int:
    """The host's process group of a command this test process started on a virtual device,
    found by its exact command line (inside its sandbox ``$$`` is another pid namespace's
    number)."""
    from ..lab import descendants, wait_for

    found: list[int] = []

    def look() -> bool:
        for pid in descendants(os.getpid()):
            with contextlib.suppress(OSError, IndexError, ValueError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if cmdline.strip() == command.encode():
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    found.append(int(stat[2]))
                    return True
        return False

    wait_for(look, f"a command running {command!r}", timeout_s)
    return found[0]
