"""Frozen records that flow through the farm: Device, Model, Cell and its CellKey, RunSettings,
CellResult. No I/O here."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

Status = Literal["ok", "failed", "skipped"]
FailureKind = Literal["infra", "delegate", "model", "timeout", "parity", "fallback"]
INFRA_KINDS: tuple[FailureKind, ...] = ("infra", "timeout")  # the lab's fault, not the model's
QUARANTINE_PREFIX = "quarantined after "
Order = Literal["shuffled", "as-listed"]  # of a run's cells on each device


def quarantine_reason(streak: int, last_reason: str | None) -> str:
    """Why a quarantined device's cells fail (the dashboard finds them by the prefix)."""
    return f"{QUARANTINE_PREFIX}{streak} infra failures: {last_reason}"


# Android's ABI name for a CPU as `uname -m` names it: what a board's or this host's binaries
# are built for, and what a virtual phone on this host reports as ro.product.cpu.abi.
MACHINE_ABI = {
    "aarch64": "arm64-v8a",
    "arm64": "arm64-v8a",
    "armv7l": "armeabi-v7a",
    "armv8l": "armeabi-v7a",  # a 32-bit userland on a 64-bit core
    "x86_64": "x86_64",
    "i686": "x86",
    "i386": "x86",
}

# The one list of delegates: devices.yaml is validated against it (the type) and the CLI's
# --delegates (the names). The classic Interpreter's delegates, then LiteRT's CompiledModel
# accelerators (on the Python runner: litert_cpu is XNNPACK through CompiledModel, gpu the GPU
# accelerator at its default fp16 precision and gpu_fp32 with enforce_f32, npu a vendor's NPU
# through its dispatch library).
Delegate = Literal[
    "cpu", "xnnpack", "gpu", "nnapi", "hexagon", "edgetpu", "external",
    "litert_cpu", "gpu_fp32", "npu",
]  # fmt: skip
DELEGATES: tuple[str, ...] = get_args(Delegate)
# Accelerators no benchmark_model has a flag for: the Python runner reaches them through
# CompiledModel. (`npu` runs on LiteRT's own benchmark_model too, given the SoC's libraries:
# devices.yaml npu_libraries, farm.runners.benchmark_model.npu.)
PYTHON_RUNNER_ONLY = ("litert_cpu",)


@dataclass(frozen=True)
class CooldownSpec:
    """Wait before each cell until the device is below ``max_temp_c`` (at most ``timeout_s``)."""

    max_temp_c: float
    timeout_s: float = 300


@dataclass(frozen=True)
class ExternalDelegateSpec:
    """A TFLite plugin-ABI delegate library on this host and the options it is loaded with."""

    path: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DeviceOptions:
    """What devices.yaml says of a device beyond its name, transport, delegates, runner and
    workdir: the keys every transport has (a local or a fake device has only these). The
    defaults here are the farm's one home for them (devices.yaml's schema takes them from
    here)."""

    threads: tuple[int, ...] = (1,)
    python: str = "python3"
    benchmark_model: str | None = None  # a host path (relative ones resolved at load)
    cpu_mask: str | None = None
    runner_flags: tuple[str, ...] = ()
    cooldown: CooldownSpec | None = None
    tags: tuple[str, ...] = ()
    external_delegate: ExternalDelegateSpec | None = None
    edgetpu_device: str | None = None  # usb, pci, :N (libedgetpu's "device" option)
    npu_options: Mapping[str, str] = field(default_factory=dict)
    npu_libraries: str | None = None  # a host folder: dispatch, compiler plugin, vendor libs
    env: Mapping[str, str] = field(default_factory=dict)  # the runner's environment
    shares_host_cpu: bool | None = None  # None: local and loopback devices do

    @property
    def address(self) -> str:
        """Where the transport reaches the device ("" when it is this host)."""
        return ""


@dataclass(frozen=True, kw_only=True)
class AdbOptions(DeviceOptions):
    """An Android device behind an adb server (a remote or private one by host and port)."""

    serial: str  # exactly as `adb devices` prints it
    adb_host: str = "127.0.0.1"
    adb_port: int = 5037

    @property
    def address(self) -> str:
        return self.serial


@dataclass(frozen=True, kw_only=True)
class SshOptions(DeviceOptions):
    """A board reached with OpenSSH (``host`` may be an alias from ~/.ssh/config)."""

    host: str
    port: int = 22
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    check_host_key: bool = True

    @property
    def address(self) -> str:
        return self.host


# The options record of each transport devices.yaml offers.
TRANSPORT_OPTIONS: dict[str, type[DeviceOptions]] = {
    "local": DeviceOptions,
    "adb": AdbOptions,
    "ssh": SshOptions,
}


@dataclass(frozen=True)
class Device:
    """One device of the lab, as devices.yaml declares it (passive facts, nothing probed)."""

    name: str
    transport: str
    delegates: tuple[str, ...]
    runner: str = "python"
    workdir: str | None = None
    options: DeviceOptions = field(default_factory=DeviceOptions, hash=False, compare=False)

    @property
    def shares_host_cpu(self) -> bool:
        """Whether its cells load this host's CPU (the host itself, a virtual device or an
        emulator on loopback): such cells never run at the same time as each other."""
        declared = self.options.shares_host_cpu
        if declared is not None:
            return declared
        where = self.options.address
        loopback = where.startswith(("127.", "localhost", "::1", "[::1]", "emulator-"))
        return self.transport == "local" or loopback


@dataclass(frozen=True)
class InputSpec:
    """One model input tensor as the manifest declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantized: bool = False  # an int8/uint8 tensor standing for real values (has a scale)


@dataclass(frozen=True)
class Tolerance:
    """When two outputs count as the same answer; None switches a check off. ``max_abs_rel``
    is relative to the largest magnitude in the reference; ``max_abs_steps`` counts
    quantization steps of a quantized output (it replaces ``max_abs_rel`` there). ``rms_rel``
    is the RMS error over the reference's RMS (each tensor); ``rms_steps`` the RMS error in
    quantization steps of a quantized output."""

    cosine_min: float | None = None
    max_abs_rel: float | None = None
    max_abs_steps: float | None = None
    topk_min: float | None = None
    rms_rel: float | None = None
    rms_steps: float | None = None


@dataclass(frozen=True)
class Model:
    """One `.tflite` file, from a manifest or a bare folder (then family/variant are None)."""

    name: str
    path: str
    sha256: str
    size_bytes: int
    family: str | None = None
    variant: str | None = None
    inputs: tuple[InputSpec, ...] = ()
    custom_ops: tuple[str, ...] = ()
    is_edgetpu: bool = False
    tolerance: Tolerance | None = None  # against the CPU reference; None: the defaults
    drift_tolerance: Tolerance | None = None  # against the fp32 sibling; None: report only
    budget_ms: dict[str, float] | None = field(default=None, hash=False, compare=False)


class CellKey(NamedTuple):
    """What names a cell in every run, table and comparison. A tuple: it sorts as device,
    model, delegate, threads, and equals the plain tuple of those (compare seeds each cell's
    bootstrap from its fields joined)."""

    device: str
    model: str
    delegate: str
    threads: int

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> CellKey:
        """The key of a results row (a dict, or a DataFrame record whose threads is numpy's)."""
        return cls(str(row["device"]), str(row["model"]), str(row["delegate"]), int(row["threads"]))

    @property
    def cell_id(self) -> str:
        """device-model-delegate-tN: the cell's pytest id and its file names."""
        return f"{self.device}-{self.model}-{self.delegate}-t{self.threads}"


CELL_KEY_COLUMNS: tuple[str, ...] = CellKey._fields


@dataclass(frozen=True)
class Cell:
    """One model × device × delegate × threads: the unit the farm runs and reports."""

    device: Device
    model: Model
    delegate: str
    threads: int

    @property
    def key(self) -> CellKey:
        return CellKey(self.device.name, self.model.name, self.delegate, self.threads)

    @property
    def cell_id(self) -> str:
        return self.key.cell_id


@dataclass(frozen=True)
class RunSettings:
    """What a run asks of every cell, with the defaults: `farm run`'s options and the pytest
    plugin's read theirs here, run.json records them and `farm run --resume` replays them
    (plan.json). ``seed`` None draws one when the run is planned (then recorded)."""

    runs: int = 50
    warmup: int = 5
    min_seconds: float = 0.0
    seed: int | None = None
    timeout_s: float = 300.0
    retries: int = 1  # extra attempts of a cell that failed for infra reasons
    retry_backoff_s: float = 1.0  # pause before the first retry; doubles after each
    quarantine_after: int = 2  # consecutive infra-failed cells that take a device out
    lock_timeout_s: float = 600.0  # how long to wait for a device another run holds
    repeats: int = 1  # runner processes per cell, samples pooled (process-to-process noise)
    offline: bool = False  # never download Google's prebuilt benchmark_model for a device
    delegates: Sequence[str] | None = None  # None: each device's own
    threads: Sequence[int] | None = None  # None: each device's own
    order: Order = "shuffled"

    @property
    def planned_seed(self) -> int:
        """The seed of the run's inputs and cell order, drawn once the run is planned."""
        if self.seed is None:
            raise ValueError("the run is not planned yet: its seed is not drawn")
        return self.seed


@dataclass(frozen=True)
class Skip:
    """A cell that will not run, and why (shown in results and the dashboard)."""

    cell: Cell
    reason: str


@dataclass(frozen=True)
class CellResult:
    """One row of results; every metric the device did not report is None, never 0."""

    run_id: str
    device: str
    model: str
    delegate: str
    threads: int
    status: Status
    model_sha256: str
    failure_kind: FailureKind | None = None
    reason: str | None = None
    device_fingerprint: str | None = None
    model_family: str | None = None
    model_variant: str | None = None
    model_size_bytes: int | None = None
    runner: str | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    api: str | None = None  # interpreter (classic delegates) or compiled_model (accelerators)
    accelerator: str | None = None  # what really ran: a GPU adapter, an NPU vendor's device
    accelerator_sdk: str | None = None  # the NPU vendor's runtime and version
    dispatch_sha256: str | None = None  # the NPU vendor's dispatch library
    compile_ms: float | None = None  # CompiledModel creation: an NPU's JIT compile, GPU kernels
    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_ms: float | None = None
    latency_mean_ms: float | None = None
    latency_median_ms: float | None = None
    latency_p5_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    latency_std_ms: float | None = None
    latency_count: int | None = None  # timed runs the latency numbers stand for
    samples_ms: tuple[float, ...] = ()
    process_samples: tuple[int, ...] = ()  # samples of each runner process, in order (repeats)
    peak_rss_mb: float | None = None
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    partitions: int | None = None
    fully_delegated: bool | None = None
    cpu_fallback_ops: str | None = None  # JSON {op name: count} of nodes left to the CPU
    parity_reference: str | None = None  # the cell the outputs were compared with
    parity_max_abs: float | None = None
    parity_cosine: float | None = None
    parity_topk: float | None = None
    parity_ok: bool | None = None  # None: not compared (no reference, or a non-finite one)
    parity_class: str | None = None  # how parity failed: farm.parity.PARITY_CLASSES
    drift_reference: str | None = None  # the fp32 sibling an fp16/int8 variant is held to
    drift_max_abs: float | None = None
    drift_cosine: float | None = None
    drift_topk: float | None = None
    temp_before_c: float | None = None
    temp_after_c: float | None = None
    cpu_freq_before_mhz: float | None = None
    cpu_freq_after_mhz: float | None = None
    started_at: str | None = None
    wall_s: float | None = None
    runner_wall_s: float | None = None
    attempt: int = 1

    def to_row(self) -> dict[str, Any]:
        """The row as the journal and Parquet hold it. A NaN or Inf metric (of outputs gone
        non-finite) is null in both: JSON has no word for it, one model's outputs must not
        stop the journal, and a rebuild from the journal must read what the Parquet holds."""
        row = {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in dataclasses.asdict(self).items()
        }
        row["samples_ms"] = list(self.samples_ms)
        row["process_samples"] = list(self.process_samples)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CellResult:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        values["samples_ms"] = tuple(values.get("samples_ms") or ())
        values["process_samples"] = tuple(int(n) for n in values.get("process_samples") or ())
        return cls(**values)

    @property
    def key(self) -> CellKey:
        return CellKey(self.device, self.model, self.delegate, self.threads)

    @property
    def cell_id(self) -> str:
        """The same id as its Cell's: device-model-delegate-tN."""
        return self.key.cell_id


RESULT_COLUMNS = tuple(f.name for f in dataclasses.fields(CellResult))
