"""The Ray cluster as the farm sees it: connecting, the lab-wide health actor, which host
advertises which device, and the `ray start` line with which a lab host joins."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ray

from farm.cluster.address import check_reachable, unreachable
from farm.cluster.health import LabHealth
from farm.cluster.resources import (
    DEVICE_PREFIX,
    NAMESPACE,
    advertised_devices,
    ray_start_argv,
)
from farm.errors import ConfigError
from farm.spec import Device

HEALTH_ACTOR = "farm-lab-health"
HEAD_NODE = "node:__internal_head__"  # a resource only the head node has
HealthActor = ray.remote(LabHealth)


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[None]:
    """Connected to the cluster at ``address`` (None: RAY_ADDRESS, else a running local one);
    a connection this process already has is used as it is and left open."""
    if ray.is_initialized():
        yield
        return
    try:
        check_reachable(address)
        ray.init(address=address or "auto", namespace=NAMESPACE, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
        raise unreachable(address, exc) from exc
    try:
        yield
    finally:
        ray.shutdown()


def lab_health() -> Any:
    """The lab's one health actor (created by the first driver), on the head node so that it
    lives as long as the cluster, whichever lab host leaves."""
    return HealthActor.options(
        name=HEALTH_ACTOR,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        num_cpus=0,
        resources={HEAD_NODE: 0.001},
    ).remote()


def join_argv(devices: Sequence[Device], address: str) -> list[str]:
    """The `ray start` line for this host; refuses devices another host already advertises
    (exactly one advertiser per device, or two hosts would drive one phone at once)."""
    with connected(address):
        taken = advertised_devices(ray.cluster_resources()) & {d.name for d in devices}
    if taken:
        raise ConfigError(
            "command line",
            "--devices",
            f"already advertised by a host of the cluster at {address}: {', '.join(sorted(taken))}",
            "join with --only for the devices this host alone reaches",
        )
    return ray_start_argv(address, devices)


@dataclass(frozen=True)
class LabStatus:
    """Which live host advertises each device, and the quarantined devices with reasons."""

    hosts: dict[str, str]  # device -> address of the node advertising it
    quarantined: dict[str, str]  # as found, before any release
    released: tuple[str, ...] = ()  # the devices whose quarantine was lifted


def lab_status(release: Sequence[str] = ()) -> LabStatus:
    """Read (on a connected driver) the cluster's devices and quarantines, then lift the
    quarantines of ``release``."""
    hosts = {
        key.removeprefix(DEVICE_PREFIX): str(node.get("NodeManagerAddress"))
        for node in ray.nodes()
        if node.get("Alive")
        for key in node.get("Resources", {})
        if key.startswith(DEVICE_PREFIX)
    }
    health = lab_health()
    quarantined = ray.get(health.status.remote())
    released = tuple(name for name in release if ray.get(health.release.remote(name)))
    return LabStatus(hosts, quarantined, released)
