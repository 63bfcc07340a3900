"""Putting files on a device only when they changed: a plain function over the Target seam."""

from __future__ import annotations

import os
import posixpath

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
