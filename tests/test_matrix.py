"""Expanding the matrix and ordering its cells."""

from __future__ import annotations

import itertools
from collections import Counter

from farm.matrix import expand, order_cells
from farm.spec import Device, DeviceOptions, Model


def device(name: str, delegates: tuple[str, ...], threads: list[int] | None = None) -> Device:
    return Device(name, "local", delegates, options=DeviceOptions(threads=tuple(threads or [1])))


def model(name: str, edgetpu: bool = False) -> Model:
    return Model(name, f"/m/{name}.tflite", "0" * 64, 10, is_edgetpu=edgetpu)


def test_every_declared_combination_is_a_cell() -> None:
    cells, skips = expand([device("host", ("cpu", "xnnpack"), [1, 2])], [model("a"), model("b")])
    assert len(cells) == 8 and not skips
    assert {c.cell_id for c in cells} >= {"host-a-cpu-t1", "host-b-xnnpack-t2"}


def test_a_delegate_a_device_lacks_is_a_skipped_cell_with_the_reason() -> None:
    cells, skips = expand([device("host", ("cpu",))], [model("a")], delegates=["cpu", "gpu"])
    assert [c.delegate for c in cells] == ["cpu"]
    assert skips[0].reason == "host does not list delegate gpu in devices.yaml"


def test_edgetpu_models_pair_only_with_the_edgetpu_delegate() -> None:
    cells, skips = expand(
        [device("coral", ("cpu", "edgetpu"))], [model("plain"), model("m_edgetpu", edgetpu=True)]
    )
    assert {(c.model.name, c.delegate) for c in cells} == {
        ("plain", "cpu"),
        ("m_edgetpu", "edgetpu"),
    }
    reasons = {(s.cell.model.name, s.cell.delegate): s.reason for s in skips}
    assert "runs only on the edgetpu delegate" in reasons[("m_edgetpu", "cpu")]
    assert "only Edge TPU-compiled models" in reasons[("plain", "edgetpu")]


def test_threads_from_the_command_line_replace_the_devices_own() -> None:
    cells, _ = expand([device("host", ("cpu",), [1, 2])], [model("a")], threads=[4])
    assert [c.threads for c in cells] == [4]


def test_shuffled_order_is_reproducible_from_the_seed_and_interleaves_delegates() -> None:
    cells, _ = expand([device("host", ("cpu", "xnnpack"), [1, 2, 3])], [model("a"), model("b")])
    first, again = order_cells(cells, seed=7), order_cells(cells, seed=7)
    assert [c.cell_id for c in first] == [c.cell_id for c in again]
    assert Counter(c.cell_id for c in first) == Counter(c.cell_id for c in cells)
    delegates = [c.delegate for c in first]
    assert all(a != b for a, b in itertools.pairwise(delegates))
    other = order_cells(cells, seed=8)
    assert [c.cell_id for c in other] != [c.cell_id for c in first]


def test_as_listed_keeps_the_expansion_order() -> None:
    cells, _ = expand([device("host", ("cpu", "xnnpack"))], [model("a")])
    assert order_cells(cells, seed=1, order="as-listed") == cells


def test_a_native_device_skips_the_accelerators_only_compiled_model_reaches() -> None:
    phone = Device("phone", "adb", ("cpu", "npu", "litert_cpu", "gpu_fp32"), "benchmark_model")
    model = Model("m", "m.tflite", "0" * 64, 1)
    cells, skips = expand([phone], [model])
    assert [c.delegate for c in cells] == ["cpu", "gpu_fp32"]
    assert {s.cell.delegate: s.reason for s in skips} == {
        "npu": "npu on benchmark_model needs LiteRT's benchmark_model and the SoC's libraries: "
        "set devices.phone.npu_libraries to their folder",
        "litert_cpu": "benchmark_model has no litert_cpu flag: give phone runner: python",
    }


def test_a_native_device_with_its_npu_libraries_runs_npu_cells() -> None:
    options = DeviceOptions(npu_libraries="/lab/qualcomm_sm8650")
    phone = Device("phone", "adb", ("cpu", "npu"), "benchmark_model", options=options)
    cells, skips = expand([phone], [Model("m", "m.tflite", "0" * 64, 1)])
    assert [c.delegate for c in cells] == ["cpu", "npu"] and not skips
