"""Free space in a folder of a device, as `df -Pk` prints it on every device the farm drives
(GNU coreutils on boards, toybox on Android: a header line, then 1024-byte blocks with the
available count in the fourth column)."""

from __future__ import annotations

from farm.errors import TargetError
from farm.targets.base import Target


def free_mb(target: Target, folder: str) -> float | None:
    """MB available in ``folder``'s file system; None when df fails or prints no number."""
    try:
        result = target.run(["df", "-Pk", folder], timeout_s=30)
    except TargetError:
        return None
    lines = result.stdout.strip().splitlines()
    fields = lines[-1].split() if result.ok and len(lines) > 1 else []
    return int(fields[3]) / 1024 if len(fields) > 3 and fields[3].isdigit() else None
