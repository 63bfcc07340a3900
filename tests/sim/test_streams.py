"""Flow control and multiplexing through the real adb server: a 3 MB output arrives byte for
byte, 16 streams at once stay apart, and a stream the client closes kills its command."""

from __future__ import annotations

import hashlib
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from farm.sim import AdbServer, VirtualDevice

from ..lab import wait_for
from .conftest import AdbCli
from .processes import live_group_members, sandboxed_group

pytestmark = pytest.mark.lab
THREE_MB = 3 * 1024 * 1024
# 3 MiB of bytes that are not all alike, printed by the device's own toybox cat.
MAKE_BLOB = "cat /data/local/tmp/pattern"


def test_3_mb_of_shell_output_arrives_exactly(
    phone: Any, adb: AdbCli, device: VirtualDevice
) -> None:
    expected = bytes(range(256)) * 12288
    assert len(expected) == THREE_MB
    (device.root / "data/local/tmp/pattern").write_bytes(expected)
    assert phone.shell(MAKE_BLOB, encoding=None, rstrip=False, timeout=60) == expected  # v1
    assert adb("exec-out", MAKE_BLOB).stdout == expected
    assert adb("shell", MAKE_BLOB).stdout == expected  # v2 stdout packets


def test_3_mb_pushed_and_pulled_back_exactly(
    phone: Any, device: VirtualDevice, tmp_path: Path
) -> None:
    blob = hashlib.sha256(b"seed").digest() * (THREE_MB // 32)
    phone.sync.push(blob, "/data/local/tmp/blob")
    assert phone.sync.read_bytes("/data/local/tmp/blob") == blob
    assert (
        phone.shell("sha256sum /data/local/tmp/blob").split()[0] == hashlib.sha256(blob).hexdigest()
    )
    assert device.bytes_pushed == THREE_MB


def test_16_concurrent_streams_stay_apart(phone: Any) -> None:
    # Each command waits (bounded) until all 16 are running, so the streams really overlap.
    barrier = (
        "touch /data/local/tmp/bar/{i}; n=0; "
        "while [ $(ls /data/local/tmp/bar | wc -l) -lt 16 ] && [ $n -lt 200 ]; "
        "do sleep 0.05; n=$((n+1)); done; "
        "ls /data/local/tmp/bar | wc -l; yes {i} | head -n 20000"
    )
    phone.shell("mkdir -p /data/local/tmp/bar")

    def run(i: int) -> str:
        return str(phone.shell(barrier.format(i=i), timeout=60))

    with ThreadPoolExecutor(16) as pool:
        outputs = list(pool.map(run, range(16)))
    for i, output in enumerate(outputs):
        seen, *lines = output.splitlines()
        assert seen.strip() == "16", "the 16 streams did not all run at once"
        assert lines == [str(i)] * 20000


def test_closing_the_client_kills_the_command(phone: Any) -> None:
    connection = phone.shell("echo $$; sleep 60 & sleep 60", stream=True)
    connection.conn.recv(64)
    pgid = sandboxed_group("sleep 60")
    # bubblewrap, its pid-1 init, the shell and both sleeps
    wait_for(lambda: len(live_group_members(pgid)) == 5, "the shell and both sleeps", 10)
    connection.close()  # the adb server sends CLSE to the device
    wait_for(lambda: not live_group_members(pgid), "the closed stream's commands to die", 10)


def test_interrupting_adb_shell_kills_the_command(
    adb_server: AdbServer, device: VirtualDevice
) -> None:
    argv = [adb_server.adb_path, "-P", str(adb_server.port), "-s", device.serial, "shell"]
    client = subprocess.Popen(
        [*argv, "echo $$; exec sleep 60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=adb_server.environment(),
    )
    try:
        assert client.stdout is not None
        client.stdout.readline()
        pgid = sandboxed_group("sleep 60")
        client.terminate()  # like Ctrl-C on `adb shell`
        wait_for(lambda: not live_group_members(pgid), "the interrupted command to die", 10)
    finally:
        client.kill()
        client.wait(10)
