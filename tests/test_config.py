"""devices.yaml and models manifests: valid files load, bad ones name the file, key and fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from farm.config import devices_json_schema, load_devices, load_models
from farm.errors import ConfigError
from farm.spec import AdbOptions, CooldownSpec, DeviceOptions, SshOptions


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_shipped_devices_yaml_loads_with_the_host_cpu() -> None:
    devices = load_devices(Path(__file__).parents[1] / "devices.yaml")
    host = next(d for d in devices if d.name == "host")
    assert host.transport == "local"
    assert host.delegates == ("cpu", "xnnpack", "gpu")
    assert host.options.threads == (1, 2)


def test_all_three_transports_load(tmp_path: Path) -> None:
    devices = load_devices(
        write(
            tmp_path / "d.yaml",
            """
devices:
  host: {transport: local, delegates: [cpu]}
  pixel8: {transport: adb, serial: "127.0.0.1:5555", delegates: [cpu, gpu],
           runner: benchmark_model, benchmark_model: bin/bm}
  coral: {transport: ssh, host: coral.lab, user: mendel, delegates: [edgetpu], port: 2222}
""",
        )
    )
    by_name = {d.name: d for d in devices}
    assert by_name["pixel8"].options.serial == "127.0.0.1:5555"
    assert by_name["pixel8"].runner == "benchmark_model"
    assert by_name["pixel8"].options.benchmark_model == str(tmp_path / "bin" / "bm")
    assert by_name["coral"].options.port == 2222


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        (
            "devices:\n  host: {transport: local, delegats: [cpu]}",
            "devices.host.delegats",
            "did you mean 'delegates'",
        ),
        (
            "devices:\n  host: {transport: local, delegates: [cpu, gpux]}",
            "devices.host.delegates.1",
            "unknown delegate 'gpux'",
        ),
        ("devices:\n  Host: {transport: local, delegates: [cpu]}", "devices.Host", "invalid name"),
        ("devices:\n  p: {transport: adb, delegates: [cpu]}", "devices.p.serial", "missing"),
        (
            "devices:\n  h: {transport: local, delegates: [cpu], threads: [0]}",
            "devices.h.threads.0",
            "greater than or equal to 1",
        ),
        (
            "devices:\n  h: {transport: local, delegates: [gpu], env: {'LD PATH': /x}}",
            "devices.h.env.LD PATH: invalid environment variable name",
            "use A-Z, a-z, 0-9 and _",
        ),
        (
            "devices:\n  h: {transport: local, delegates: [gpu], env: {VK_ICD_FILENAMES: [a]}}",
            "devices.h.env.VK_ICD_FILENAMES",
            "valid string",
        ),
        ("devices: [unclosed", "line 1", "not valid YAML"),
        ("devices: {}", "devices", "at least 1"),
    ],
)
def test_bad_devices_yaml_names_file_key_and_problem(
    tmp_path: Path, body: str, key: str, words: str
) -> None:
    path = write(tmp_path / "devices.yaml", body)
    with pytest.raises(ConfigError) as caught:
        load_devices(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}")
    assert words in message
    assert caught.value.exit_code == 2
    assert "\n" not in message


def test_a_phone_runs_benchmark_model_unless_told_and_a_board_the_python_runner(
    tmp_path: Path,
) -> None:
    body = (
        "devices:\n"
        "  phone: {transport: adb, serial: X, delegates: [cpu]}\n"
        "  python_phone: {transport: adb, serial: Y, delegates: [cpu], runner: python}\n"
        "  board: {transport: ssh, host: b, delegates: [cpu]}\n"
        "  host: {transport: local, delegates: [cpu], runner: benchmark_model}\n"
    )
    devices = {d.name: d for d in load_devices(write(tmp_path / "devices.yaml", body))}
    runners = {name: device.runner for name, device in devices.items()}
    assert runners == {
        "phone": "benchmark_model",  # no `benchmark_model:` key: the user cache, by ABI
        "python_phone": "python",
        "board": "python",
        "host": "benchmark_model",
    }
    assert devices["phone"].options.benchmark_model is None


def test_schema_is_valid_json_schema_naming_every_transport() -> None:
    schema = json.loads(json.dumps(devices_json_schema()))
    text = json.dumps(schema)
    for transport in ("local", "adb", "ssh"):
        assert f'"{transport}"' in text
    assert schema["properties"]["devices"]["type"] == "object"


def test_a_key_left_out_takes_the_default_the_schema_documents(tmp_path: Path) -> None:
    documented = devices_json_schema()["$defs"]
    path = write(
        tmp_path / "d.yaml",
        """
devices:
  host: {transport: local, delegates: [cpu], cooldown: {max_temp_c: 60}}
  pixel8: {transport: adb, serial: "127.0.0.1:5555", delegates: [cpu]}
  coral: {transport: ssh, host: coral.lab, delegates: [cpu]}
""",
    )
    host, phone, board = (device.options for device in load_devices(path))

    def default(section: str, key: str) -> object:
        return documented[section]["properties"][key]["default"]

    assert [*host.threads] == default("LocalDevice", "threads")
    assert host.python == default("LocalDevice", "python")
    assert host.cooldown and host.cooldown.timeout_s == default("Cooldown", "timeout_s")
    assert phone.adb_host == default("AdbDevice", "adb_host")
    assert phone.adb_port == default("AdbDevice", "adb_port")
    assert board.port == default("SshDevice", "port")
    assert board.check_host_key == default("SshDevice", "check_host_key")
    # A device built in code (spec's records: fakes, tests) takes the very same defaults.
    in_code = (
        DeviceOptions(), CooldownSpec(60), AdbOptions(serial="s"), SshOptions(host="h"),
    )  # fmt: skip
    assert (host.threads, host.python, host.cooldown.timeout_s) == (
        in_code[0].threads, in_code[0].python, in_code[1].timeout_s,
    )  # fmt: skip
    assert (phone.adb_host, phone.adb_port) == (in_code[2].adb_host, in_code[2].adb_port)
    assert (board.port, board.check_host_key) == (in_code[3].port, in_code[3].check_host_key)


def _model_dir(tmp_path: Path, sha: str | None = None, file: str = "a.tflite") -> Path:
    data = b"TFL3 not really a model"
    (tmp_path / "a.tflite").write_bytes(data)
    digest = sha or hashlib.sha256(data).hexdigest()
    write(
        tmp_path / "models.yaml",
        f"models:\n  a_fp32: {{file: {file}, sha256: {digest}, variant: fp32, family: a}}\n",
    )
    return tmp_path


def test_manifest_models_carry_name_sha_and_variant(tmp_path: Path) -> None:
    (model,) = load_models(_model_dir(tmp_path))
    assert (model.name, model.variant, model.family) == ("a_fp32", "fp32", "a")
    assert model.sha256 == hashlib.sha256(b"TFL3 not really a model").hexdigest()


def test_a_sha256_mismatch_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.a_fp32\.sha256: a\.tflite has sha256"):
        load_models(_model_dir(tmp_path, sha="f" * 64))


def test_a_missing_model_file_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.a_fp32\.file: gone\.tflite does not exist"):
        load_models(_model_dir(tmp_path, file="gone.tflite"))


def test_a_bare_folder_names_models_after_their_files(tmp_path: Path) -> None:
    (tmp_path / "x; touch pwned #.tflite").write_bytes(b"1")
    (tmp_path / "b.tflite").write_bytes(b"2")
    assert [m.name for m in load_models(tmp_path)] == ["b", "x; touch pwned #"]


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \.tflite files"):
        load_models(tmp_path)


def test_environment_variables_fill_in_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FARM_TEST_BOARD", "coral.lab")
    (device,) = load_devices(
        write(
            tmp_path / "d.yaml",
            """
devices:
  coral: {transport: ssh, host: "${FARM_TEST_BOARD}", delegates: [cpu]}
""",
        )
    )
    assert device.options.host == "coral.lab"


def test_an_unset_environment_variable_names_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.yaml",
        "devices:\n  c: {transport: ssh, host: '${FARM_UNSET_X}', delegates: [cpu]}\n",
    )
    with pytest.raises(ConfigError, match=r"devices\.c\.host: environment variable FARM_UNSET_X"):
        load_devices(path)
