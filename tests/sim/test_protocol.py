"""The device side of the protocol against a bare host written from the notes (no adb here):
handshake, unknown services, flow control both ways, byte-stream parsing, CLSE."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.sim import VirtualDevice
from farm.sim.wire import CLSE, OKAY, WRTE, Message

from ..lab import wait_for
from .conftest import require_lab_tool
from .processes import live_group_members, sandboxed_group
from .raw_host import RawHost, shell_packet


@pytest.fixture
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualDevice]:
    require_lab_tool("bwrap")  # the shell's sandbox
    with VirtualDevice("generic_arm64", tmp_path_factory.mktemp("raw")) as device:
        yield device


def test_handshake_answers_with_the_profile_banner(device: VirtualDevice) -> None:
    host = RawHost(device.port)
    assert host.banner.arg0 == 0x01000001 and host.banner.arg1 == 256 * 1024
    assert host.banner.data == (
        b"device::ro.product.name=generic_arm64;ro.product.model=Generic ARM64;"
        b"ro.product.device=generic_arm64;features=shell_v2,stat_v2,ls_v2,fixed_push_mkdir"
    )
    host.close()


def test_an_unknown_service_is_refused_with_clse(device: VirtualDevice) -> None:
    host = RawHost(device.port)
    host.send(Message(0x4E45504F, 7, 0, b"framebuffer:\0"))  # OPEN
    assert host.receive() == Message(CLSE, 0, 7)
    host.close()


def test_the_device_waits_for_okay_and_respects_the_hosts_max_payload(
    device: VirtualDevice,
) -> None:
    host = RawHost(device.port, max_payload=4096, timeout_s=0.5)
    stream = host.open("shell:head -c 100000 /dev/zero")
    first = host.expect(WRTE)
    with pytest.raises(socket.timeout):  # no OKAY from us yet: the device must not send more
        host.receive()
    host.sock.settimeout(10)
    host.send(Message(OKAY, 1, stream))
    rest = host.read_all(1, stream)
    assert len(first.data) <= 4096 and len(first.data + rest) == 100_000
    host.close()


def test_input_split_anywhere_across_writes_is_one_byte_stream(device: VirtualDevice) -> None:
    host = RawHost(device.port)
    stream = host.open("shell,v2,raw:wc -c")
    data = b"".join(shell_packet(0, bytes(1000)) for _ in range(50)) + shell_packet(4, b"")
    for start in range(0, len(data), 777):  # cuts through packet headers
        host.write(1, stream, data[start : start + 777])
    reply = host.read_all(1, stream)
    # stdout "50000\n" (toybox's wc may write it in two packets), then exit status 0.
    assert shell_packets(reply) == [(1, b"50000\n"), (3, b"\0")]
    host.close()


def shell_packets(data: bytes) -> list[tuple[int, bytes]]:
    """The shell v2 packets in ``data``, consecutive ones of the same id joined."""
    packets: list[tuple[int, bytes]] = []
    while data:
        packet_id, length = struct.unpack("<BI", data[:5])
        payload, data = data[5 : 5 + length], data[5 + length :]
        if packets and packets[-1][0] == packet_id:
            packets[-1] = (packet_id, packets[-1][1] + payload)
        else:
            packets.append((packet_id, payload))
    return packets


def test_one_write_may_hold_send_data_and_done(device: VirtualDevice) -> None:
    host = RawHost(device.port)
    stream = host.open("sync:")
    path = b"/data/local/tmp/a/b/c.txt,0644"
    request = b"SEND" + struct.pack("<I", len(path)) + path
    request += (
        b"DATA" + struct.pack("<I", 5) + b"hello" + b"DONE" + struct.pack("<I", 1_700_000_000)
    )
    host.write(1, stream, request)
    assert host.expect(WRTE).data == b"OKAY\0\0\0\0"
    target = device.root / "data/local/tmp/a/b/c.txt"
    assert target.read_bytes() == b"hello"
    assert oct(target.stat().st_mode & 0o777) == "0o644" and target.stat().st_mtime == 1_700_000_000
    host.close()


def test_clse_from_the_host_kills_the_commands_process_group(device: VirtualDevice) -> None:
    host = RawHost(device.port)
    stream = host.open("shell:echo $$; sleep 60 & sleep 60")
    host.expect(WRTE)
    pgid = sandboxed_group("sleep 60")
    # bubblewrap, its pid-1 init, the shell and both sleeps
    wait_for(lambda: len(live_group_members(pgid)) == 5, "the shell and both sleeps", 10)
    host.send(Message(CLSE, 1, stream))
    wait_for(lambda: not live_group_members(pgid), "the closed stream's commands to die", 10)
    host.close()


def test_a_dropped_connection_kills_its_commands(device: VirtualDevice, tmp_path: Path) -> None:
    host = RawHost(device.port)
    host.open("shell:echo $$; sleep 60")
    host.expect(WRTE)
    pgid = sandboxed_group("sleep 60")
    device.drop_connections()
    wait_for(lambda: not live_group_members(pgid), "the dropped connection's command to die", 10)
    assert host.sock.recv(1 << 16) == b""  # the host sees EOF
    host.close()


def sync_request(request: bytes, path: bytes) -> bytes:
    return request + struct.pack("<I", len(path)) + path


def test_sync_v2_stat_list_and_quit(device: VirtualDevice) -> None:
    (device.root / "data/local/tmp/f.bin").write_bytes(b"12345")
    (device.root / "data/local/tmp/link").symlink_to("f.bin")
    host = RawHost(device.port)
    stream = host.open("sync:")
    host.write(1, stream, sync_request(b"STA2", b"/data/local/tmp/missing"))
    missing = struct.unpack("<4sIQQIIIIQqqq", host.expect(WRTE).data)
    assert missing[:2] == (b"STA2", 2) and set(missing[2:]) == {0}  # ENOENT, zeros
    host.send(Message(OKAY, 1, stream))
    host.write(1, stream, sync_request(b"LST2", b"/data/local/tmp/link"))
    link = struct.unpack("<4sIQQIIIIQqqq", host.expect(WRTE).data)
    assert link[0] == b"LST2" and link[4] & 0o170000 == 0o120000  # lstat: the link itself
    host.send(Message(OKAY, 1, stream))
    host.write(1, stream, sync_request(b"LIS2", b"/data/local/tmp"))
    listing = host.expect(WRTE).data
    names, offset = [], 0
    while listing[offset : offset + 4] == b"DNT2":
        size = struct.unpack_from("<I", listing, offset + 72)[0]
        names.append(listing[offset + 76 : offset + 76 + size].decode())
        offset += 76 + size
    assert names == [".", "..", "f.bin", "link"]
    assert listing[offset:] == b"DONE" + bytes(72)  # padded to a whole DNT2 record
    host.send(Message(OKAY, 1, stream))
    host.write(1, stream, b"QUIT\0\0\0\0")
    assert host.read_all(1, stream) == b""  # QUIT ends the session: CLSE
    host.close()


@pytest.mark.parametrize("service", ["sync:", "shell:sleep 60", "shell,v2,raw:cat"])
def test_a_host_clse_is_answered_with_clse_once_as_adbd_does(
    device: VirtualDevice, service: str
) -> None:
    """A client other than adb (e.g. one that pushes through sync, then closes and waits for
    the device's CLSE) must not time out although its bytes arrived."""
    host = RawHost(device.port, timeout_s=5)
    stream = host.open(service)
    if service == "sync:":
        path = b"/data/local/tmp/pushed.txt,0644"
        host.write(1, stream, sync_request(b"SEND", path) + b"DATA" + struct.pack("<I", 2) + b"hi")
        host.write(1, stream, b"DONE" + struct.pack("<I", 1_700_000_000))
        assert host.expect(WRTE).data == b"OKAY\0\0\0\0"
        host.send(Message(OKAY, 1, stream))
    host.send(Message(CLSE, 1, stream))
    assert host.expect(CLSE) == Message(CLSE, stream, 1)
    host.sock.settimeout(1)
    with pytest.raises(socket.timeout):  # nothing more for that stream: one CLSE, not two
        host.receive()
    host.close()
