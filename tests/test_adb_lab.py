"""`farm run` on virtual Android devices through Debian's real adb server (and the host)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice
from farm.spec import MACHINE_ABI, CellResult

from .lab import Devices, model_folder_with, phone_entry, run_lab

pytestmark = pytest.mark.lab
DELEGATES = ["cpu", "xnnpack", "gpu", "nnapi"]


def lab(tmp_path: Path, server: AdbServer, devices: list[VirtualDevice], host: bool) -> Devices:
    lab: Devices = {}
    if host:
        workdir = tmp_path / "host-work"
        lab["host"] = {"transport": "local", "delegates": ["cpu", "xnnpack"], "workdir": workdir}
    for i, d in enumerate(devices):
        lab[f"phone{i}"] = phone_entry(d.serial, server.port, runner="python", delegates=DELEGATES)
    return lab


def test_two_virtual_phones_and_the_host_measure_their_cells(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    frame = run_lab(
        tmp_path,
        lab(tmp_path, adb_server, virtual_devices, host=True),
        model_folder_with(tmp_path, "kws_dscnn_int8"),
    )
    phones = frame[frame.device != "host"]
    ok = phones[phones.status == "ok"]
    assert set(ok.device) == {"phone0", "phone1"} and set(ok.delegate) == {"cpu", "xnnpack"}
    assert (ok.samples_ms.map(len) >= 5).all() and ok.parity_ok.all()
    fingerprint = json.loads(ok.device_fingerprint.iloc[0])
    assert fingerprint["model"] == "Pixel 8" and fingerprint["soc"] == "Tensor G3"
    assert fingerprint["sdk"] == "34" and fingerprint["abi"] == MACHINE_ABI[platform.machine()]
    skipped = phones[phones.status == "skipped"].set_index(["device", "delegate"])
    assert skipped.loc[("phone0", "gpu"), "reason"].startswith("LiteRT GPU accelerator unavailable")
    assert "no nnapi delegate" in skipped.loc[("phone1", "nnapi"), "reason"]
    assert set(frame[frame.device == "host"].status) == {"ok"}


def test_a_second_run_pushes_nothing_unchanged(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    phone = virtual_devices[0]
    devices, folder = (
        lab(tmp_path, adb_server, [phone], host=False),
        model_folder_with(tmp_path, "kws_dscnn_fp32"),
    )
    run_lab(tmp_path, devices, folder, run_dir=tmp_path / "first")
    first = [t for t in phone.transfers if t[0] == "SEND"]
    run_lab(tmp_path, devices, folder, run_dir=tmp_path / "second")
    pushed = [t for t in phone.transfers if t[0] == "SEND"][len(first) :]
    assert len(first) >= 3  # runner, model, inputs
    assert sum(size for _, _, size in pushed) == 0 and pushed == []


def test_a_phone_that_disappears_mid_run_fails_its_remaining_cells_as_infra(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    gone, _ = virtual_devices

    def unplug_after_first_cell(result: CellResult) -> None:
        if result.device == "phone0" and result.status == "ok":
            gone.go_offline_after(0)
            gone.drop_connections()

    frame = run_lab(
        tmp_path,
        lab(tmp_path, adb_server, virtual_devices, host=False),
        model_folder_with(tmp_path, "kws_dscnn_int8", "kws_dscnn_fp32"),
        on_result=unplug_after_first_cell,
    )
    phone0 = frame[frame.device == "phone0"].sort_values("started_at").reset_index()
    unplugged = int(phone0.index[phone0.status == "ok"][0])
    after = phone0.iloc[unplugged + 1 :]
    assert len(after) >= 3 and set(after.status) == {"failed"}
    assert set(after.failure_kind) == {"infra"} and after.reason.str.contains("phone0: ").all()
    assert after.reason.iloc[-1].startswith("quarantined after 2 infra failures")
    phone1 = frame[frame.device == "phone1"]
    assert set(phone1[phone1.delegate.isin(["cpu", "xnnpack"])].status) == {"ok"}
    assert set(phone1[phone1.delegate.isin(["gpu", "nnapi"])].status) == {"skipped"}
