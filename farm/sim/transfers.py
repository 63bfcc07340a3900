"""The transfer log of a virtual device: every file that landed through SEND (push) and every
file sent through RECV (pull), so a test can assert "the second run pushed 0 bytes".
Optionally mirrored to a JSON Lines file, for devices in another process (`farm sim up`).
A push the device refused (FAIL) is not a transfer: nothing landed."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import NamedTuple


class Transfer(NamedTuple):
    """One file moved, named by the sync request that moved it: ``SEND`` or ``RECV``."""

    command: str
    device_path: str
    size_bytes: int


class TransferLog:
    """Append-only and thread-safe; ``path`` (if given) starts empty and gets one JSON array
    per transfer."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.write_text("")
        self._entries: list[Transfer] = []
        self._lock = threading.Lock()

    def record(self, command: str, device_path: str, size_bytes: int) -> None:
        entry = Transfer(command, device_path, size_bytes)
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                with self.path.open("a") as file:
                    file.write(json.dumps(list(entry)) + "\n")

    @property
    def entries(self) -> list[Transfer]:
        with self._lock:
            return list(self._entries)

    def bytes_moved(self, command: str) -> int:
        return sum(entry.size_bytes for entry in self.entries if entry.command == command)


def read_transfer_log(path: Path) -> list[Transfer]:
    """The entries a device in another process mirrored to ``path`` (none if it is missing)."""
    if not path.exists():
        return []
    return [Transfer(*json.loads(line)) for line in path.read_text().splitlines() if line]
