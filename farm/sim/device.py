"""A virtual Android device: a TCP listener on 127.0.0.1 that Debian's adb server accepts
(`adb connect 127.0.0.1:PORT`), with shell and sync services over a sandbox root, a transfer
log, and fault hooks for tests.

    device = VirtualDevice("pixel8", tmp_path / "pixel8").start()
    adb_server.connect(device.serial)      # "127.0.0.1:PORT", exactly as `adb devices` prints it
    ...
    device.stop()
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

from farm.sim import shell
from farm.sim.auth import AdbKeys
from farm.sim.faults import Faults
from farm.sim.profile import DeviceProfile, get_profile
from farm.sim.sandbox import Sandbox
from farm.sim.stream import Stream
from farm.sim.sync import SyncSession
from farm.sim.transfers import Transfer, TransferLog
from farm.sim.transport import Connection, Service

ACCEPT_POLL_S = 0.1
STOP_WAIT_S = 5.0


class VirtualDevice:
    """One device; thread-based, so it lives as long as the process that started it."""

    def __init__(
        self,
        profile: DeviceProfile | str,
        root: Path,
        port: int = 0,
        transfer_log: Path | None = None,
        adb_keys: Sequence[Path] | None = None,
        confined: bool = True,
    ) -> None:
        """``adb_keys``: files of public keys the device accepts (AUTH); None asks no AUTH.
        ``confined``: commands see only the device root, as uid 2000 (sandbox.py)."""
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.sandbox = Sandbox(root, self.profile.properties, self.profile.userland, confined)
        self.adb_keys = None if adb_keys is None else AdbKeys(adb_keys)
        self.faults = Faults()
        self.transfer_log = TransferLog(transfer_log)
        self.port = port
        self.shell_log: list[shell.ShellRecord] = []  # every command, in the order they ended
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        self._offline = threading.Event()
        self._stopped = threading.Event()

    @property
    def root(self) -> Path:
        return self.sandbox.root

    @property
    def serial(self) -> str:
        """What `adb devices` prints once connected (``localhost:PORT`` would be another)."""
        return f"127.0.0.1:{self.port}"

    @property
    def transfers(self) -> list[Transfer]:
        """Every push (``SEND``) and pull (``RECV``) so far: (command, device path, bytes)."""
        return self.transfer_log.entries

    @property
    def bytes_pushed(self) -> int:
        return self.transfer_log.bytes_moved("SEND")

    @property
    def bytes_pulled(self) -> int:
        return self.transfer_log.bytes_moved("RECV")

    @property
    def commands(self) -> int:
        """How many services (shell commands, sync sessions) the host has opened."""
        return self.faults.commands

    def start(self) -> VirtualDevice:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(ACCEPT_POLL_S)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(
            target=self._accept, name=f"farm.sim {self.serial}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every connection (their commands are killed)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        self.drop_connections()

    def __enter__(self) -> VirtualDevice:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- fault hooks --------------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Cut every connection now, like a pulled cable; adb may reconnect later."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.drop()

    def stall(self, seconds: float) -> None:
        """Hang: read and write nothing for ``seconds`` (commands already running go on)."""
        self.faults.stall(seconds)

    def fail_next_push(self, message: str) -> None:
        """The next push fails with ``message`` (adb prints it, adbutils raises it)."""
        self.faults.fail_next_push(message)

    def go_offline_after(self, n_commands: int) -> None:
        """Serve ``n_commands`` more services, then vanish: connections dropped, reconnects
        refused, until ``come_back``."""
        self.faults.go_offline_after(n_commands)

    def go_offline(self) -> None:
        """Vanish now."""
        self._offline.set()
        self.drop_connections()

    def come_back(self) -> None:
        """Accept connections again (adb reconnects by itself after a while, or on connect)."""
        self.faults.clear_offline()
        self._offline.clear()

    # -- serving ------------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        with self._listener:
            while not self._stopped.is_set():
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self._serve(sock)

    def _serve(self, sock: socket.socket) -> None:
        if self._offline.is_set():
            sock.close()  # as good as a refused connection
            return
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(
            sock, self.profile.banner(), self._route, self.faults, self.adb_keys
        )
        with self._lock:
            self._connections.append(connection)
        threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection: Connection) -> None:
        connection.serve()
        with self._lock, contextlib.suppress(ValueError):
            self._connections.remove(connection)

    def _route(self, name: str) -> Service | None:
        """The service for an OPEN, or None (the host then gets CLSE: unknown service)."""
        if self.faults.count_command():
            self.go_offline()
            return None
        request = shell.parse_service(name)
        if request is not None:
            return lambda stream: shell.serve(self.sandbox, request, stream, self._log_command)
        if name == "sync:":
            return self._sync
        return None

    def _log_command(self, record: shell.ShellRecord) -> None:
        with self._lock:
            self.shell_log.append(record)

    def _sync(self, stream: Stream) -> None:
        SyncSession(stream, self.sandbox, self.faults, self.transfer_log).serve()
