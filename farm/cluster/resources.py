"""The Ray resources the farm advertises and asks for, and the `ray start` line of a lab host.

``device:<name>`` is one unit per device, advertised by the one lab host that reaches it: a
cell needs that unit, so at most one cell runs on a device at a time, whichever driver sent it.
``farm_host_cpu`` is one unit per lab host: cells of devices that load their host's CPU (the
host itself, virtual devices, emulators) also need it, as the local executor's host-CPU lock
does. A task gets all its resources on one node, so it takes the unit of its device's host.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from farm.spec import Device

DEVICE_PREFIX = "device:"
HOST_CPU = "farm_host_cpu"
NAMESPACE = "tflite-farm"


def device_resource(name: str) -> str:
    return f"{DEVICE_PREFIX}{name}"


def cell_resources(device: Device) -> dict[str, float]:
    """What one cell of ``device`` holds while it runs."""
    needs = {device_resource(device.name): 1.0}
    if device.shares_host_cpu:
        needs[HOST_CPU] = 1.0
    return needs


def host_resources(devices: Iterable[Device]) -> dict[str, float]:
    """What a lab host advertises for the devices it reaches."""
    return {HOST_CPU: 1.0, **{device_resource(d.name): 1.0 for d in devices}}


def advertised_devices(cluster_resources: Mapping[str, float]) -> set[str]:
    """The device names a cluster's resources advertise (``ray.cluster_resources()``)."""
    return {
        key.removeprefix(DEVICE_PREFIX)
        for key, amount in cluster_resources.items()
        if key.startswith(DEVICE_PREFIX) and amount > 0
    }


def unmet(needs: Mapping[str, float], nodes: Sequence[Mapping[str, float]]) -> list[str]:
    """The resources of ``needs`` that keep a task off every node (``[]``: a node has them
    all), as seen from the node closest to taking it: one with the device's unit if any (a
    task takes all its resources on one node). ``nodes``: the alive nodes' total resources."""

    def lacking(node: Mapping[str, float]) -> list[str]:
        return sorted(key for key, amount in needs.items() if node.get(key, 0.0) < amount)

    def rank(missing: list[str]) -> tuple[bool, int]:
        return any(key.startswith(DEVICE_PREFIX) for key in missing), len(missing)

    return min((lacking(node) for node in nodes), key=rank, default=sorted(needs))


def unplaceable(device: str, missing: Sequence[str], address: str) -> str:
    """Why a cell of ``device`` can run on no node, and the command that would let it."""
    join = f"farm lab join --address {address} --only {device}"
    if device_resource(device) in missing:
        return f"no host advertises device {device} (run `{join}` on its host)"
    head = json.dumps({device_resource(device): 1.0, HOST_CPU: 1.0})
    return (
        f"the host advertising device {device} lacks {', '.join(missing)}, which its cells "
        f"need too (a hand-written `ray start --resources`?): restart it with `{join}`, or a "
        f"head with `ray start --head --resources='{head}'`"
    )


def ray_start_argv(address: str, devices: Iterable[Device]) -> list[str]:
    """The command a lab host runs to join the cluster with its devices."""
    resources = json.dumps(host_resources(devices), sort_keys=True)
    return ["ray", "start", f"--address={address}", f"--resources={resources}"]
