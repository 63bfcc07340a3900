"""One TCP connection from an adb server: the CNXN handshake and the streams multiplexed on it.

Facts (AOSP adb at platform-tools-29.0.6, see shared/notes/adb-device-protocol.md):
- The host connects and sends CNXN(version, maxdata, "host::features=...") at once; we answer
  CNXN(VERSION, our maxdata, banner) at once, or, with ``adb_keys``, after the AUTH exchange
  (auth.py): until then the host lists us as ``unauthorized`` and may open nothing.
- OPEN(host id, 0, "service\\0") gets OKAY(our id, host id), or CLSE(0, host id) for an unknown
  service. Ids are non-zero. Each service then runs in its own thread on a ``Stream``.
- No WRTE may exceed min(host maxdata, ours): adb 29 silently drops an oversized packet and the
  client hangs.
- CLSE may come from either side; a host CLSE kills the service's processes (``Stream`` hooks)
  and is answered with our CLSE, as adbd closes its side (adb's socket.cpp: handling A_CLSE
  closes the local socket, whose peer, the remote socket, sends A_CLSE back); a client that
  waits for that answer after a sync session would otherwise time out.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable

from farm.sim import auth
from farm.sim.auth import AdbKeys
from farm.sim.faults import Faults
from farm.sim.stream import Stream, StreamClosed
from farm.sim.wire import (
    AUTH,
    CLSE,
    CNXN,
    DEVICE_MAX_PAYLOAD,
    OKAY,
    OPEN,
    VERSION,
    WRTE,
    Message,
    pack,
    read_message,
)

Service = Callable[[Stream], None]
Router = Callable[[str], "Service | None"]
log = logging.getLogger("farm.sim")


class Connection:
    """Serves one adb server connection (``serve`` runs until it closes)."""

    def __init__(
        self,
        sock: socket.socket,
        banner: bytes,
        route: Router,
        faults: Faults,
        adb_keys: AdbKeys | None = None,
    ) -> None:
        self._sock, self._banner, self._route, self._faults = sock, banner, route, faults
        self._adb_keys = adb_keys  # None: no AUTH asked (as with ro.adb.secure=0)
        self._token = b""
        self.max_payload = DEVICE_MAX_PAYLOAD
        self.online = False
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._streams_lock = threading.Lock()
        self._dropped = threading.Event()

    def serve(self) -> None:
        try:
            while not self._dropped.is_set():
                message = read_message(self._sock)
                self._faults.wait_while_stalled(self._dropped)
                self._handle(message)
        except (ConnectionError, OSError) as exc:
            log.debug("connection ended: %s", exc)
        finally:
            self._shutdown()

    def drop(self) -> None:
        """Cut the connection now (a pulled cable): the host sees EOF, services are killed."""
        self._dropped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def send(self, message: Message) -> None:
        """Send one message; OSError once the connection is gone."""
        self._faults.wait_while_stalled(self._dropped)
        if self._dropped.is_set():
            raise ConnectionError("connection dropped")
        with self._send_lock:
            self._sock.sendall(pack(message))

    def _handle(self, message: Message) -> None:
        if message.command == CNXN:
            self._handshake(message)
        elif message.command == AUTH and not self.online:
            self._authenticate(message)
        elif not self.online:
            log.debug("ignored %s before CNXN", message)
        elif message.command == OPEN:
            self._open(message.arg0, message.data.rstrip(b"\0").decode(errors="replace"))
        elif (stream := self._stream(message.arg1)) is None:
            log.debug("ignored %s for an unknown stream", message)
        elif message.command == WRTE:
            stream.deliver(message.data)
        elif message.command == OKAY:
            stream.host_okay()
        elif message.command == CLSE:
            self._forget(stream)
            stream.host_close(answer=True)

    def _handshake(self, message: Message) -> None:
        # The host's arg1 is the most it accepts; ours is what we announce. Use the smaller.
        self.max_payload = min(message.arg1 or DEVICE_MAX_PAYLOAD, DEVICE_MAX_PAYLOAD)
        if self._adb_keys is None:
            self._go_online()
        else:
            self._ask_for_signature()

    def _go_online(self) -> None:
        self.send(Message(CNXN, VERSION, DEVICE_MAX_PAYLOAD, self._banner))
        self.online = True

    def _ask_for_signature(self) -> None:
        self._token = auth.new_token()
        self.send(Message(AUTH, auth.TOKEN, 0, self._token))

    def _authenticate(self, message: Message) -> None:
        assert self._adb_keys is not None
        if message.arg0 == auth.SIGNATURE and self._token:
            if self._adb_keys.verifies(self._token, message.data):
                self._go_online()
            else:
                self._ask_for_signature()  # the host tries its next key
        elif message.arg0 == auth.RSAPUBLICKEY:
            # A public key proves nothing (anyone may read adbkey.pub): only a signature does.
            log.warning("an adb host offered a public key instead of a signature: unauthorized")

    def _open(self, remote_id: int, name: str) -> None:
        service = self._route(name)
        if service is None:
            self.send(Message(CLSE, 0, remote_id))
            return
        stream = Stream(next(self._ids), remote_id, self.send, self.max_payload, self._forget)
        with self._streams_lock:
            self._streams[stream.local_id] = stream
        self.send(Message(OKAY, stream.local_id, remote_id))
        # adbd starts reading the service's output at once: no need to wait for a host OKAY.
        thread_name = f"farm.sim stream {stream.local_id} {name[:40]}"
        threading.Thread(target=_run, args=(service, stream), name=thread_name, daemon=True).start()

    def _stream(self, local_id: int) -> Stream | None:
        with self._streams_lock:
            return self._streams.get(local_id)

    def _forget(self, stream: Stream) -> None:
        with self._streams_lock:
            self._streams.pop(stream.local_id, None)

    def _shutdown(self) -> None:
        self._dropped.set()
        with self._streams_lock:
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.host_close()
        with contextlib.suppress(OSError):
            self._sock.close()


def _run(service: Service, stream: Stream) -> None:
    try:
        service(stream)
    except (StreamClosed, OSError) as exc:
        log.debug("stream %d ended: %s", stream.local_id, exc)
    except Exception:
        log.exception("service on stream %d failed", stream.local_id)
    finally:
        stream.close()
