"""The orchestrator's own logic, on fake targets: journaling, failures as rows, staging, stop."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from farm.errors import DeviceUnavailable, TargetError, TargetTimeout
from farm.matrix import expand
from farm.orchestrator import RunPlan, execute
from farm.spec import CooldownSpec, Device, DeviceOptions, Model, RunSettings
from farm.store import read_journal
from farm.targets.base import CommandResult
from farm.targets.fake import FakeTarget, argv_value

Behaviour = Callable[[list[str]], dict | None]


def ok_runner(argv: list[str]) -> dict | None:
    return {
        "status": "ok",
        "runtime": "ai_edge_litert",
        "runtime_version": "9.9",
        "init_ms": 3.0,
        "first_inference_ms": 2.0,
        "samples_ms": [1.0, 1.2, 1.1, 1.3],
    }


PROBE = {"python": "3.11", "runtimes": {"ai_edge_litert": {"version": "9.9"}}}


def fake_device(
    behaviour: Behaviour = ok_runner,
) -> Callable[[FakeTarget, list[str]], CommandResult]:
    """A device whose shell answers sha256sum/mkdir and whose runner does ``behaviour``."""

    def handle(target: FakeTarget, argv: list[str]) -> CommandResult:
        if argv[0] == "sha256sum":
            data = target.files.get(argv[1])
            out = f"{hashlib.sha256(data).hexdigest()}  {argv[1]}\n" if data is not None else ""
            return CommandResult(tuple(argv), 0 if out else 1, out)
        if argv[0] in ("mkdir", "rm", "touch", "sh"):
            return CommandResult(tuple(argv), _shell(target, argv), "")
        if "--probe" in argv:  # the pre-flight: a runtime imports; free space is not told
            return CommandResult(tuple(argv), 0, json.dumps(PROBE) + "\n")
        if argv[0] == "df":
            return CommandResult(tuple(argv), 1, "")
        written = behaviour(argv)
        if written is not None:
            target.files[argv_value(argv, "--out") or ""] = json.dumps(written).encode()
        return CommandResult(tuple(argv), 0 if written else -11, "Segmentation fault")

    return handle


def _shell(target: FakeTarget, argv: list[str]) -> int:
    """The few file commands the farm runs besides the runner (lock, thermal, staging)."""
    dirs = target.files.setdefault("<dirs>", b"").decode().split("\n")
    if argv[0] == "mkdir" and argv[1] != "-p":
        if argv[1] in dirs:
            return 1
        target.files["<dirs>"] = "\n".join([*dirs, argv[1]]).encode()
    if argv[0] == "rm":
        target.files["<dirs>"] = "\n".join(d for d in dirs if d != argv[-1]).encode()
    return 0


@pytest.fixture
def model(tmp_path: Path) -> Model:
    path = tmp_path / "m.tflite"
    path.write_bytes(b"model bytes")
    return Model("m", str(path), hashlib.sha256(b"model bytes").hexdigest(), 11)


def plan_for(
    tmp_path: Path,
    model: Model,
    delegates: tuple[str, ...] = ("cpu", "xnnpack"),
    devices: tuple[str, ...] = ("phone",),
    extra: tuple[str, ...] = (),
) -> RunPlan:
    options = DeviceOptions(threads=(1, 2))
    lab = [Device(name, "fake", delegates, options=options) for name in devices]
    cells, skips = expand(lab, [model], [*delegates, *extra] if extra else None)
    return RunPlan(
        "r1",
        tmp_path / "run",
        tuple(cells),
        tuple(skips),
        RunSettings(runs=4, seed=0, retry_backoff_s=0.01),
    )


def run(plan: RunPlan, targets: dict[str, FakeTarget], **kw: object):
    return execute(plan, open_target=lambda device: targets[device.name], **kw)  # type: ignore[arg-type]


def test_every_cell_is_journaled_with_statistics_from_its_samples(
    tmp_path: Path, model: Model
) -> None:
    plan = plan_for(tmp_path, model, extra=("gpu",))
    target = FakeTarget("phone", fake_device())
    recorder = run(plan, {"phone": target})
    rows = read_journal(plan.run_dir / "journal.jsonl")
    assert len(rows) == len(recorder.results) == 6
    ok = [r for r in rows if r.status == "ok"]
    assert len(ok) == 4
    assert ok[0].latency_median_ms == pytest.approx(1.15)
    assert ok[0].latency_count == 4  # the samples the numbers stand for
    assert ok[0].runtime_version == "9.9" and ok[0].device_fingerprint
    skipped = [r for r in rows if r.status == "skipped"]
    assert {(r.delegate, r.threads) for r in skipped} == {("gpu", 1), ("gpu", 2)}
    assert all("does not list delegate gpu" in (r.reason or "") for r in skipped)
    assert target.closed


def test_a_failing_cell_is_a_row_and_the_others_still_run(tmp_path: Path, model: Model) -> None:
    def model_fails_on_xnnpack(argv: list[str]) -> dict | None:
        if argv_value(argv, "--delegate") == "xnnpack":
            return {
                "status": "failed",
                "failure_kind": "model",
                "reason": "unresolved custom op: Foo",
            }
        return ok_runner(argv)

    recorder = run(
        plan_for(tmp_path, model),
        {"phone": FakeTarget("phone", fake_device(model_fails_on_xnnpack))},
    )
    by_delegate = {(r.delegate, r.status, r.failure_kind) for r in recorder.results}
    assert by_delegate == {("cpu", "ok", None), ("xnnpack", "failed", "model")}
    assert all(r.latency_median_ms is None for r in recorder.results if r.status == "failed")


def test_a_runner_that_crashes_without_output_is_an_infra_row_with_its_output(
    tmp_path: Path, model: Model
) -> None:
    recorder = run(
        plan_for(tmp_path, model, ("cpu",)),
        {"phone": FakeTarget("phone", fake_device(lambda argv: None))},
    )
    assert {r.failure_kind for r in recorder.results} == {"infra"}
    assert "signal 11" in (recorder.results[0].reason or "")
    assert "Segmentation fault" in (recorder.results[0].reason or "")


def test_timeouts_and_transport_errors_are_classified(tmp_path: Path, model: Model) -> None:
    def broken(argv: list[str]) -> dict | None:
        if argv_value(argv, "--threads") == "1":
            raise TargetTimeout("phone", argv, 5)
        raise TargetError("phone", "device offline")

    recorder = run(
        plan_for(tmp_path, model, ("cpu",)), {"phone": FakeTarget("phone", fake_device(broken))}
    )
    kinds = {r.threads: (r.failure_kind, r.reason) for r in recorder.results}
    assert kinds[1][0] == "timeout" and "timed out after 5 s" in kinds[1][1]
    assert kinds[2] == ("infra", "phone: device offline")


def test_an_unreachable_device_fails_its_cells_while_others_finish(
    tmp_path: Path, model: Model
) -> None:
    plan = plan_for(tmp_path, model, devices=("phone", "board"))

    def open_target(device: Device) -> FakeTarget:
        if device.name == "board":
            raise DeviceUnavailable("board", "host unreachable")
        return FakeTarget("phone", fake_device())

    recorder = execute(plan, open_target=open_target)  # type: ignore[arg-type]
    status = {(r.device, r.status) for r in recorder.results}
    assert status == {("phone", "ok"), ("board", "failed")}
    assert all(
        r.reason == "board: host unreachable" for r in recorder.results if r.device == "board"
    )


def test_unchanged_files_are_not_pushed_again(tmp_path: Path, model: Model) -> None:
    target = FakeTarget("phone", fake_device())
    run(plan_for(tmp_path / "a", model), {"phone": target})
    first = target.pushed_bytes
    run(plan_for(tmp_path / "b", model), {"phone": target})
    assert first > 0 and target.pushed_bytes == first


def test_a_stop_request_starts_no_new_cell_and_keeps_finished_ones(
    tmp_path: Path, model: Model
) -> None:
    stop = threading.Event()

    def stop_after_first(argv: list[str]) -> dict | None:
        stop.set()
        return ok_runner(argv)

    plan = plan_for(tmp_path, model)
    recorder = run(plan, {"phone": FakeTarget("phone", fake_device(stop_after_first))}, stop=stop)
    assert len(recorder.results) == 1
    assert len(read_journal(plan.run_dir / "journal.jsonl")) == 1


def test_an_infra_failure_is_retried_and_the_retry_counts(tmp_path: Path, model: Model) -> None:
    calls: list[str] = []

    def flaky_once(argv: list[str]) -> dict | None:
        calls.append(argv_value(argv, "--delegate") or "")
        if len(calls) == 1:
            raise TargetError("phone", "usb reset")
        return ok_runner(argv)

    plan = plan_for(tmp_path, model, ("cpu",))
    recorder = run(plan, {"phone": FakeTarget("phone", fake_device(flaky_once))})
    first = sorted(recorder.results, key=lambda r: r.started_at or "")[0]
    assert (first.status, first.attempt) == ("ok", 2)
    lines = (plan.run_dir / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 3  # the failed attempt is journaled too
    assert "phone: usb reset" in lines[0]


def test_a_device_failing_for_infra_reasons_is_quarantined(tmp_path: Path, model: Model) -> None:
    def gone(argv: list[str]) -> dict | None:
        raise TargetError("phone", "device offline")

    target = FakeTarget("phone", fake_device(gone))
    plan = plan_for(tmp_path, model)
    recorder = run(plan, {"phone": target})
    rows = sorted(recorder.results, key=lambda r: r.started_at or "")
    assert [r.attempt for r in rows] == [2, 2, 1, 1]
    assert all(
        r.reason.startswith("quarantined after 2 infra failures: phone: device offline")
        for r in rows[2:]
    )
    runner_calls = [c for c in target.commands if "--out" in c]
    assert len(runner_calls) == 4  # two cells, two attempts each; none after quarantine


def test_a_device_that_fails_while_being_locked_fails_its_cells_not_the_run(
    tmp_path: Path, model: Model
) -> None:
    def no_lock(target: FakeTarget, argv: list[str]) -> CommandResult:
        if argv[0] == "mkdir":
            raise TargetError("phone", "device offline")
        return fake_device()(target, argv)

    plan = plan_for(tmp_path, model, devices=("phone", "board"))
    targets = {"phone": FakeTarget("phone", no_lock), "board": FakeTarget("board", fake_device())}
    recorder = run(plan, targets)
    status = {(r.device, r.status, r.reason) for r in recorder.results}
    assert status == {("phone", "failed", "phone: device offline"), ("board", "ok", None)}
    assert targets["phone"].closed


def test_temperature_and_frequency_around_each_cell_and_cooldown_before_it(
    tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from farm.orchestrator import facts
    from farm.targets.thermal import FREQUENCIES, ZONES

    monkeypatch.setattr(facts, "COOLDOWN_POLL_S", 0.01)
    readings = iter([52000, 48000, 41000, 39000] + [38000] * 50)  # millidegrees, cooling

    def hot_phone(target: FakeTarget, argv: list[str]) -> CommandResult:
        if argv[:2] == ["sh", "-c"] and argv[2] == ZONES:
            return CommandResult(tuple(argv), 0, f"{next(readings)}\n1000\n")
        if argv[:2] == ["sh", "-c"] and argv[2] == FREQUENCIES:
            return CommandResult(tuple(argv), 0, "1800000\n2400000\n")
        return fake_device()(target, argv)

    lab = [
        Device(
            "phone",
            "fake",
            ("cpu",),
            options=DeviceOptions(threads=(1,), cooldown=CooldownSpec(40.0, timeout_s=5.0)),
        )
    ]
    cells, _ = expand(lab, [model])
    plan = RunPlan("r1", tmp_path / "run", tuple(cells), (), RunSettings(runs=4, seed=0))
    (row,) = run(plan, {"phone": FakeTarget("phone", hot_phone)}).results
    assert row.temp_before_c == 39.0  # waited until below 40 °C
    assert row.temp_after_c == 38.0
    assert row.cpu_freq_before_mhz == row.cpu_freq_after_mhz == 2400.0
