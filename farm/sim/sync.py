"""The ``sync:`` service behind `adb push / pull / ls` and adbutils' ``device.sync``.

Requests are ``[4-byte id][u32 LE length][path]``, parsed from a byte stream (WRTE boundaries
mean nothing: one WRTE may hold SEND+DATA+DONE). Replies follow AOSP file_sync_protocol.h and
file_sync_service.cpp at platform-tools-29.0.6:
- STAT → ``STAT mode size mtime`` from lstat; a missing path answers all zeros, not FAIL.
- STA2 (stat) / LST2 (lstat) → 72 bytes: id, errno, dev, ino, mode, nlink, uid, gid, size,
  atime, mtime, ctime; a missing path sets errno and zeros the rest.
- LIST / LIS2 → one DENT / DNT2 record per entry ("." and ".." included), then DONE padded to a
  whole record (20 / 76 bytes).
- SEND ``path,mode`` (split at the last comma; mode as strtoul base 0, so 0644 is octal) → DATA
  chunks → DONE mtime; missing parents are created (we advertise ``fixed_push_mkdir``); answer
  OKAY, or FAIL + message after draining to DONE, which also ends the session.
- RECV path → DATA chunks (≤ 64 KiB, the client's buffer) → DONE, or ``FAIL open failed: ...``.
- QUIT ends the session; adbutils just closes the stream, which ends it too.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from collections.abc import Callable, Iterable
from typing import BinaryIO

from farm.sim.faults import Faults
from farm.sim.sandbox import Sandbox
from farm.sim.stream import Stream, StreamClosed
from farm.sim.transfers import TransferLog

REQUEST = struct.Struct("<4sI")
STAT_V1 = struct.Struct("<4sIII")
STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
DENT_V1 = struct.Struct("<4sIIII")
DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")
DATA_MAX = 64 * 1024  # SYNC_DATA_MAX: adb's pull buffer; larger DATA chunks are rejected
PATH_MAX = 1024  # adbd refuses longer request paths


class SyncSession:
    """One ``sync:`` stream: requests until QUIT, a failure, or the host closing it."""

    def __init__(
        self, stream: Stream, sandbox: Sandbox, faults: Faults, transfers: TransferLog
    ) -> None:
        self._stream, self._sandbox = stream, sandbox
        self._faults, self._transfers = faults, transfers
        self._handlers: dict[bytes, Callable[[bytes, str], bool]] = {
            b"STAT": self._stat_v1,
            b"STA2": self._stat_v2,
            b"LST2": self._stat_v2,
            b"LIST": self._list,
            b"LIS2": self._list,
            b"SEND": self._send,
            b"RECV": self._recv,
        }

    def serve(self) -> None:
        with contextlib.suppress(StreamClosed):
            while self._one_request():
                pass

    def _one_request(self) -> bool:
        request, length = REQUEST.unpack(self._stream.read_exactly(REQUEST.size))
        if request == b"QUIT":
            return False
        if length > PATH_MAX:
            return self._fail("path too long")
        path = self._stream.read_exactly(length).decode("utf-8", "surrogateescape")
        handler = self._handlers.get(request)
        if handler is None:
            return self._fail(f"unknown command {request.decode('ascii', 'replace')!r}")
        return handler(request, path)

    # -- stat and list ------------------------------------------------------------------------

    def _stat_v1(self, request: bytes, path: str) -> bool:
        try:
            info = os.lstat(self._sandbox.host_path(path))
        except OSError:
            self._stream.write(STAT_V1.pack(b"STAT", 0, 0, 0))
            return True
        fields = (info.st_mode, info.st_size & 0xFFFFFFFF, _u32_time(info.st_mtime))
        self._stream.write(STAT_V1.pack(b"STAT", *fields))
        return True

    def _stat_v2(self, request: bytes, path: str) -> bool:
        host_path = self._sandbox.host_path(path)
        try:
            info = os.stat(host_path) if request == b"STA2" else os.lstat(host_path)
        except OSError as exc:
            self._stream.write(STAT_V2.pack(request, exc.errno or 0, *([0] * 10)))
            return True
        self._stream.write(STAT_V2.pack(request, 0, *_v2_fields(info)))
        return True

    def _list(self, request: bytes, path: str) -> bool:
        v2 = request == b"LIS2"
        folder = self._sandbox.host_path(path)
        try:
            names = [".", "..", *sorted(os.listdir(folder))]
        except OSError:
            names = []  # adbd answers an unreadable or missing folder with just DONE
        records = [_dent(folder, name, v2) for name in names]
        done = DENT_V2.size if v2 else DENT_V1.size
        self._write_records([r for r in records if r] + [b"DONE" + bytes(done - 4)])
        return True

    def _write_records(self, records: Iterable[bytes]) -> None:
        # Whole records per WRTE: adbutils reads a DENT with a bare recv(16).
        batch = bytearray()
        for record in records:
            if batch and len(batch) + len(record) > self._stream.max_payload:
                self._stream.write(bytes(batch))
                batch.clear()
            batch += record
        self._stream.write(bytes(batch))

    # -- push and pull ------------------------------------------------------------------------

    def _send(self, request: bytes, spec: str) -> bool:
        path, _, mode_text = spec.rpartition(",")
        path, mode = (path, parse_mode(mode_text)) if path else (spec, 0o644)
        failure = self._faults.take_push_failure()
        file = None
        if failure is None:
            file, failure = _create(self._sandbox, path, mode)
        received = self._receive(file)
        if failure is not None:
            return self._fail(failure)
        if received is None:
            return self._fail("invalid data message: expected DATA or DONE")
        self._transfers.record("SEND", path, received)
        self._stream.write(REQUEST.pack(b"OKAY", 0))
        return True

    def _receive(self, file: _Upload | None) -> int | None:
        """Read DATA chunks up to DONE into ``file`` (or drain them); bytes received."""
        received = 0
        try:
            while True:
                kind, length = REQUEST.unpack(self._stream.read_exactly(REQUEST.size))
                if kind == b"DONE":  # its length field holds the mtime
                    if file is not None:
                        file.finish(length)
                    return received
                if kind != b"DATA":
                    return None
                data = self._stream.read_exactly(length)
                if file is not None:
                    file.write(data)
                received += len(data)
        finally:
            if file is not None:
                file.close()

    def _recv(self, request: bytes, path: str) -> bool:
        try:
            file = open(self._sandbox.host_path(path), "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            return self._fail(f"open failed: {exc.strerror}")
        sent = 0
        with file:
            while block := file.read(3 * DATA_MAX):
                chunks = (block[i : i + DATA_MAX] for i in range(0, len(block), DATA_MAX))
                self._stream.write(b"".join(REQUEST.pack(b"DATA", len(c)) + c for c in chunks))
                sent += len(block)
        self._stream.write(REQUEST.pack(b"DONE", 0))
        self._transfers.record("RECV", path, sent)
        return True

    def _fail(self, message: str) -> bool:
        """Send FAIL + message; the session ends after a failure, as in adbd."""
        encoded = message.encode()
        self._stream.write(REQUEST.pack(b"FAIL", len(encoded)) + encoded)
        return False


class _Upload:
    """A file being pushed: a regular file written in place, or a symlink made at DONE."""

    def __init__(self, host_path: str, mode: int) -> None:
        self.host_path, self.mode = host_path, mode
        self._link = stat.S_ISLNK(mode)
        self._target = bytearray()
        self._file: BinaryIO | None = None if self._link else open(host_path, "wb")  # noqa: SIM115

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._target += data
        else:
            self._file.write(data)

    def finish(self, mtime: int) -> None:
        if self._link:
            os.symlink(self._target.decode(), self.host_path)
            return
        assert self._file is not None
        self._file.close()
        os.chmod(self.host_path, stat.S_IMODE(self.mode) & 0o777)
        if mtime:
            os.utime(self.host_path, (mtime, mtime))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _create(sandbox: Sandbox, path: str, mode: int) -> tuple[_Upload | None, str | None]:
    """Open the upload (parents created, an old file replaced) or say why not."""
    target = sandbox.host_path(path)
    try:
        if target.is_dir() and not target.is_symlink():
            return None, "couldn't create file: Is a directory"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        return _Upload(str(target), mode), None
    except OSError as exc:
        return None, f"couldn't create file: {exc.strerror}"


def parse_mode(text: str) -> int:
    """Like C ``strtoul(text, nullptr, 0)``: 0x.. hex, 0.. octal, else decimal; junk is 0."""
    text = text.strip()
    base = 16 if text[:2].lower() == "0x" else 8 if text.startswith("0") else 10
    digits = text[2:] if base == 16 else text
    valid = "0123456789abcdef"[:base]
    prefix = ""
    for char in digits.lower():
        if char not in valid:
            break
        prefix += char
    return int(prefix, base) if prefix else 0


def _dent(folder: os.PathLike[str] | str, name: str, v2: bool) -> bytes | None:
    try:
        info = os.lstat(os.path.join(folder, name))
    except OSError:
        return None  # vanished between listdir and lstat
    encoded = name.encode("utf-8", "surrogateescape")
    if v2:
        return DENT_V2.pack(b"DNT2", 0, *_v2_fields(info), len(encoded)) + encoded
    fields = (info.st_mode, info.st_size & 0xFFFFFFFF, _u32_time(info.st_mtime), len(encoded))
    return DENT_V1.pack(b"DENT", *fields) + encoded


def _v2_fields(info: os.stat_result) -> tuple[int, ...]:
    return (
        info.st_dev,
        info.st_ino,
        info.st_mode,
        info.st_nlink,
        info.st_uid,
        info.st_gid,
        info.st_size,
        int(info.st_atime),
        int(info.st_mtime),
        int(info.st_ctime),
    )


def _u32_time(seconds: float) -> int:
    return max(0, int(seconds)) & 0xFFFFFFFF
