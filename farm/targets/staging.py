"""Putting files on a device only when they changed: plain functions over the Target seam, and
what a run already put there."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from farm.hashing import file_sha256
from farm.targets.base import Target


def remote_sha256(target: Target, remote: str) -> str | None:
    """The sha256 of a file on the device, or None when it is missing or unreadable."""
    result = target.run(["sha256sum", remote], timeout_s=60)
    fields = result.stdout.split()
    return fields[0] if result.ok and fields and len(fields[0]) == 64 else None


def push_if_changed(target: Target, local: str, remote: str, sha256: str) -> int:
    """Push ``local`` unless the device already holds the same bytes; returns bytes pushed."""
    if remote_sha256(target, remote) == sha256:
        return 0
    target.run(["mkdir", "-p", posixpath.dirname(remote)], timeout_s=60)
    target.push(local, remote)
    return os.path.getsize(local)


class StagedFiles:
    """The files put in one device's workdir, each under a name from its hash (never a
    user-chosen name) and pushed, or found there already, once."""

    def __init__(self, target: Target, remote: dict[str, str] | None = None) -> None:
        self.target = target
        # sha256 -> its path on the device; the caller's own dict when it keeps it longer
        self._remote = {} if remote is None else remote

    def stage(self, local: str, folder: str, sha256: str | None = None, suffix: str = "") -> str:
        """Put ``local`` in the workdir's ``folder``; its path on the device."""
        sha256 = sha256 or file_sha256(local)
        if sha256 not in self._remote:
            remote = f"{self.target.workdir}/{folder}/{sha256[:20]}{suffix}"
            push_if_changed(self.target, local, remote, sha256)
            self._remote[sha256] = remote
        return self._remote[sha256]

    def stage_by_name(self, files: list[tuple[Path, str]], folder: str) -> str:
        """Put each (path, sha256) in the workdir's ``folder`` under its own name (libraries
        that load each other by name), pushing only what changed; the folder's path on the
        device. Name the folder by the set's content, so a changed file is never mixed into an
        older set."""
        remote = f"{self.target.workdir}/{folder}"
        for path, sha256 in files:
            push_if_changed(self.target, str(path), f"{remote}/{path.name}", sha256)
        return remote
