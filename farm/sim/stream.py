"""One ADB stream as a service sees it: a byte stream in, flow-controlled writes out.

Flow control (AOSP adb protocol.txt, "READY"): the host sends its next WRTE only after our OKAY
for the previous one, and we send our next WRTE only after the host's OKAY for ours. Here the
OKAY for a host WRTE goes out when the service *takes* the bytes, so a slow service pushes back
on the host like adbd's socket does. WRTE boundaries mean nothing: the adb server merges and
splits a client's bytes freely, so services read a byte stream (``read_exactly``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator

from farm.sim.wire import CLSE, OKAY, WRTE, Message

# How long ``close`` waits for the host's OKAY of our last WRTE before sending CLSE.
LAST_OKAY_WAIT_S = 5.0
log = logging.getLogger("farm.sim")


class StreamClosed(Exception):
    """The host closed the stream, or the connection under it went away."""


class Stream:
    """A service's end of one stream (``local_id`` is ours, ``remote_id`` the host's)."""

    def __init__(
        self,
        local_id: int,
        remote_id: int,
        send: Callable[[Message], None],
        max_payload: int,
        forget: Callable[[Stream], None] = lambda stream: None,
    ) -> None:
        self.local_id, self.remote_id, self.max_payload = local_id, remote_id, max_payload
        self._send, self._forget = send, forget
        self._incoming: queue.Queue[bytes | None] = queue.Queue()
        self._buffer = bytearray()
        self._state = threading.Condition()
        self._awaiting_okay = False
        self._host_closed = False
        self._closed = False
        self._clse_sent = False
        self._write_lock = threading.Lock()
        self._on_host_close: list[Callable[[], None]] = []

    # -- the connection's side ---------------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        """A WRTE from the host (acknowledged once the service reads it)."""
        self._incoming.put(data)

    def host_okay(self) -> None:
        with self._state:
            self._awaiting_okay = False
            self._state.notify_all()

    def host_close(self, answer: bool = False) -> None:
        """The host sent CLSE (``answer``: adbd closes its side too, CLSE back unless it sent
        one already), or the connection died: wake everyone, run the close hooks."""
        with self._state:
            if self._host_closed:
                return
            self._host_closed = True
            self._state.notify_all()
        if answer:
            self._send_clse()
        self._incoming.put(None)
        for callback in self._on_host_close:
            callback()

    # -- the service's side ------------------------------------------------------------------

    def on_host_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the host closes the stream (e.g. kill the command)."""
        self._on_host_close.append(callback)
        if self._host_closed:
            callback()

    def read_some(self) -> bytes:
        """The next bytes the host wrote; b"" once it closed the stream."""
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        chunk = self._incoming.get()
        if chunk is None:
            self._incoming.put(None)  # every later read sees the end too
            return b""
        self._acknowledge()
        return chunk

    def read_exactly(self, size: int) -> bytes:
        """Exactly ``size`` bytes; StreamClosed if the stream ends first."""
        while len(self._buffer) < size:
            chunk = self._incoming.get()
            if chunk is None:
                self._incoming.put(None)
                raise StreamClosed(f"stream ended {size - len(self._buffer)} bytes short")
            self._acknowledge()
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data: bytes) -> None:
        """Send ``data`` (split to the negotiated max payload), honouring the host's OKAYs.

        One call is atomic with respect to other threads writing to the same stream.
        """
        with self._write_lock:
            for chunk in _chunks(data, self.max_payload):
                self._wait_for_okay()
                try:
                    self._send(Message(WRTE, self.local_id, self.remote_id, chunk))
                except OSError as exc:
                    raise StreamClosed("the connection went away") from exc

    def close(self) -> None:
        """The service is done: let the host take our last bytes, then CLSE (once)."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            self._state.wait_for(
                lambda: not self._awaiting_okay or self._host_closed, LAST_OKAY_WAIT_S
            )
        self._send_clse()
        self._incoming.put(None)
        self._forget(self)

    def _send_clse(self) -> None:
        """Our CLSE, at most once per stream (whichever side closed first)."""
        with self._state:
            if self._clse_sent:
                return
            self._clse_sent = True
        with contextlib.suppress(OSError):
            self._send(Message(CLSE, self.local_id, self.remote_id))

    @property
    def closed(self) -> bool:
        return self._closed or self._host_closed

    def _wait_for_okay(self) -> None:
        with self._state:
            while self._awaiting_okay and not self._host_closed:
                self._state.wait()
            if self._host_closed or self._closed:
                raise StreamClosed("the host closed the stream")
            self._awaiting_okay = True

    def _acknowledge(self) -> None:
        if self.closed:
            return
        try:
            self._send(Message(OKAY, self.local_id, self.remote_id))
        except OSError:
            log.debug("stream %d: OKAY not sent, the connection is gone", self.local_id)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])
