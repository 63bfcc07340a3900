"""Google's prebuilt benchmark_model, fetched into the user cache: `farm runner fetch` and the
automatic fetch of a run, against a real HTTP server on loopback (the "official" URL pointed at
it with FARM_PREBUILT_URL, as a lab mirror would be) serving the lab's real build.

Every way a download goes wrong is one clear error naming the URL, the cache folder and how to
place a file by hand, and leaves nothing in the cache.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from farm.cli.sim import phone_binary
from farm.errors import FetchError
from farm.runners.benchmark_model.prebuilt import fetch_prebuilt
from farm.runners.benchmark_model.provision import BINARY

from .lab import KWS, Devices, farm, run_lab
from .native.programs import foreign_binary, real_benchmark_model

PLATFORM = "linux_x86-64"  # the ABI of the lab's build, and of this host's boards
FILE = f"/{PLATFORM}_{BINARY}"
Route = tuple[int, dict[str, str], bytes]  # status, headers, body


@contextlib.contextmanager
def serving(routes: dict[str, Route]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering ``routes`` (404 elsewhere); its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = routes.get(self.path, (404, {}, b"Not Found"))
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/nightly/latest"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def lab_build() -> bytes:
    """The lab's real build, read before a test's own user cache replaces the user's."""
    return real_benchmark_model().read_bytes()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache (the farm honours XDG_CACHE_HOME); the benchmark_model folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FARM_OFFLINE", raising=False)
    return tmp_path / "cache" / "tflite-farm" / BINARY


def official(body: bytes, **headers: str) -> dict[str, Route]:
    return {f"/nightly/latest{FILE}": (200, headers, body)}


@pytest.mark.lab  # serves the lab's real build as the official binary
def test_fetch_puts_the_official_binary_in_the_cache_with_its_source(
    lab_build: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = lab_build
    with serving(official(build)) as base:
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        code, shown = farm("runner", "fetch", "--abi", PLATFORM)
    binary = cache / PLATFORM / BINARY
    assert code == 0, shown
    assert binary.read_bytes() == build and binary.stat().st_mode & 0o111
    source = json.loads((cache / PLATFORM / f"{BINARY}.source.json").read_text())
    assert source["url"] == f"{base}{FILE}" and f"from   {base}{FILE}" in shown
    assert sorted(p.name for p in (cache / PLATFORM).iterdir()) == [BINARY, f"{BINARY}.source.json"]


def assert_refused(cache: Path, error: str, base: str, why: str) -> None:
    assert why in error
    assert f"{base}{FILE}" in error and str(cache / PLATFORM) in error
    assert f"place the file by hand at {cache / PLATFORM / BINARY}" in error
    assert list((cache / PLATFORM).iterdir()) == []  # no temporary file, no binary


@pytest.mark.parametrize(
    ("route", "why"),
    [
        pytest.param((404, {}, b"Not Found"), "HTTP 404", id="not-found"),
        pytest.param(
            (200, {"Content-Length": "99999"}, b"\x7fELF" + b"\0" * 60),
            "the download stopped at 64 of 99999 bytes",
            id="truncated",
        ),
        pytest.param(
            (200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><title>Sign in</title>"),
            "answered with an HTML page, not the binary",
            id="html-page",
        ),
        pytest.param(
            (200, {"Content-Type": "application/octet-stream"}, b"<html>quota exceeded</html>"),
            "is not an ELF executable (it starts '<html>quota exceeded</html>')",
            id="html-as-binary",
        ),
    ],
)
def test_a_bad_download_is_one_clear_error_and_leaves_nothing(
    cache: Path, monkeypatch: pytest.MonkeyPatch, route: Route, why: str
) -> None:
    with serving({f"/nightly/latest{FILE}": route}) as base:
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        with pytest.raises(FetchError) as refused:
            fetch_prebuilt(PLATFORM)
    assert_refused(cache, str(refused.value), base, why)


def test_a_binary_for_another_abi_is_refused(
    cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    arm64 = foreign_binary(tmp_path).read_bytes()
    with serving(official(arm64)) as base:
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        code, shown = farm("runner", "fetch", "--abi", PLATFORM)
    (error,) = [line for line in shown.splitlines() if line.startswith("farm: error: ")]
    assert code == 1
    assert_refused(cache, error, base, "is built for arm64-v8a, not x86_64 (linux_x86-64)")


def native_host(tmp_path: Path) -> Devices:
    """This host as a native device that names no binary."""
    board = {"transport": "local", "runner": "benchmark_model", "delegates": ["cpu"]}
    return {"board": board | {"threads": [1], "workdir": tmp_path / "work"}}


@pytest.mark.lab  # serves the lab's real build as the official binary
def test_a_run_fetches_what_a_device_lacks_and_records_where_from(
    lab_build: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with serving(official(lab_build)) as base:
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        row = run_lab(tmp_path, native_host(tmp_path), KWS, runs=3).iloc[0]
    assert row.status == "ok", row.reason
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())
    binary = recorded["devices"]["board"]["benchmark_model"]
    assert binary["url"] == f"{base}{FILE}" and binary["path"] == str(cache / PLATFORM / BINARY)
    assert row.runtime_version == f"sha256:{binary['sha256'][:12]}"


@pytest.mark.parametrize("how", ["--offline", "FARM_OFFLINE=1"])
def test_an_offline_run_fetches_nothing_and_says_how_to_get_the_binary(
    cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    if how == "FARM_OFFLINE=1":
        monkeypatch.setenv("FARM_OFFLINE", "1")
    with serving({}) as base:  # it would answer 404: it must not even be asked
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        offline = how == "--offline"
        row = run_lab(tmp_path, native_host(tmp_path), KWS, runs=3, offline=offline).iloc[0]
    assert (row.status, row.failure_kind) == ("failed", "infra")
    assert row.reason.startswith(f"pre-flight: {base}{FILE} was not fetched: downloads are off")
    assert f"farm runner fetch --abi {PLATFORM}" in row.reason
    assert f"place the file by hand at {cache / PLATFORM / BINARY}" in row.reason
    assert not (cache / PLATFORM / BINARY).exists()


@pytest.mark.lab  # serves the lab's real build as the official binary
def test_the_demo_phones_get_the_fetched_linux_build(
    lab_build: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The virtual phones run this host's binaries: `farm sim up --fetch-runner` names the
    fetched Linux build in the devices.yaml it writes."""
    with serving(official(lab_build)) as base:
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        assert phone_binary(fetch=True) == str(cache / PLATFORM / BINARY)


def test_the_demo_says_once_what_to_do_when_it_cannot_fetch(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving({}) as base:
        monkeypatch.setenv("FARM_PREBUILT_URL", base)
        assert phone_binary(fetch=True) is None
    said = capsys.readouterr().err
    assert said.count("farm: ") == 1 and "HTTP 404" in said
    assert "place the file by hand" in said and "farm sim up --profile linux-python" in said
