"""The virtual lab: a virtual Android device (the device side of the ADB protocol) and helpers
to run a private adb server, for tests and `farm sim`. Stdlib, plus ``cryptography`` for the
AUTH signatures; the farm itself never imports it (only the CLI and the tests do).

    farm/sim/wire.py        message header, commands, checksum
    farm/sim/stream.py      one stream: byte-stream reads, flow-controlled writes
    farm/sim/transport.py   one adb server connection: CNXN, AUTH, OPEN, WRTE/OKAY, CLSE
    farm/sim/auth.py        AUTH: adb public keys, signature checks against adb_keys
    farm/sim/shell.py       shell: (v1), shell,v2, exec:
    farm/sim/sync.py        sync: STAT/STA2/LST2, LIST/LIS2, SEND, RECV, QUIT
    farm/sim/sandbox.py     device paths under a root; getprop and python3 on PATH
    farm/sim/confine.py     the shell's bubblewrap sandbox: the root as /, uid 2000
    farm/sim/profile.py     device profiles: properties, banner, real delegates
    farm/sim/faults.py      stall, failed push, vanishing device
    farm/sim/transfers.py   the push/pull byte log
    farm/sim/device.py      VirtualDevice: the listener tying it together
    farm/sim/adb_server.py  a private adb server (Debian's adb) by PID
    farm/sim/virtual_lab.py N devices + a server; `farm sim up/down`
"""

from farm.sim.adb_server import AdbServer, free_port
from farm.sim.device import VirtualDevice
from farm.sim.profile import PROFILES, DeviceProfile, get_profile
from farm.sim.virtual_lab import VirtualLab, start_virtual_lab

__all__ = [
    "PROFILES",
    "AdbServer",
    "DeviceProfile",
    "VirtualDevice",
    "VirtualLab",
    "free_port",
    "get_profile",
    "start_virtual_lab",
]
