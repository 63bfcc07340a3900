"""The sha256 of a file, read in blocks: what models.yaml pins, what names a staged file on a
device, and what a device's `sha256sum` is checked against before a push is skipped."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
