"""The Ray resources the farm advertises and asks for, and the `ray start` line of a lab host.

``device:<name>`` is one unit per device, advertised by the one lab host that reaches it: a
cell needs that unit, so at most one cell runs on a device at a time, whichever driver sent it.
``farm_host_cpu`` is one unit per lab host: cells of devices that load their host's CPU (the
host itself, virtual devices, emulators) also need it, as the local executor's host-CPU lock
does. A task gets all its resources on one node, so it takes the unit of its device's host.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

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


def ray_start_argv(address: str, devices: Iterable[Device]) -> list[str]:
    """The command a lab host runs to join the cluster with its devices."""
    resources = json.dumps(host_resources(devices), sort_keys=True)
    return ["ray", "start", f"--address={address}", f"--resources={resources}"]
