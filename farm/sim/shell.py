"""The shell services, run by the device's shell (mksh, or the host's /bin/sh: userland.py)
inside the sandbox (sandbox.py).

- ``shell:<cmd>`` (v1) and ``exec:<cmd>``: one raw byte stream each way. Output is stdout and
  stderr interleaved (adbd binds both to one socket when there is no shell protocol:
  subprocess.cpp, ``SubprocessProtocol::kNone``); no exit code; the stream closes at exit.
- ``shell,v2,<args>:<cmd>``: packets ``[u8 id][u32 LE length][data]`` both ways (AOSP
  shell_protocol.h): 0 stdin, 1 stdout, 2 stderr, 3 exit (one byte), 4 close-stdin, 5 window
  size. The adb CLI sends close-stdin as soon as its own stdin ends.
- An empty command is an interactive shell; ``pty`` is accepted but runs without a terminal.

Each command runs in its own session, so a CLSE from the host (or a dropped connection) can
kill its whole process group, as adbd does when the socket goes away.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from farm.sim.sandbox import Sandbox
from farm.sim.stream import Stream, StreamClosed

STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN, WINDOW_SIZE = range(6)
PACKET = struct.Struct("<BI")
READ_SIZE = 64 * 1024


KEPT_OUTPUT = 8192  # bytes of each command's output the shell log keeps


@dataclass(frozen=True)
class ShellRecord:
    """One command the device ran: what the host sent, its exit status, the start of its
    output (stdout and stderr together). Tests read these to see what a phone was asked."""

    command: str
    returncode: int
    output: bytes


@dataclass(frozen=True)
class ShellRequest:
    """A parsed shell service name."""

    command: str
    v2: bool


def parse_service(name: str) -> ShellRequest | None:
    """``shell:``, ``shell,v2,raw:`` or ``exec:`` → a request; anything else → None."""
    head, colon, command = name.partition(":")
    if not colon:
        return None
    kind, *args = head.split(",")
    if kind == "exec" and not args:
        return ShellRequest(command, v2=False)
    if kind == "shell":
        return ShellRequest(command, v2="v2" in args)
    return None


def serve(
    sandbox: Sandbox,
    request: ShellRequest,
    stream: Stream,
    log: Callable[[ShellRecord], None] | None = None,
) -> None:
    """Run the command until it exits or the host closes the stream; ``log`` gets its record."""
    proc = _start(sandbox, request)
    stream.on_host_close(lambda: kill_group(proc))
    kept = bytearray()
    try:
        if request.v2:
            _serve_v2(proc, stream, kept)
        else:
            _serve_raw(proc, stream, kept)
    except BaseException:
        kill_group(proc)  # the stream is gone: leave nothing of the command running
        raise
    finally:
        status = proc.wait()
        if log is not None:
            log(ShellRecord(request.command, _exit_code(status), bytes(kept)))


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command's process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start(sandbox: Sandbox, request: ShellRequest) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        sandbox.shell_argv(request.command),
        executable=sandbox.shell,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if request.v2 else subprocess.STDOUT,
        cwd=sandbox.root,
        env=sandbox.environment(),
        start_new_session=True,
    )


def _exit_code(status: int) -> int:
    # A command killed by signal N exits 128+N, as the shell reports it.
    return status if status >= 0 else 128 - status


def _keep(kept: bytearray, chunk: bytes) -> None:
    kept += chunk[: max(0, KEPT_OUTPUT - len(kept))]


def _serve_raw(proc: subprocess.Popen[bytes], stream: Stream, kept: bytearray) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    _background(_copy_raw_stdin, stream, proc.stdin)
    for chunk in _chunks_of(proc.stdout):
        _keep(kept, chunk)
        stream.write(chunk)


def _copy_raw_stdin(stream: Stream, stdin: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        while data := stream.read_some():
            stdin.write(data)
            stdin.flush()
    with contextlib.suppress(OSError):
        stdin.close()


def _serve_v2(proc: subprocess.Popen[bytes], stream: Stream, kept: bytearray) -> None:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    _background(_copy_v2_stdin, stream, proc.stdin)
    stderr = _background(_copy_output, stream, proc.stderr, STDERR, kept)
    _copy_output(stream, proc.stdout, STDOUT, kept)
    stderr.join()
    code = _exit_code(proc.wait())
    stream.write(PACKET.pack(EXIT, 1) + bytes([code & 0xFF]))


def _copy_output(stream: Stream, pipe: IO[bytes], packet_id: int, kept: bytearray) -> None:
    # Each packet is one write, so stdout and stderr packets never interleave mid-packet.
    with contextlib.suppress(StreamClosed):
        for chunk in _chunks_of(pipe):
            _keep(kept, chunk)
            stream.write(PACKET.pack(packet_id, len(chunk)) + chunk)


def _copy_v2_stdin(stream: Stream, stdin: IO[bytes]) -> None:
    with contextlib.suppress(StreamClosed):
        while True:
            packet_id, length = PACKET.unpack(stream.read_exactly(PACKET.size))
            data = stream.read_exactly(length)
            if packet_id == STDIN and not stdin.closed:
                with contextlib.suppress(OSError, ValueError):
                    stdin.write(data)
                    stdin.flush()
            elif packet_id == CLOSE_STDIN:
                with contextlib.suppress(OSError):
                    stdin.close()
            # Keep reading after close-stdin: the host may still send window-size packets,
            # and an unread WRTE would never be acknowledged.
    with contextlib.suppress(OSError):
        stdin.close()


def _chunks_of(pipe: IO[bytes]) -> Iterator[bytes]:
    """What a pipe yields, as it arrives (os.read does not wait for a full buffer)."""
    fd = pipe.fileno()
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except OSError:
            return
        if not chunk:
            return
        yield chunk


def _background(target: Callable[..., object], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread
