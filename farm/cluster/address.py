"""The Ray head's address, checked before anything waits on it (no Ray import here)."""

from __future__ import annotations

import socket

from farm.errors import ConfigError

CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str | None) -> None:
    """Raise OSError (ValueError for a malformed one) unless the head's port answers within
    CONNECT_TIMEOUT_S: Ray's own connect retries an unreachable head for minutes. None and
    "auto" (a cluster on this host, found by Ray) are left to Ray."""
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not HOST:PORT")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
        pass


def ray_missing(option: str) -> ConfigError:
    """The one error for a Ray command or option without the optional extra (exit 2)."""
    return ConfigError(
        "command line", option, "Ray is not installed", "pip install 'tflite-farm[ray]'"
    )


def unreachable(address: str | None, cause: Exception) -> ConfigError:
    """The one error for a head that cannot be reached or refuses this host (exit 2)."""
    return ConfigError(
        "command line",
        "--address",
        f"cannot reach the Ray cluster at {address or 'auto'}: {cause}",
        "is the head up (`ray start --head`), and RAY_AUTH_MODE=token set here with the "
        "head's token (~/.ray/auth_token or RAY_AUTH_TOKEN)?",
    )
