"""A virtual phone as strict as adbd: the AUTH exchange against its adb_keys (with Debian's
adb server and with a raw-protocol host), a shell confined to the device root as uid 2000,
a fresh root per lab, and `farm sim up` / `down` leaving no adb server behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from farm.sim import AdbServer, VirtualDevice, free_port, start_virtual_lab
from farm.sim.auth import RSAPUBLICKEY, SIGNATURE, TOKEN, parse_public_key
from farm.sim.virtual_lab import down, stopped_message, up
from farm.sim.wire import AUTH, CNXN, VERSION, Message, pack, read_message

from ..lab import farm, wait_for
from ..native.programs import build_program
from .conftest import AdbCli, require_lab_tool

pytestmark = pytest.mark.lab


def adb_keygen(adb_server: AdbServer, path: Path) -> Path:
    """A new adb key pair (Debian's `adb keygen`); the public key's path."""
    result = adb_server.adb_command("keygen", str(path))
    assert result.returncode == 0, result.stderr
    return path.with_name(path.name + ".pub")


@pytest.fixture
def stranger_key(adb_server: AdbServer, tmp_path: Path) -> Path:
    return adb_keygen(adb_server, tmp_path / "stranger")


def test_the_servers_key_parses_as_its_private_key(adb_server: AdbServer) -> None:
    private = serialization.load_pem_private_key(
        (adb_server.public_key.parent / "adbkey").read_bytes(), password=None
    )
    assert isinstance(private, rsa.RSAPrivateKey)
    key = parse_public_key(adb_server.public_key.read_text())
    assert key.public_numbers() == private.public_key().public_numbers()


def test_a_known_key_gets_a_device_an_unknown_one_stays_unauthorized(
    adb_server: AdbServer, stranger_key: Path, tmp_path: Path
) -> None:
    with (
        VirtualDevice("pixel8", tmp_path / "known", adb_keys=[adb_server.public_key]) as known,
        VirtualDevice("pixel8", tmp_path / "other", adb_keys=[stranger_key]) as other,
    ):
        try:
            adb_server.connect(known.serial)
            adb_server.adb_command("connect", other.serial)
            wait_for(lambda: adb_server.state(other.serial) == "unauthorized", "unauthorized")
            refused = adb_server.adb_command("-s", other.serial, "shell", "echo in")
            assert "unauthorized" in refused.stderr and "in" not in refused.stdout
            assert not other.shell_log
            shown = adb_server.adb_command("-s", known.serial, "shell", "echo in")
            assert shown.stdout == "in\n"
        finally:
            adb_server.disconnect(known.serial)
            adb_server.disconnect(other.serial)


class AuthHost:
    """A raw host that stops at the device's AUTH TOKEN (raw_host.RawHost expects CNXN)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(pack(Message(CNXN, VERSION, 1 << 20, b"host::features=shell_v2")))

    def token(self) -> bytes:
        message = read_message(self.sock)
        assert (message.command, message.arg0) == (AUTH, TOKEN) and len(message.data) == 20
        return message.data

    def send(self, kind: int, data: bytes) -> Message:
        self.sock.sendall(pack(Message(AUTH, kind, 0, data)))
        return read_message(self.sock)


def sign(private: rsa.RSAPrivateKey, token: bytes) -> bytes:
    return private.sign(token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))


@pytest.fixture
def locked(adb_server: AdbServer, tmp_path: Path) -> Iterator[VirtualDevice]:
    with VirtualDevice("pixel8", tmp_path / "p", adb_keys=[adb_server.public_key]) as device:
        yield device


def test_a_raw_host_with_a_wrong_signature_is_refused(
    adb_server: AdbServer, locked: VirtualDevice, stranger_key: Path
) -> None:
    listed = serialization.load_pem_private_key(
        (adb_server.public_key.parent / "adbkey").read_bytes(), password=None
    )
    stranger = serialization.load_pem_private_key(
        stranger_key.with_suffix("").read_bytes(), password=None
    )
    assert isinstance(listed, rsa.RSAPrivateKey) and isinstance(stranger, rsa.RSAPrivateKey)
    host = AuthHost(locked.port)
    first = host.token()
    again = host.send(SIGNATURE, sign(stranger, first))
    assert (again.command, again.arg0) == (AUTH, TOKEN) and again.data != first  # next key?
    stale = host.send(SIGNATURE, sign(listed, first))  # signs the token that was replaced
    assert (stale.command, stale.arg0) == (AUTH, TOKEN)
    host.sock.close()
    host = AuthHost(locked.port)
    assert host.send(SIGNATURE, sign(listed, host.token())).command == CNXN
    host.sock.close()


@pytest.mark.parametrize("whose", ["stranger", "listed"])
def test_a_public_key_without_a_signature_gets_no_answer(
    adb_server: AdbServer, locked: VirtualDevice, stranger_key: Path, whose: str
) -> None:
    """Anyone who can read ~/.android/adbkey.pub could send it: only a signature counts."""
    key = stranger_key if whose == "stranger" else adb_server.public_key
    host = AuthHost(locked.port)
    host.token()
    host.sock.sendall(pack(Message(AUTH, RSAPUBLICKEY, 0, key.read_bytes() + b"\0")))
    host.sock.settimeout(1)
    with pytest.raises(TimeoutError):
        read_message(host.sock)  # a phone would ask its user; nobody says yes
    host.sock.close()


def test_the_shell_sees_only_the_device_root_as_uid_2000(adb: AdbCli, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    shown = adb("shell", f"id -u; cat /etc/hostname; echo x > {outside}; ls /").stdout.decode()
    lines = shown.splitlines()
    assert lines[0] == "2000"
    assert Path("/etc/hostname").read_text().strip() not in shown
    assert not outside.exists()
    assert "home" not in lines and "root" not in lines and "data" in lines


def test_each_lab_gives_a_phone_its_own_profiles_root(tmp_path: Path) -> None:
    require_lab_tool("adb")
    require_lab_tool("bwrap")
    with start_virtual_lab(1, "linux-python", root=tmp_path) as lab:
        assert lab.server.adb_command("shell", "command -v python3").stdout.strip()
        lab.server.adb_command("shell", "touch /data/local/tmp/left-over")
    with start_virtual_lab(1, "pixel8", root=tmp_path) as lab:
        shown = lab.server.adb_command("shell", "command -v python3; ls /data/local/tmp; echo end")
    assert shown.returncode == 0 and shown.stdout == "end\n"  # no python3, no left-over


def test_sim_up_without_a_server_leaves_none_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_lab_tool("adb")
    require_lab_tool("bwrap")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the daemon writes its key there
    port, state_path = free_port(), tmp_path / "state.json"
    state = up(1, "pixel8", tmp_path / "sim", state_path, adb_port=port)
    try:
        assert state.started_daemon and AdbServer(port).devices() == {state.serials[0]: "device"}
    finally:
        stopped = down(state_path)
    assert stopped_message(stopped) == "stopped 1 virtual device"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "an adb daemon was left running"


def test_sim_up_without_bubblewrap_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, output = farm("sim", "up", "--count", "1")
    assert code == 2
    assert "apt-get install bubblewrap" in output and "--insecure" in output


def test_a_host_binary_pushed_to_the_phone_runs_in_its_sandbox(adb: AdbCli, tmp_path: Path) -> None:
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("native ok"); return 0; }\n')
    program = build_program(source, tmp_path)
    assert adb("push", str(program), "/data/local/tmp/hello").returncode == 0
    shown = adb("shell", "chmod 755 /data/local/tmp/hello && /data/local/tmp/hello")
    assert shown.stdout == b"native ok\n", shown.stderr
