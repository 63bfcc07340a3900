"""Google's official prebuilt ``benchmark_model``, fetched into the user cache on first use.

Google publishes a nightly build of the tool per platform, under one base URL, as
``<platform>_benchmark_model`` (tensorflow/lite/tools/benchmark/README.md, "Nightly prebuilt
binaries"; the LiteRT guide "Performance measurement"): ``android_aarch64``, ``android_arm``,
``linux_x86-64``, ``linux_aarch64`` and ``linux_arm``. An Android and a Linux binary of one ABI
are different files (bionic or glibc), so the cache keeps them apart by platform::

    ~/.cache/tflite-farm/benchmark_model/android_aarch64/benchmark_model
    ~/.cache/tflite-farm/benchmark_model/android_aarch64/benchmark_model.source.json

A download goes to a temporary file in that folder and is renamed only once it is whole, is an
ELF executable and is built for the platform's ABI: nothing half-written is ever left where the
farm looks. The sidecar JSON keeps the URL and sha256 for the run's provenance.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import platform as host
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from farm.errors import FetchError
from farm.runners.benchmark_model.provision import BINARY, cache_root, device_abi, elf_abi

# The published folder of the nightly builds (see the module docstring for where it is named).
OFFICIAL_BASE_URL = (
    "https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/"
    "tools/nightly/latest"
)
BASE_URL_VARIABLE = "FARM_PREBUILT_URL"  # a lab mirror holding the same file names
OFFLINE_VARIABLE = "FARM_OFFLINE"  # "1": never download (as `farm run --offline`)
# Each published platform and the ABI its ELF header must say.
PLATFORMS = {
    "android_aarch64": "arm64-v8a",
    "android_arm": "armeabi-v7a",
    "linux_x86-64": "x86_64",
    "linux_aarch64": "arm64-v8a",
    "linux_arm": "armeabi-v7a",
}
SOURCE_SUFFIX = ".source.json"
CHUNK_BYTES = 1 << 16
TIMEOUT_S = 60.0
Progress = Callable[[int, "int | None"], None]  # bytes so far, bytes in all (None: unknown)
_ONE_AT_A_TIME = threading.Lock()  # two devices of one platform download it once


@dataclass(frozen=True)
class Prebuilt:
    """A binary in the cache and where it came from."""

    path: Path
    sha256: str
    url: str


def base_url() -> str:
    return (os.environ.get(BASE_URL_VARIABLE) or OFFICIAL_BASE_URL).rstrip("/")


def prebuilt_url(platform: str) -> str:
    return f"{base_url()}/{platform}_{BINARY}"


def offline() -> bool:
    return os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0")


def device_platform(description: Mapping[str, Any] | None) -> str | None:
    """The published platform for a device: Android when it answered getprop (an ``abi``),
    Linux otherwise; None when none of PLATFORMS fits (an x86_64 Android)."""
    abi = device_abi(description)
    system = "android" if description and description.get("abi") else "linux"
    for platform, platform_abi in PLATFORMS.items():
        if platform.startswith(system) and platform_abi == abi:
            return platform
    return None


def host_platform() -> str | None:
    """This machine's Linux platform (``linux_x86-64`` here), or None if none is published."""
    return device_platform({"machine": host.machine()})


def cached_prebuilt(platform: str, cache: Path | None = None) -> Path:
    return (cache or cache_root()) / platform / BINARY


def source_of(binary: Path) -> dict[str, Any] | None:
    """The URL and sha256 recorded when ``binary`` was fetched; None for one placed by hand."""
    try:
        return dict(json.loads(Path(f"{binary}{SOURCE_SUFFIX}").read_text()))
    except (OSError, ValueError):
        return None


def fetch_prebuilt(
    platform: str,
    cache: Path | None = None,
    progress: Progress | None = None,
    again: bool = False,
) -> Prebuilt:
    """Download the platform's official binary into the cache; FetchError naming the URL,
    the cache folder and how to place a file by hand. Nothing partial is left behind. A binary
    fetched meanwhile (by another device's worker) is used, unless ``again``."""
    url = prebuilt_url(platform)
    destination = cached_prebuilt(platform, cache)
    with _ONE_AT_A_TIME:
        source = source_of(destination) if destination.is_file() and not again else None
        if source is not None:
            return Prebuilt(destination, str(source.get("sha256")), str(source.get("url")))
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{BINARY}.", dir=destination.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                sha256 = _download(url, file, progress)
            _check(Path(temporary), platform)
            Path(temporary).chmod(0o755)
            os.replace(temporary, destination)
        except FetchError as exc:
            raise FetchError(fetch_advice(platform, exc.args[0], cache)) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        record = {"url": url, "sha256": sha256, "platform": platform}
        Path(f"{destination}{SOURCE_SUFFIX}").write_text(json.dumps(record, indent=2) + "\n")
    return Prebuilt(destination, sha256, url)


def fetch_advice(platform: str, problem: str, cache: Path | None = None) -> str:
    """One line: what went wrong, and the three ways to a binary."""
    destination = cached_prebuilt(platform, cache)
    return (
        f"{problem}; nothing was written to {destination.parent}. Fix: run `farm runner fetch "
        f"--abi {platform}` where {prebuilt_url(platform)} can be reached, set "
        f"{BASE_URL_VARIABLE} to a mirror holding {platform}_{BINARY}, or place the file by "
        f"hand at {destination} (chmod 755)"
    )


def _download(url: str, file: IO[bytes], progress: Progress | None) -> str:
    """Stream ``url`` into ``file``; its sha256. FetchError for an HTTP error, an HTML page
    or a body shorter than its Content-Length."""
    digest, done, total = hashlib.sha256(), 0, None
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            if "html" in response.headers.get("Content-Type", ""):
                raise FetchError(f"{url} answered with an HTML page, not the binary")
            total = _length(response.headers.get("Content-Length"))
            while chunk := response.read(CHUNK_BYTES):
                file.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except http.client.IncompleteRead:
        pass  # a body shorter than its Content-Length: said below
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise FetchError(f"cannot fetch {url}: {getattr(exc, 'reason', None) or exc}") from exc
    if total is not None and done != total:
        raise FetchError(f"cannot fetch {url}: the download stopped at {done} of {total} bytes")
    return digest.hexdigest()


def _check(path: Path, platform: str) -> None:
    """The file must be an executable ELF built for the platform's ABI."""
    built_for = elf_abi(path)
    if built_for is None:
        start = path.read_bytes()[:40].decode("ascii", "replace").split("\n")[0]
        raise FetchError(f"what was downloaded is not an ELF executable (it starts {start!r})")
    if built_for != PLATFORMS[platform]:
        raise FetchError(
            f"what was downloaded is built for {built_for}, not {PLATFORMS[platform]} ({platform})"
        )


def _length(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
