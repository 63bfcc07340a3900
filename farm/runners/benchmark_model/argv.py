"""The argv of one ``benchmark_model`` run of one cell.

Flag facts come from tensorflow/lite/tools/delegates/*_provider.cc; an ``npu`` cell's from
LiteRT's own benchmark_model (see `npu`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from farm.runners.benchmark_model.npu import npu_flags

BENCHMARK_MODEL_DELEGATES = frozenset(
    {"cpu", "xnnpack", "gpu", "gpu_fp32", "nnapi", "hexagon", "external", "npu"}
)

_CPU_MASK = re.compile(r"(?:0x)?[0-9a-fA-F]+")
_NO_OPTIONS: Mapping[str, str] = {}


@dataclass(frozen=True)
class InputFile:
    """One input tensor's values for the tool: a raw file of exactly the tensor's bytes."""

    layer: str  # the tensor's name ("serving_default_input:0")
    shape: tuple[int, ...]
    path: str


def build_benchmark_model_argv(
    binary: str,
    model_path: str,
    *,
    delegate: str,
    threads: int,
    runs: int,
    warmup: int,
    min_secs: float | None = None,
    max_secs: float | None = None,
    warmup_min_secs: float | None = None,
    delegate_options: Mapping[str, str] = _NO_OPTIONS,
    gpu_precision_loss_allowed: bool = False,
    nnapi_accelerator: str | None = None,
    external_delegate_path: str | None = None,
    npu_library_dir: str | None = None,
    report_peak_memory: bool = True,
    op_profiling: bool = False,
    input_files: Sequence[InputFile] = (),
    output_file: str | None = None,
    extra_flags: Sequence[str] = (),
    cpu_mask: str | None = None,
) -> list[str]:
    """The argv of one ``benchmark_model`` run of one cell; the caller quotes it (shlex.join).

    Options that belong to another delegate (``nnapi_accelerator`` on a gpu cell, say) are
    ignored, so one device's settings can be passed to all its cells. ``input_files``, when
    given, must be every input of the model in its order. Raises ValueError for an unknown
    delegate, an external or npu cell without its libraries, or a value the tool would misread.
    An ``npu`` cell needs LiteRT's benchmark_model and ``npu_library_dir`` on the device.
    """
    delegate_flags = _delegate_flags(
        delegate,
        gpu_precision_loss_allowed=gpu_precision_loss_allowed,
        nnapi_accelerator=nnapi_accelerator,
        external_delegate_path=external_delegate_path,
        delegate_options=delegate_options,
        npu_library_dir=npu_library_dir,
    )
    return [
        *_taskset(cpu_mask),
        binary,
        f"--graph={model_path}",
        *delegate_flags,
        *_run_flags(threads, runs, warmup, min_secs, max_secs),
        *_seconds("warmup_min_secs", warmup_min_secs),
        *_report_flags(report_peak_memory, op_profiling),
        *_io_flags(input_files, output_file),
        *extra_flags,
    ]


def _delegate_flags(
    delegate: str,
    *,
    gpu_precision_loss_allowed: bool,
    nnapi_accelerator: str | None,
    external_delegate_path: str | None,
    delegate_options: Mapping[str, str],
    npu_library_dir: str | None = None,
) -> list[str]:
    if delegate not in BENCHMARK_MODEL_DELEGATES:
        known = ", ".join(sorted(BENCHMARK_MODEL_DELEGATES))
        raise ValueError(f"unknown benchmark_model delegate {delegate!r} (expected one of {known})")
    if delegate == "xnnpack":
        return ["--use_xnnpack=true"]
    if delegate == "npu":
        if not npu_library_dir:
            raise ValueError("delegate 'npu' needs npu_library_dir (its dispatch library's folder)")
        return npu_flags(npu_library_dir)
    # The runtime may apply XNNPACK implicitly whatever the tool's own default is; only an
    # explicit --use_xnnpack=false disables it (xnnpack_delegate_provider.cc). Without it, `cpu`
    # would not be the builtin kernels, and nodes another delegate rejects would fall to
    # XNNPACK instead of the builtin kernels the comparison is made against.
    no_xnnpack = ["--use_xnnpack=false"]
    if delegate in ("gpu", "gpu_fp32"):
        # Passed both ways: on Android the tool's default is true (gpu_delegate_provider.cc).
        allowed = "true" if gpu_precision_loss_allowed and delegate == "gpu" else "false"
        return ["--use_gpu=true", f"--gpu_precision_loss_allowed={allowed}", *no_xnnpack]
    if delegate == "nnapi":
        name = [f"--nnapi_accelerator_name={nnapi_accelerator}"] if nnapi_accelerator else []
        return ["--use_nnapi=true", *name, *no_xnnpack]
    if delegate == "hexagon":
        return ["--use_hexagon=true", *no_xnnpack]
    if delegate == "external":
        return [*_external_flags(external_delegate_path, delegate_options), *no_xnnpack]
    return no_xnnpack  # cpu


def _external_flags(path: str | None, options: Mapping[str, str]) -> list[str]:
    if not path:
        raise ValueError("delegate 'external' needs external_delegate_path (the delegate .so)")
    flags = [f"--external_delegate_path={path}"]
    if options:
        flags.append(f"--external_delegate_options={_external_options(options)}")
    return flags


def _external_options(options: Mapping[str, str]) -> str:
    # The provider splits on ';' then on ':' and silently drops any item that does not split
    # into exactly two parts (external_delegate_provider.cc), so refuse those characters.
    for key, value in options.items():
        if any(sep in f"{key}{value}" for sep in ":;"):
            raise ValueError(
                f"external delegate option {key!r}: {value!r} contains ':' or ';', which "
                "benchmark_model cannot pass through"
            )
    return ";".join(f"{key}:{value}" for key, value in options.items())


def _run_flags(
    threads: int, runs: int, warmup: int, min_secs: float | None, max_secs: float | None
) -> list[str]:
    flags = [f"--num_threads={threads}", f"--num_runs={runs}", f"--warmup_runs={warmup}"]
    return flags + _seconds("min_secs", min_secs) + _seconds("max_secs", max_secs)


def _seconds(flag: str, value: float | None) -> list[str]:
    return [] if value is None else [f"--{flag}={float(value)!r}"]


def _report_flags(report_peak_memory: bool, op_profiling: bool) -> list[str]:
    flags = ["--report_peak_memory_footprint=true"] if report_peak_memory else []
    return flags + (["--enable_op_profiling=true"] if op_profiling else [])


def _io_flags(input_files: Sequence[InputFile], output_file: str | None) -> list[str]:
    flags = _input_flags(input_files) if input_files else []
    return flags + ([f"--output_filepath={output_file}"] if output_file else [])


def _input_flags(files: Sequence[InputFile]) -> list[str]:
    """The tool matches value files to --input_layer's names, which must list every input, in
    the model's order, each with its --input_layer_shape (benchmark_tflite_model.cc)."""
    for file in files:
        # The tool splits at the first lone ':', so "a:" + ":x" would read as "a::" + "x".
        if "," in file.layer + file.path or file.layer.endswith(":") or file.path[:1] == ":":
            raise ValueError(
                f"input file {file.layer!r}: {file.path!r} cannot be passed (a ',', a name "
                "ending in ':' or a path starting with one)"
            )
    # "name:file,..."; a ':' in a name or a path is written "::" (SplitInputLayerNameAndValueFile)
    values = ",".join(f"{_escape(f.layer)}:{_escape(f.path)}" for f in files)
    return [
        f"--input_layer={','.join(file.layer for file in files)}",
        f"--input_layer_shape={':'.join(','.join(map(str, f.shape)) for f in files)}",
        f"--input_layer_value_files={values}",
    ]


def _escape(text: str) -> str:
    return text.replace(":", "::")


def _taskset(cpu_mask: str | None) -> list[str]:
    if cpu_mask is None:
        return []
    if not _CPU_MASK.fullmatch(cpu_mask):
        raise ValueError(f"cpu_mask {cpu_mask!r} is not a hexadecimal CPU mask (e.g. 'f0')")
    return ["taskset", cpu_mask]
