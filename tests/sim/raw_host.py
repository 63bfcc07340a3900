"""A bare-bones ADB host written from the protocol notes, to test the device without adb."""

from __future__ import annotations

import socket
import struct

from farm.sim.wire import CLSE, CNXN, OKAY, OPEN, VERSION, WRTE, Message, pack, read_message


class RawHost:
    """One connection to a virtual device; every read is bounded by ``timeout_s``."""

    def __init__(self, port: int, max_payload: int = 1024 * 1024, timeout_s: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send(Message(CNXN, VERSION, max_payload, b"host::features=shell_v2"))
        self.banner = self.expect(CNXN)

    def send(self, message: Message) -> None:
        self.sock.sendall(pack(message))

    def receive(self) -> Message:
        return read_message(self.sock)

    def expect(self, command: int) -> Message:
        message = self.receive()
        assert message.command == command, f"expected {command:#x}, got {message}"
        return message

    def open(self, service: str, local_id: int = 1) -> int:
        """OPEN a service; the device's stream id (0 when it answered CLSE)."""
        self.send(Message(OPEN, local_id, 0, service.encode() + b"\0"))
        reply = self.receive()
        return reply.arg0 if reply.command == OKAY else 0

    def read_all(self, local_id: int, device_id: int) -> bytes:
        """Everything the stream sends until its CLSE, acknowledging each WRTE."""
        data = bytearray()
        while (message := self.receive()).command != CLSE:
            if message.command == WRTE:
                data += message.data
                self.send(Message(OKAY, local_id, device_id))
        return bytes(data)

    def write(self, local_id: int, device_id: int, data: bytes) -> None:
        """One WRTE, then wait for the device's OKAY (what adb's flow control demands)."""
        self.send(Message(WRTE, local_id, device_id, data))
        while (reply := self.receive()).command != OKAY:
            assert reply.command == WRTE, f"unexpected {reply}"

    def close(self) -> None:
        self.sock.close()


def shell_packet(packet_id: int, data: bytes) -> bytes:
    """A shell v2 packet: [u8 id][u32 LE length][data]."""
    return struct.pack("<BI", packet_id, len(data)) + data
