"""ADB wire format: a 24-byte header of six little-endian u32 (command, arg0, arg1, data length,
data check, magic = command ^ 0xffffffff), then the payload.

Source: AOSP system/core/adb/protocol.txt and adb.h at platform-tools-29.0.6 (Debian's adb),
summarised in shared/notes/adb-device-protocol.md.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

HEADER = struct.Struct("<6I")
CNXN, OPEN, OKAY = 0x4E584E43, 0x4E45504F, 0x59414B4F
WRTE, CLSE, AUTH = 0x45545257, 0x45534C43, 0x48545541
NAMES = {CNXN: "CNXN", OPEN: "OPEN", OKAY: "OKAY", WRTE: "WRTE", CLSE: "CLSE", AUTH: "AUTH"}
# A_VERSION since 2017 ("skip checksum"); hosts that old still verify data_check, so we send it.
VERSION = 0x01000001
# What we announce in CNXN arg1. adb 29 hosts offer 1 MiB; 256 KiB is what adbd used for years.
DEVICE_MAX_PAYLOAD = 256 * 1024
# The host never legitimately sends more than its own MAX_PAYLOAD (1 MiB in adb 29 and 36).
HOST_MAX_PAYLOAD = 1024 * 1024


@dataclass(frozen=True)
class Message:
    """One ADB message; ``data`` is the payload (its length and check are computed on pack)."""

    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    def __str__(self) -> str:
        name = NAMES.get(self.command, hex(self.command))
        return f"{name}({self.arg0:#x}, {self.arg1:#x}, {len(self.data)} bytes)"


def checksum(data: bytes) -> int:
    """data_check: the plain byte sum of the payload (not a CRC)."""
    return sum(data) & 0xFFFFFFFF


def pack(message: Message) -> bytes:
    """Header + payload, ready for ``sendall``."""
    data = message.data
    fields = (message.command, message.arg0, message.arg1, len(data), checksum(data))
    return HEADER.pack(*fields, message.command ^ 0xFFFFFFFF) + data


def unpack_header(header: bytes) -> tuple[int, int, int, int]:
    """(command, arg0, arg1, data length); ConnectionError on a bad magic, as adbd drops those."""
    command, arg0, arg1, length, _check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ConnectionError(f"bad magic {magic:#x} for command {command:#x}")
    if length > HOST_MAX_PAYLOAD:
        raise ConnectionError(f"payload of {length} bytes is over the {HOST_MAX_PAYLOAD} limit")
    return command, arg0, arg1, length


def read_message(sock: socket.socket) -> Message:
    """The next message; ConnectionError when the peer closed or sent garbage."""
    command, arg0, arg1, length = unpack_header(_read_exactly(sock, HEADER.size))
    return Message(command, arg0, arg1, _read_exactly(sock, length))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            raise ConnectionError("the host closed the connection")
        buffer += chunk
    return bytes(buffer)
