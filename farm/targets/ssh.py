"""Linux boards over SSH, through the OpenSSH client itself.

Why the `ssh` binary and not paramiko/asyncssh: users' boards are already set up for OpenSSH
(``~/.ssh/config`` aliases, ProxyJump, agents, hardware keys, known_hosts with hashed names), and
the client honours all of it exactly; a connection is reused across cells through ControlMaster.
Host keys are always checked (StrictHostKeyChecking=yes) unless devices.yaml opts out per device.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from farm.errors import DeviceUnavailable, HostKeyError, TargetError, TargetTimeout
from farm.targets.base import CommandResult
from farm.targets.parent_death import dying_with_this_process

DEFAULT_WORKDIR = "/tmp/farm"
SSH_FAILED = 255  # ssh's own exit status when the connection (not the command) failed
KILLED_BY_TIMEOUT = 137  # 128 + SIGKILL, from `timeout -s KILL`
HOST_GRACE_S = 15.0
# What a cell's command runs in on the board, so that it ends when the farm goes. sshd sends a
# command without a tty no signal when the connection drops (only a pty's session leader gets
# SIGHUP, from the kernel); it just closes the command's pipes, and a runner that writes
# nothing until it ends never notices. So its stdin is a pipe the farm holds open while it
# waits: the farm killed (or ssh, or the link) is EOF there, and the watcher kills the command's
# process group (GNU `timeout` leads its own: setpgid in timeout.c; busybox `timeout` execs the
# command, which then is $c itself). `wait` then gives the command's status, so one killed by
# a signal exits 128+N instead of making ssh exit 255 like a broken connection.
TIED = (
    'exec 3<&0 </dev/null; "$@" & c=$!; '
    "{ while read -r _ <&3; do :; done; "
    'kill -s KILL -- -"$c" || kill -s KILL "$c"; } >/dev/null 2>&1 & w=$!; '
    'exec 3<&-; wait "$c"; s=$?; kill "$w" 2>/dev/null; exit "$s"'
)
DESCRIBE_SCRIPT = Path(__file__).with_name("describe_linux.sh")


class SshTarget:
    """One board reached with `ssh` (connection shared across cells by a ControlMaster)."""

    def __init__(
        self,
        name: str,
        host: str,
        *,
        port: int = 22,
        user: str | None = None,
        identity_file: str | None = None,
        known_hosts: str | None = None,
        check_host_key: bool = True,
        workdir: str | None = None,
        python: str = "python3",
    ) -> None:
        self.name, self.host, self.python = name, host, python
        self.workdir = workdir or DEFAULT_WORKDIR
        self._control = tempfile.mkdtemp(prefix="farm-ssh-")
        self._argv = [
            "ssh",
            *_options(port, user, identity_file, known_hosts, check_host_key),
            "-o",
            f"ControlPath={self._control}/%C",
            host,
        ]
        try:
            self._ssh("true", timeout_s=30)
        except TargetError:
            shutil.rmtree(self._control, ignore_errors=True)
            raise

    def run(self, argv: list[str], timeout_s: float) -> CommandResult:
        # `timeout` on the board kills the runner itself; ours only backstops a dead link.
        # TIED keeps the command alive only while the farm holds the pipe on its stdin.
        command = shlex.join(["sh", "-c", TIED, "sh", "timeout", "-s", "KILL", f"{timeout_s:g}"])
        command += " " + shlex.join(argv)
        read_end, held = os.pipe()
        start = time.perf_counter()
        try:
            proc = self._ssh(command, timeout_s + HOST_GRACE_S, argv=argv, stdin=read_end)
        finally:
            os.close(held)  # the board's command reads EOF: nothing of it is left running
            os.close(read_end)
        wall = time.perf_counter() - start
        if proc.returncode == KILLED_BY_TIMEOUT and wall >= timeout_s:
            raise TargetTimeout(self.name, argv, timeout_s)
        return CommandResult(
            tuple(argv), proc.returncode, _text(proc.stdout), _text(proc.stderr), wall
        )

    def push(self, local: str, remote: str) -> None:
        with open(local, "rb") as data:
            proc = self._ssh(f"cat > {shlex.quote(remote)}", timeout_s=600, stdin=data)
        if proc.returncode != 0:
            raise TargetError(self.name, f"cannot write {remote}: {_text(proc.stderr).strip()}")

    def pull(self, remote: str, local: str) -> None:
        proc = self._ssh(f"cat {shlex.quote(remote)}", timeout_s=600)
        if proc.returncode != 0:
            raise TargetError(self.name, f"cannot read {remote}: {_text(proc.stderr).strip()}")
        Path(local).write_bytes(proc.stdout)

    def describe(self) -> dict[str, Any]:
        script = f"sh -s {shlex.quote(self.python)}"
        with open(DESCRIBE_SCRIPT, "rb") as stdin:
            proc = self._ssh(script, timeout_s=60, stdin=stdin)
        facts = dict(line.split("=", 1) for line in _text(proc.stdout).splitlines() if "=" in line)
        return {"transport": "ssh", "host": self.host, **{k: v or None for k, v in facts.items()}}

    def close(self) -> None:
        subprocess.run(
            [*self._argv[:-1], "-O", "exit", self.host],
            capture_output=True,
            timeout=30,
            check=False,
        )
        shutil.rmtree(self._control, ignore_errors=True)

    def _ssh(
        self,
        command: str,
        timeout_s: float,
        argv: list[str] | None = None,
        stdin: Any = subprocess.DEVNULL,
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            proc = subprocess.run(
                [*self._argv, command],
                stdin=stdin,
                capture_output=True,
                timeout=timeout_s,
                check=False,
                # A terminal's Ctrl-C is the farm's to handle (the first lets the cell end);
                # and the client dies with the farm, which closes the session on the board.
                start_new_session=True,
                preexec_fn=dying_with_this_process(),
            )
        except subprocess.TimeoutExpired as exc:
            raise TargetTimeout(self.name, argv or [command], timeout_s) from exc
        except OSError as exc:
            raise TargetError(self.name, f"cannot start ssh: {exc.strerror}") from exc
        if proc.returncode == SSH_FAILED:
            raise _connection_error(self.name, self.host, _text(proc.stderr))
        return proc


def _options(
    port: int, user: str | None, identity: str | None, known_hosts: str | None, check_host_key: bool
) -> list[str]:
    options = {
        "BatchMode": "yes",
        "ControlMaster": "auto",
        "ControlPersist": "120",
        "ConnectTimeout": "15",
        "ServerAliveInterval": "5",
        "ServerAliveCountMax": "3",
        "StrictHostKeyChecking": "yes" if check_host_key else "no",
    }
    if known_hosts:
        options["UserKnownHostsFile"] = os.path.expanduser(known_hosts)
    if identity:
        options.update(IdentityFile=os.path.expanduser(identity), IdentitiesOnly="yes")
    argv = [part for key, value in options.items() for part in ("-o", f"{key}={value}")]
    return [*argv, "-p", str(port), *(["-l", user] if user else [])]


def _connection_error(name: str, host: str, stderr: str) -> TargetError:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("@")]
    message = " ".join(lines[-2:])[-300:] or "ssh failed"
    if "Host key verification failed" in stderr or "IDENTIFICATION HAS CHANGED" in stderr:
        return HostKeyError(name, f"host key of {host} is unknown or changed: {message}")
    return DeviceUnavailable(name, f"cannot reach {host} over ssh: {message}")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
