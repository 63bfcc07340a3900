"""Measuring one cell on an open target: stage what it needs, run the runner, read its result.

Remote file names come from content hashes, never from user-chosen model names, so a model
called ``x; touch pwned #.tflite`` reaches no shell on any device.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farm.errors import (
    ConfigError,
    FetchError,
    RunnerError,
    TargetError,
    TargetTimeout,
    disk_full,
)
from farm.hashing import file_sha256
from farm.modelinfo import ModelInfo, inspect_model
from farm.parity import save_arrays
from farm.runners.benchmark_model import (
    InputFile,
    benchmark_outcome,
    build_benchmark_model_argv,
    parse_benchmark_model_output,
)
from farm.runners.benchmark_model.npu import library_files, library_set_digest, npu_env
from farm.runners.benchmark_model.prebuilt import (
    OFFLINE_VARIABLE,
    device_platform,
    fetch_advice,
    fetch_prebuilt,
    offline,
    prebuilt_url,
)
from farm.runners.benchmark_model.provision import device_abi, find_benchmark_model
from farm.runners.benchmark_model.tensor_files import input_file, raw_inputs, read_raw_outputs
from farm.runners.outcome import RunnerOutcome
from farm.runners.python import (
    DelegateLibrary,
    python_runner_argv,
    read_runner_output,
    runner_archive,
    with_env,
)
from farm.spec import Cell, Device, RunSettings
from farm.targets import CommandResult, Target
from farm.targets.lock import DeviceLock
from farm.targets.staging import StagedFiles

if TYPE_CHECKING:
    from farm.orchestrator.facts import DeviceFacts  # which imports the probe, which imports this

# (run id, platform) -> why its prebuilt binary could not be fetched in that run.
_FETCH_FAILED: dict[tuple[str | None, str], FetchError] = {}


class CellMeasurer:
    """Measures cells on one target; remembers what it already staged there."""

    def __init__(
        self,
        target: Target,
        run_id: str,
        run_dir: Path,
        settings: RunSettings,
        facts: DeviceFacts,
        inputs: dict[str, Path] | None = None,
    ) -> None:
        self.target, self.run_id, self.run_dir, self.settings = target, run_id, run_dir, settings
        self.facts = facts  # its description picks benchmark_model, found once per run there
        self.inputs = inputs or {}  # model sha256 -> the run's input file for that model
        self.files = StagedFiles(target, facts.staged)
        self._out_dir = f"{target.workdir}/out/{run_id}"  # the run's folder on the device
        self._out_dir_made = False
        self._models: dict[str, ModelInfo | None] = {}
        self.lock: DeviceLock | None = None  # the device's lock, which records each runner

    def _run_runner(self, argv: list[str]) -> CommandResult:
        """The runner's command, its pid recorded in the device lock (so a second Ctrl-C, or
        a run taking a stale lock over, can kill it); a timeout still names the runner."""
        recorded = self.lock.recorded(argv) if self.lock is not None else argv
        try:
            return self.target.run(recorded, timeout_s=self.settings.timeout_s)
        except TargetTimeout as exc:
            raise TargetTimeout(self.target.name, argv, exc.timeout_s) from exc

    def measure(self, cell: Cell, index: int) -> tuple[RunnerOutcome, float]:
        """The runner's outcome and how long its processes ran (s). Raises TargetError or
        RunnerError. With ``settings.repeats`` > 1 the Python runner runs that many times, each
        in its own process, and their samples are pooled: a process's own level (where its
        code and tensors landed in memory, a few % on small models) then shows in the samples
        and widens a comparison's interval, instead of passing for a change. The other numbers
        are the first process's; the first outcome that is not ok is returned as it is."""
        repeats = self.settings.repeats if cell.device.runner == "python" else 1
        outcomes, wall_s = [], 0.0
        for _ in range(repeats):
            outcome, seconds = self._measure_once(cell, index)
            outcomes.append(outcome)
            wall_s += seconds
            if outcome.status != "ok":
                return outcome, wall_s
        return (pooled(outcomes) if repeats > 1 else outcomes[0]), wall_s

    def _measure_once(self, cell: Cell, index: int) -> tuple[RunnerOutcome, float]:
        model = self.files.stage(cell.model.path, "models", cell.model.sha256, ".tflite")
        if cell.device.runner == "benchmark_model":
            return self._run_native(cell, model, index)
        return self._python(cell, model, index)

    def _out(self, cell: Cell, index: int) -> str:
        """The device path (no suffix) of this cell's result files, in the run's folder."""
        if not self._out_dir_made:
            self.target.run(["mkdir", "-p", self._out_dir], timeout_s=60)
            self._out_dir_made = True
        return f"{self._out_dir}/{index:04d}-{cell.delegate}-t{cell.threads}"

    def _python(self, cell: Cell, model: str, index: int) -> tuple[RunnerOutcome, float]:
        runner = self.files.stage(str(runner_archive()), "runner", suffix=".pyz")
        out = self._out(cell, index)
        local_inputs = self.inputs.get(cell.model.sha256)
        inputs = None
        if local_inputs:
            inputs = self.files.stage(str(local_inputs), "inputs", suffix=".npz")
        library = self._delegate_library(cell)
        argv = python_runner_argv(
            cell,
            runner,
            model,
            f"{out}.json",
            self.settings,
            inputs,
            f"{out}.npz" if inputs else None,
            library,
        )
        command = self._run_runner(argv)
        outcome = read_runner_output(
            fetch_json(self.target, f"{out}.json", self._raw(cell, ".json"), command)
        )
        if inputs and outcome.status == "ok":
            self.target.pull(f"{out}.npz", str(outputs_path(self.run_dir, cell)))
        return outcome, command.wall_s

    def _run_native(self, cell: Cell, model: str, index: int) -> tuple[RunnerOutcome, float]:
        binary_path, sha256 = self.native_binary(cell.device)
        binary = self.files.stage(binary_path, "bin", sha256)
        self.target.run(["chmod", "755", binary], timeout_s=60)
        info = self._model_info(cell)
        inputs = self._native_inputs(cell, info)
        output = f"{self._out(cell, index)}.bin" if inputs else None
        argv = self._native_argv(cell, binary, model, inputs, output)
        if cell.device.transport == "local":
            # Linux keeps a process's peak RSS (getrusage's ru_maxrss) across execve, so a
            # tool started straight from the farm's process reports the farm's own peak as
            # its "peak memory footprint" (142 MB for kws_dscnn_int8, whose own is 9 MB). A
            # shell that forks it (the command is not its last word) gives it a fresh count.
            argv = ["sh", "-c", '"$@"; exit $?', "sh", *argv]
        command = self._run_runner(argv)
        text = command.stdout + command.stderr
        self._raw(cell, ".log").write_text(text)
        if command.returncode in (126, 127):  # the device's shell could not start it
            raise RunnerError(not_started(self.target.name, binary, command))
        nodes = info.operators if info else None
        parse = parse_benchmark_model_output(text)
        outcome = benchmark_outcome(parse, cell.delegate, command.tail(), command.returncode, nodes)
        if output and info and outcome.status == "ok":
            outcome = self._native_outputs(cell, info, output, outcome)
        runtime = {"runtime": "benchmark_model", "runtime_version": f"sha256:{sha256[:12]}"}
        outcome.metrics.update(runtime)
        return outcome, command.wall_s

    def _model_info(self, cell: Cell) -> ModelInfo | None:
        """What the flatbuffer says, read on the host once per model (None: unreadable)."""
        sha256 = cell.model.sha256
        if sha256 not in self._models:
            try:
                self._models[sha256] = inspect_model(cell.model.path)
            except ConfigError:
                self._models[sha256] = None
        return self._models[sha256]

    def _native_inputs(self, cell: Cell, info: ModelInfo | None) -> list[InputFile]:
        """The run's inputs for this model as raw files on the device (none: no parity)."""
        local = self.inputs.get(cell.model.sha256)
        if local is None or info is None or not info.inputs:
            return []
        return [
            input_file(tensor, self.files.stage(str(path), "inputs", suffix=".bin"))
            for tensor, path in raw_inputs(local, info)
        ]

    def _native_outputs(
        self, cell: Cell, info: ModelInfo, remote: str, outcome: RunnerOutcome
    ) -> RunnerOutcome:
        """Keep the outputs the tool wrote, for parity. A tool too old for --output_filepath
        warns about the flag and writes none: the cell stays ok, saying it was not checked."""
        raw = self._raw(cell, ".out")
        try:
            self.target.pull(remote, str(raw))
        except TargetError as exc:
            note = f"outputs not checked: benchmark_model wrote no --output_filepath ({exc})"
            return dataclasses.replace(outcome, reason=outcome.reason or note)
        try:
            arrays = read_raw_outputs(raw.read_bytes(), info)
        except ValueError as exc:
            raise RunnerError(f"benchmark_model's output file {remote}: {exc}") from exc
        save_arrays(outputs_path(self.run_dir, cell), arrays)
        return outcome

    def native_binary(self, device: Device) -> tuple[str, str]:
        """The host path and sha256 of the device's benchmark_model (for its ABI), found once
        per run (kept in the device's facts); RunnerError saying what to put where."""
        if self.facts.native is None:
            description, offline_run = self.facts.description, self.settings.offline
            path = locate_benchmark_model(device, description, offline_run, self.run_id)
            self.facts.native = str(path), file_sha256(path)
        return self.facts.native

    def _delegate_library(self, cell: Cell) -> DelegateLibrary | None:
        """The external delegate .so (pushed like a model) or the Edge TPU device option."""
        options = cell.device.options
        if cell.delegate == "edgetpu" and options.edgetpu_device:
            return DelegateLibrary(None, {"device": options.edgetpu_device})
        if cell.delegate == "npu" and options.npu_options:
            return DelegateLibrary(None, dict(options.npu_options))
        library = options.external_delegate
        if cell.delegate != "external" or library is None:
            return None
        if not Path(library.path).is_file():
            raise RunnerError(
                f"external delegate {library.path} does not exist on this host "
                f"(devices.{cell.device.name}.external_delegate.path)"
            )
        path = self.files.stage(library.path, "delegates", suffix=".so")
        return DelegateLibrary(path, dict(library.options))

    def _native_argv(
        self, cell: Cell, binary: str, model: str, inputs: list[InputFile], output: str | None
    ) -> list[str]:
        options, s = cell.device.options, self.settings
        library, npu_dir = self._delegate_library(cell), self._npu_libraries(cell)
        try:
            argv = build_benchmark_model_argv(
                binary,
                model,
                delegate=cell.delegate,
                threads=cell.threads,
                runs=s.runs,
                warmup=s.warmup,
                # The tool's own floors (--min_secs 1 s, --warmup_min_secs 0.5 s, in
                # benchmark_model.cc) would run far more invokes than the farm's --runs and
                # --warmup ask of every runner: a native cell measures what a Python one does.
                min_secs=s.min_seconds,
                warmup_min_secs=0.0,
                extra_flags=options.runner_flags,
                cpu_mask=options.cpu_mask,
                external_delegate_path=library.path if library else None,
                delegate_options=library.options if library else {},
                input_files=inputs,
                output_file=output,
                npu_library_dir=npu_dir,
            )
        except ValueError as exc:
            raise RunnerError(f"cannot build the benchmark_model command: {exc}") from exc
        env = options.env
        return with_env(npu_env(npu_dir, env) if npu_dir else env, argv)

    def _npu_libraries(self, cell: Cell) -> str | None:
        """The device folder with an npu cell's libraries, by their names, pushed once; the
        folder is named by the set's content, so a changed library is never mixed in."""
        if cell.delegate != "npu":
            return None
        configured = cell.device.options.npu_libraries
        folder = Path(configured) if configured else None
        if folder is None or not folder.is_dir():
            key = f"devices.{cell.device.name}.npu_libraries"
            raise RunnerError(f"npu_libraries {configured} is not a folder on this host ({key})")
        known = self.facts.npu_folders
        if folder not in known:  # hashed once a run: vendor libraries are large
            files = library_files(folder)
            known[folder] = self.files.stage_by_name(files, f"npu/{library_set_digest(files)[:20]}")
        return known[folder]

    def _raw(self, cell: Cell, suffix: str) -> Path:
        """Where the runner's raw output for this cell is kept, next to the results."""
        folder = self.run_dir / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{cell.cell_id}{suffix}"


def locate_benchmark_model(
    device: Device, description: Mapping[str, Any] | None, offline_run: bool, run_id: str | None
) -> Path:
    """The host path of the device's benchmark_model for its ABI (from its ``description``):
    devices.yaml's, the user cache's, else Google's prebuilt one, downloaded unless
    ``offline_run``; RunnerError saying what to put where."""
    configured = device.options.benchmark_model
    abi, platform = device_abi(description), device_platform(description)
    try:
        return find_benchmark_model(device.name, configured, abi, None, platform)
    except RunnerError:
        if configured or platform is None:
            raise
        return _fetched(platform, offline_run, run_id)


def _fetched(platform: str, offline_run: bool, run_id: str | None) -> Path:
    """Google's prebuilt binary for ``platform``, downloaded into the user cache, unless the
    run is offline; tried once per run and platform (a second device gets the same answer,
    not a second download)."""
    if offline_run or offline():
        problem = (
            f"{prebuilt_url(platform)} was not fetched: downloads are off (--offline, "
            f"{OFFLINE_VARIABLE}=1; `farm devices --probe` never downloads)"
        )
        raise FetchError(fetch_advice(platform, problem))
    key = (run_id, platform)
    if key in _FETCH_FAILED:
        raise _FETCH_FAILED[key]
    try:
        return fetch_prebuilt(platform).path
    except FetchError as exc:
        _FETCH_FAILED[key] = exc
        raise


def pooled(outcomes: list[RunnerOutcome]) -> RunnerOutcome:
    """One outcome from several ok processes of one cell: every sample, in process order."""
    samples = tuple(sample for outcome in outcomes for sample in outcome.samples_ms)
    metrics = {**outcomes[0].metrics, "process_samples": tuple(len(o.samples_ms) for o in outcomes)}
    return dataclasses.replace(outcomes[0], samples_ms=samples, metrics=metrics)


def outputs_path(run_dir: Path, cell: Cell) -> Path:
    """Where a cell's output tensors are kept on the host, for parity checks."""
    folder = run_dir / "outputs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{cell.cell_id}.npz"


def fetch_json(target: Target, remote: str, local: Path, command: CommandResult) -> dict[str, Any]:
    """Pull the runner's JSON; a runner that wrote none crashed, and its output says why."""
    try:
        target.pull(remote, str(local))
        return dict(json.loads(local.read_text()))
    except (TargetError, ValueError, OSError) as exc:
        if disk_full(exc):  # the host's run folder: the run stops, this cell gets no row
            raise
        how = how_it_ended(command.returncode)
        raise RunnerError(f"runner wrote no result ({how}): {command.tail()}") from exc


def not_started(device: str, binary: str, command: CommandResult) -> str:
    """Why a pushed binary did not start: the shell's words, and the usual cause."""
    words = command.tail()
    hint = ""
    if "denied" in words.lower():
        # Android mounts /sdcard (and often /storage) noexec; chmod succeeds there all the same.
        hint = (
            "; the workdir may be on a noexec mount (as /sdcard is on Android): "
            "set a workdir under /data/local/tmp"
        )
    elif "format error" in words.lower() or "not executable" in words.lower():
        hint = "; the binary is not built for this device's CPU (see its ABI in `farm devices`)"
    how = how_it_ended(command.returncode)
    return f"{binary} could not be started on {device} ({how}: {words}){hint}"


def how_it_ended(code: int) -> str:
    if code < 0:
        return f"signal {-code}"
    # A remote shell reports a command killed by signal N as exit 128+N.
    return f"exit {code}, signal {code - 128}" if 128 < code < 160 else f"exit {code}"
