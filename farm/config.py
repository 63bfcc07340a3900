"""Read and validate devices.yaml and the models manifest (or a bare folder of .tflite files).

Everything is validated once, here, at load: an error names the file, the key path and the fix,
and unknown keys are errors (a misspelt ``delegats:`` must not silently drop a matrix column).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from farm import spec
from farm.errors import ConfigError
from farm.hashing import file_sha256
from farm.spec import DELEGATES, Delegate, Device, InputSpec, Model, Tolerance
from farm.yaml_file import read_yaml

NAME_PATTERN = r"^[a-z0-9_-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The defaults are the option records' (farm.spec, their one home); the schema shows them.
class Cooldown(_Strict):
    max_temp_c: float = Field(gt=0)
    timeout_s: float = Field(default=spec.CooldownSpec.timeout_s, gt=0)


class ExternalDelegate(_Strict):
    path: str
    options: dict[str, str] = {}


class _DeviceBase(_Strict):
    delegates: list[Delegate] = Field(min_length=1)
    threads: list[Annotated[int, Field(ge=1)]] = Field(
        default=list(spec.DeviceOptions.threads), min_length=1
    )
    # Default: benchmark_model on adb (a phone has no Python), the Python runner elsewhere.
    runner: Literal["python", "benchmark_model"] | None = None
    python: str = spec.DeviceOptions.python
    benchmark_model: str | None = None
    workdir: str | None = None
    cpu_mask: str | None = None
    runner_flags: list[str] = []
    cooldown: Cooldown | None = None
    tags: list[str] = []
    external_delegate: ExternalDelegate | None = None
    edgetpu_device: str | None = None  # usb, pci, :N (libedgetpu's "device" option)
    npu_options: dict[str, str] = {}  # the NPU vendor's options, e.g. {graph_backend: CPU}
    # benchmark_model's npu cells: a host folder with the SoC's LiteRT dispatch library,
    # compiler plugin and vendor runtime, pushed to the device (farm.runners.benchmark_model.npu)
    npu_libraries: str | None = None
    # Environment of the runner on the device (a Vulkan ICD, an NPU's library paths), set with
    # `env` in its command line on every transport and recorded in run.json.
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = {}
    shares_host_cpu: bool | None = None  # default: local and loopback devices do

    @model_validator(mode="after")
    def _runner_has_what_it_needs(self) -> _DeviceBase:
        # A benchmark_model device without the key takes the user cache's build for its ABI
        # (farm.runners.benchmark_model.provision); its pre-flight says what is missing.
        if "external" in self.delegates and not self.external_delegate:
            raise ValueError("delegate external needs the key external_delegate: {path: ...}")
        return self


class LocalDevice(_DeviceBase):
    transport: Literal["local"]


class AdbDevice(_DeviceBase):
    transport: Literal["adb"]
    serial: str
    adb_host: str = spec.AdbOptions.adb_host
    adb_port: int = Field(default=spec.AdbOptions.adb_port, ge=1, le=65535)


class SshDevice(_DeviceBase):
    transport: Literal["ssh"]
    host: str
    port: int = Field(default=spec.SshOptions.port, ge=1, le=65535)
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    check_host_key: bool = spec.SshOptions.check_host_key


DeviceConfig = Annotated[Union[LocalDevice, AdbDevice, SshDevice], Field(discriminator="transport")]


class DevicesFile(_Strict):
    devices: dict[Annotated[str, Field(pattern=NAME_PATTERN)], DeviceConfig] = Field(min_length=1)


class InputEntry(_Strict):
    name: str
    shape: list[int]
    dtype: str


class ToleranceEntry(_Strict):
    cosine_min: float | None = Field(default=None, ge=-1, le=1)
    max_abs_rel: float | None = Field(default=None, ge=0)
    max_abs_steps: float | None = Field(default=None, ge=0)
    topk_min: float | None = Field(default=None, ge=0, le=1)
    rms_rel: float | None = Field(default=None, ge=0)
    rms_steps: float | None = Field(default=None, ge=0)


class ModelEntry(_Strict):
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    family: str | None = None
    variant: Literal["fp32", "fp16", "int8", "edgetpu"] | None = None
    task: str | None = None
    inputs: list[InputEntry] = []
    source: str | None = None
    license: str | None = None
    tolerance: ToleranceEntry | None = None
    drift_tolerance: ToleranceEntry | None = None
    # A latency budget (median, ms): one number, or {default: .., <device>: .., <delegate>: ..,
    # <device>/<delegate>: ..}; the most specific key wins (the pytest plugin asserts it).
    budget_ms: float | dict[str, float] | None = None


class ModelsFile(_Strict):
    models: dict[Annotated[str, Field(pattern=NAME_PATTERN)], ModelEntry] = Field(min_length=1)


def devices_json_schema() -> dict[str, Any]:
    """JSON Schema of devices.yaml, for editors (`farm devices --schema`)."""
    return DevicesFile.model_json_schema()


def load_devices(path: str | Path) -> tuple[Device, ...]:
    """Load devices.yaml into Device records, or raise ConfigError naming file and key."""
    raw = _expand_env(read_yaml(path), path, "")
    data = _validated(DevicesFile, raw, path)
    return tuple(_to_device(name, e, Path(path).parent) for name, e in data.devices.items())


def _to_device(name: str, entry: LocalDevice | AdbDevice | SshDevice, base: Path) -> Device:
    fields = entry.model_dump(exclude={"transport", "delegates", "runner", "workdir"})
    fields = {key: tuple(v) if isinstance(v, list) else v for key, v in fields.items()}
    if entry.benchmark_model:  # host paths are relative to devices.yaml
        fields["benchmark_model"] = str(base / Path(entry.benchmark_model).expanduser())
    if entry.npu_libraries:
        fields["npu_libraries"] = str(base / Path(entry.npu_libraries).expanduser())
    if entry.cooldown:
        fields["cooldown"] = spec.CooldownSpec(**entry.cooldown.model_dump())
    if library := entry.external_delegate:
        path = base / Path(library.path).expanduser()
        fields["external_delegate"] = spec.ExternalDelegateSpec(str(path), library.options)
    return Device(
        name=name,
        transport=entry.transport,
        delegates=tuple(entry.delegates),
        runner=entry.runner or ("benchmark_model" if entry.transport == "adb" else "python"),
        workdir=entry.workdir,
        options=spec.TRANSPORT_OPTIONS[entry.transport](**fields),
    )


def load_models(path: str | Path) -> tuple[Model, ...]:
    """Load a models manifest (a models.yaml, or a folder holding one) or a bare folder of .tflite.

    In a bare folder the model name is the file name without ``.tflite``.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            str(path), "", "no such file or folder", "pass --models a folder or a models.yaml"
        )
    manifest = path / "models.yaml" if path.is_dir() else path
    if manifest.is_file():
        return _load_manifest(manifest)
    files = sorted(path.glob("*.tflite"))
    if not files:
        raise ConfigError(
            str(path), "", "no .tflite files and no models.yaml", "add models or a manifest"
        )
    return tuple(_bare_model(f) for f in files)


def _load_manifest(manifest: Path) -> tuple[Model, ...]:
    data = _validated(ModelsFile, read_yaml(manifest), manifest)
    return tuple(_manifest_model(manifest, name, e) for name, e in data.models.items())


def _sha256_fix(manifest: Path) -> str:
    # Only the shipped manifest is written by models/build.py (it says so on its first line).
    if manifest.read_text(encoding="utf-8").startswith("# Written by models/build.py"):
        return "re-run models/build.py or update the manifest"
    return "if the file is the one you want, put its sha256 in the manifest; else restore it"


def _manifest_model(manifest: Path, name: str, entry: ModelEntry) -> Model:
    file = manifest.parent / entry.file
    key = f"models.{name}.file"
    if not file.is_file():
        raise ConfigError(
            str(manifest), key, f"{entry.file} does not exist", "fix the path or add the file"
        )
    digest = file_sha256(file)
    if digest != entry.sha256:
        raise ConfigError(
            str(manifest),
            f"models.{name}.sha256",
            f"{entry.file} has sha256 {digest}, manifest says {entry.sha256}",
            _sha256_fix(manifest),
        )
    inputs = tuple(InputSpec(i.name, tuple(i.shape), i.dtype) for i in entry.inputs)
    return Model(
        name,
        str(file.resolve()),
        digest,
        file.stat().st_size,
        family=entry.family,
        variant=entry.variant,
        inputs=inputs,
        tolerance=_tolerance(entry.tolerance),
        drift_tolerance=_tolerance(entry.drift_tolerance),
        budget_ms=_budget(entry.budget_ms),
    )


def _budget(value: float | dict[str, float] | None) -> dict[str, float] | None:
    return {"default": float(value)} if isinstance(value, int | float) else value


def _tolerance(entry: ToleranceEntry | None) -> Tolerance | None:
    return Tolerance(**entry.model_dump()) if entry else None


def _bare_model(file: Path) -> Model:
    try:
        resolved = file.resolve(strict=True)  # RuntimeError on a symlink loop (Python < 3.13)
    except (OSError, RuntimeError) as exc:
        raise ConfigError(str(file), "", _broken(file, exc), "fix the link or remove it") from exc
    return Model(file.stem, str(resolved), file_sha256(file), file.stat().st_size)


def _broken(file: Path, exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError) and file.is_symlink():
        return f"a dangling symlink to {file.readlink()}"
    return "a symlink loop" if file.is_symlink() else f"cannot be read: {exc}"


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, path: str | Path, key: str) -> Any:
    """``${NAME}`` in any string takes the environment variable's value (for secret-ish
    settings kept out of the file); an unset variable is an error naming the key."""
    if isinstance(value, dict):
        return {k: _expand_env(v, path, f"{key}.{k}".lstrip(".")) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, path, f"{key}.{i}") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in os.environ:
            raise ConfigError(
                str(path),
                key,
                f"environment variable {match.group(1)} is not set",
                f"export {match.group(1)}=... or write the value",
            )
        return os.environ[match.group(1)]

    return _ENV_REFERENCE.sub(substitute, value)


def _validated(schema: type[_Strict], data: Any, path: str | Path) -> Any:
    if data is None:  # an empty file (or only comments): YAML reads it as null
        top = "devices" if schema is DevicesFile else "models"
        raise ConfigError(
            str(path), "", "the file is empty", f"add a `{top}:` mapping, as in the shipped one"
        )
    try:
        return TypeAdapter(schema).validate_python(data)
    except ValidationError as exc:
        raise _config_error(exc, schema, path) from exc


def _config_error(exc: ValidationError, schema: type[_Strict], path: str | Path) -> ConfigError:
    # Several errors usually share one cause (a misspelt key also leaves a required key missing):
    # report the most telling one.
    error = min(exc.errors(), key=lambda e: _ERROR_RANK.get(e["type"], len(_ERROR_RANK)))
    key = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
    kind, given = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return ConfigError(str(path), key, "unknown key", _suggest(error["loc"], schema))
    if kind == "literal_error" and "delegates" in key:
        return ConfigError(
            str(path), key, f"unknown delegate {given!r}", f"use one of {', '.join(DELEGATES)}"
        )
    if kind == "string_pattern_mismatch" and key.endswith("[key]"):
        variable = "env" in error["loc"]
        fix = (
            "use A-Z, a-z, 0-9 and _, not first a digit"
            if variable
            else "use only a-z, 0-9, _ and -"
        )
        name = "invalid environment variable name" if variable else "invalid name"
        return ConfigError(str(path), key.removesuffix(".[key]"), name, fix)
    if kind == "missing":
        return ConfigError(str(path), key, "required key is missing", "add it")
    return ConfigError(
        str(path), key, error["msg"].lower(), f"got {json.dumps(given, default=str)[:80]}"
    )


_ERROR_RANK = {"extra_forbidden": 0, "literal_error": 1, "union_tag_invalid": 2, "missing": 3}


def _is_union_tag(part: Any) -> bool:
    return part in ("local", "adb", "ssh") or str(part).startswith("function-")


def _suggest(loc: tuple[Any, ...], schema: type[_Strict]) -> str:
    allowed = _all_keys(schema)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close and close[0] == str(loc[-1]):  # a real key, in another section
        return _belongs_elsewhere(close[0])
    return (
        f"did you mean {close[0]!r}?"
        if close
        else "remove it; allowed keys are in `farm devices --schema`"
    )


def _belongs_elsewhere(key: str) -> str:
    sections: dict[type[_Strict], str] = {
        Cooldown: "cooldown",
        ExternalDelegate: "external_delegate",
        InputEntry: "inputs",
    }
    homes = [f"`{name}:`" for model, name in sections.items() if key in model.model_fields]
    where = f"it belongs under {' or '.join(homes)}" if homes else "it belongs in another section"
    if key == "timeout_s":
        return f"{where}; a cell's time limit is `farm run --timeout`"
    return f"{where}; see `farm devices --schema`"


def _all_keys(schema: type[_Strict]) -> list[str]:
    if schema is DevicesFile:
        models: tuple[type[_Strict], ...] = (
            ExternalDelegate,
            LocalDevice,
            AdbDevice,
            SshDevice,
            Cooldown,
            DevicesFile,
        )
    else:
        models = (ModelsFile, ModelEntry, InputEntry, ToleranceEntry)
    return sorted({key for m in models for key in m.model_fields})


def device_summary(device: Device) -> Mapping[str, Any]:
    """What `farm devices` prints for one device."""
    return {
        "name": device.name,
        "transport": device.transport,
        "runner": device.runner,
        "delegates": ", ".join(device.delegates),
        "threads": ", ".join(map(str, device.options.threads)),
    }


T = TypeVar("T")


def split_csv(value: str | None, kind: Callable[[str], T]) -> list[T] | None:
    """A comma-separated option value as a list (``"1, 2,4"`` -> ``[1, 2, 4]``); None when empty.

    Raises ValueError when a part is not a ``kind``: each caller words it for its own users."""
    if not value:
        return None
    return [kind(part.strip()) for part in value.split(",") if part.strip()]
