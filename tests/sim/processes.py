"""Processes as /proc shows them (zombies are dead: PID 1 here may never reap them)."""

from __future__ import annotations

import contextlib
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
