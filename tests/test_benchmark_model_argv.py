"""The argv the farm gives `benchmark_model` for one cell."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from farm.runners.benchmark_model import (
    BENCHMARK_MODEL_DELEGATES,
    InputFile,
    build_benchmark_model_argv,
)
from farm.runners.benchmark_model.npu import npu_env

BINARY = "/data/local/tmp/farm/benchmark_model"
MODEL = "/data/local/tmp/farm/models/mobilenet v2 (fp32).tflite"


def argv(delegate: str = "cpu", **options: Any) -> list[str]:
    options.setdefault("threads", 4)
    options.setdefault("runs", 50)
    options.setdefault("warmup", 1)
    return build_benchmark_model_argv(BINARY, MODEL, delegate=delegate, **options)


def flags(delegate: str = "cpu", **options: Any) -> list[str]:
    """The argv less binary, --graph and the run-size flags every cell has."""
    common = {BINARY, f"--graph={MODEL}", "--num_threads=4", "--num_runs=50", "--warmup_runs=1"}
    return [arg for arg in argv(delegate, **options) if arg not in common]


def test_cpu_cell_full_argv() -> None:
    assert argv() == [
        BINARY,
        f"--graph={MODEL}",
        "--use_xnnpack=false",
        "--num_threads=4",
        "--num_runs=50",
        "--warmup_runs=1",
        "--report_peak_memory_footprint=true",
    ]


def test_model_path_with_spaces_survives_shell_quoting() -> None:
    assert shlex.split(shlex.join(argv()))[1] == f"--graph={MODEL}"


def test_supported_delegates() -> None:
    supported = {"cpu", "xnnpack", "gpu", "gpu_fp32", "nnapi", "hexagon", "external", "npu"}
    assert frozenset(supported) == BENCHMARK_MODEL_DELEGATES


@pytest.mark.parametrize(
    ("delegate", "options", "expected"),
    [
        ("cpu", {}, ["--use_xnnpack=false"]),
        ("xnnpack", {}, ["--use_xnnpack=true"]),
        (
            "gpu",
            {},
            ["--use_gpu=true", "--gpu_precision_loss_allowed=false", "--use_xnnpack=false"],
        ),
        (
            "gpu",
            {"gpu_precision_loss_allowed": True},
            ["--use_gpu=true", "--gpu_precision_loss_allowed=true", "--use_xnnpack=false"],
        ),
        (
            "gpu_fp32",
            {"gpu_precision_loss_allowed": True},
            ["--use_gpu=true", "--gpu_precision_loss_allowed=false", "--use_xnnpack=false"],
        ),
        ("nnapi", {}, ["--use_nnapi=true", "--use_xnnpack=false"]),
        (
            "nnapi",
            {"nnapi_accelerator": "qti-dsp"},
            ["--use_nnapi=true", "--nnapi_accelerator_name=qti-dsp", "--use_xnnpack=false"],
        ),
        ("hexagon", {}, ["--use_hexagon=true", "--use_xnnpack=false"]),
        (
            "external",
            {"external_delegate_path": "/usr/lib/libvx_delegate.so"},
            ["--external_delegate_path=/usr/lib/libvx_delegate.so", "--use_xnnpack=false"],
        ),
        (
            "external",
            {
                "external_delegate_path": "libedgetpu.so.1",
                "delegate_options": {"device": "usb", "cache_file_path": "/tmp/vx.cache"},
            },
            [
                "--external_delegate_path=libedgetpu.so.1",
                "--external_delegate_options=device:usb;cache_file_path:/tmp/vx.cache",
                "--use_xnnpack=false",
            ],
        ),
    ],
)
def test_delegate_flags(delegate: str, options: dict[str, Any], expected: list[str]) -> None:
    assert flags(delegate, report_peak_memory=False, **options) == expected


# npu runs LiteRT's benchmark_model, whose CompiledModel falls back to its own CPU accelerator.
@pytest.mark.parametrize("delegate", sorted(BENCHMARK_MODEL_DELEGATES - {"xnnpack", "npu"}))
def test_every_delegate_but_xnnpack_is_compared_to_builtin_kernels(delegate: str) -> None:
    args = argv(delegate, external_delegate_path="/vendor/lib64/libdelegate.so")
    assert args.count("--use_xnnpack=false") == 1
    assert "--use_xnnpack=true" not in args


def test_options_of_other_delegates_are_ignored() -> None:
    device_settings = {
        "nnapi_accelerator": "qti-dsp",
        "external_delegate_path": "/vendor/lib64/libvx_delegate.so",
        "delegate_options": {"device": "0"},
    }
    assert flags("gpu", report_peak_memory=False, **device_settings) == [
        "--use_gpu=true",
        "--gpu_precision_loss_allowed=false",
        "--use_xnnpack=false",
    ]


def test_unknown_delegate_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"'edgetpu'.*cpu, external, gpu, gpu_fp32, hexagon, nnapi"
    ):
        argv("edgetpu")


def test_an_npu_cell_gets_the_litert_tools_npu_flags() -> None:
    """As Qualcomm's guide runs LiteRT's tool: dispatch library and compiler plugin in the
    pushed folder (litert/vendors/qualcomm/doc/HTP_INSTRUCTIONS.md; flag names from
    litert/tools/benchmark_litert_model.h, google-ai-edge/LiteRT f67457790c9c)."""
    folder = "/data/local/tmp/farm/npu/0123456789abcdef0123"
    assert flags("npu", report_peak_memory=False, npu_library_dir=folder) == [
        "--use_npu=true",
        f"--dispatch_library_path={folder}",
        f"--compiler_plugin_library_path={folder}",
    ]


def test_an_npu_cell_without_its_libraries_is_refused() -> None:
    with pytest.raises(ValueError, match="npu_library_dir"):
        argv("npu")


def test_the_npu_folder_leads_the_library_paths_and_keeps_the_users() -> None:
    folder = "/data/local/tmp/farm/npu/abc"
    assert npu_env(folder, {}) == {"LD_LIBRARY_PATH": folder, "ADSP_LIBRARY_PATH": folder}
    mine = {"LD_LIBRARY_PATH": "/vendor/lib64", "ADSP_LIBRARY_PATH": "/vendor/dsp", "X": "1"}
    assert npu_env(folder, mine) == {
        "LD_LIBRARY_PATH": f"{folder}:/vendor/lib64",
        "ADSP_LIBRARY_PATH": f"{folder};/vendor/dsp",  # the DSP loader's separator
        "X": "1",
    }


def test_external_without_a_library_is_refused() -> None:
    with pytest.raises(ValueError, match="external_delegate_path"):
        argv("external")


@pytest.mark.parametrize("options", [{"a:b": "1"}, {"cache": "x;y"}, {"path": "c:/tmp"}])
def test_external_options_the_tool_would_drop_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="':' or ';'"):
        argv("external", external_delegate_path="libx.so", delegate_options=options)


def test_run_size_and_time_bounds() -> None:
    args = argv(threads=1, runs=200, warmup=5, min_secs=0.5, max_secs=30, warmup_min_secs=0)
    assert args[3:9] == [
        "--num_threads=1",
        "--num_runs=200",
        "--warmup_runs=5",
        "--min_secs=0.5",
        "--max_secs=30.0",
        "--warmup_min_secs=0.0",
    ]


def test_reporting_flags() -> None:
    assert "--report_peak_memory_footprint=true" not in argv(report_peak_memory=False)
    assert flags(op_profiling=True) == [
        "--use_xnnpack=false",
        "--report_peak_memory_footprint=true",
        "--enable_op_profiling=true",
    ]


def test_parity_io_flags_name_every_input_with_its_shape_and_double_the_colons() -> None:
    args = flags(
        report_peak_memory=False,
        input_files=[
            InputFile("serving_default_input:0", (1, 49, 10), "/tmp/in0.bin"),
            InputFile("mask", (1,), "/data/a:b/in1.bin"),
        ],
        output_file="/tmp/out.bin",
    )
    assert args == [
        "--use_xnnpack=false",
        "--input_layer=serving_default_input:0,mask",
        "--input_layer_shape=1,49,10:1",
        "--input_layer_value_files=serving_default_input::0:/tmp/in0.bin,mask:/data/a::b/in1.bin",
        "--output_filepath=/tmp/out.bin",
    ]


@pytest.mark.parametrize(
    ("layer", "path"), [("a,b", "/tmp/x"), ("a", "/tmp/x,y"), ("a:", "/tmp/x"), ("a", ":x")]
)
def test_input_files_the_tool_would_misread_are_refused(layer: str, path: str) -> None:
    with pytest.raises(ValueError, match="cannot be passed"):
        argv(input_files=[InputFile(layer, (1,), path)])


def test_extra_flags_come_last_and_cpu_mask_wraps_in_taskset() -> None:
    args = argv(extra_flags=["--use_caching=true", "--verbose=true"], cpu_mask="f0")
    assert args[:3] == ["taskset", "f0", BINARY]
    assert args[-2:] == ["--use_caching=true", "--verbose=true"]


@pytest.mark.parametrize("mask", ["0-3", "f0; reboot", ""])
def test_bad_cpu_mask_is_refused(mask: str) -> None:
    with pytest.raises(ValueError, match="hexadecimal CPU mask"):
        argv(cpu_mask=mask)
