"""NPU cells on the native runner, as Google's LiteRT tools run them on a phone.

LiteRT's ``benchmark_model`` (litert/tools/benchmark_litert_model.h, google-ai-edge/LiteRT
at f67457790c9c2ab67347d6fe53270e8d3df20868) takes ``--use_npu``, the folder holding the SoC
vendor's dispatch library (``libLiteRtDispatch_<Vendor>.so``) as ``--dispatch_library_path``,
the folder holding its compiler plugin (``libLiteRtCompilerPlugin_<Vendor>.so``, for JIT
compilation of a plain .tflite; an AOT-compiled model needs none) as
``--compiler_plugin_library_path`` and, optionally, ``--compiler_cache_path`` where a compiled
model is kept for the next load; the CPU stays on as the fallback unless
``--require_full_delegation``. Its TFLite-derived flag parser only warns about flags it does
not know ("Unconsumed cmdline flags", tflite/tools/benchmark/benchmark_model.cc).

The phone's loader must find the vendor runtime next to them: Qualcomm's guide pushes
libQnnHtp.so, libQnnSystem.so, libQnnHtp<arch>Stub.so and the DSP's libQnnHtp<arch>Skel.so
into one folder with libLiteRt.so and both LiteRT libraries, then runs with
``LD_LIBRARY_PATH`` and ``ADSP_LIBRARY_PATH`` both set to it
(litert/vendors/qualcomm/doc/HTP_INSTRUCTIONS.md, same commit). The farm does the same with
the device's ``npu_libraries`` folder: every file pushed, by name, under one folder named by
the set's content, once per device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from farm.hashing import file_sha256

# Where the loader and the DSP look, each with its separator; the user's own value
# (devices.yaml env) is kept after ours.
LIBRARY_PATHS = {"LD_LIBRARY_PATH": ":", "ADSP_LIBRARY_PATH": ";"}


def npu_flags(library_dir: str) -> list[str]:
    """LiteRT benchmark_model's NPU flags, the dispatch library and plugin in ``library_dir``."""
    return [
        "--use_npu=true",
        f"--dispatch_library_path={library_dir}",
        f"--compiler_plugin_library_path={library_dir}",
    ]


def npu_env(library_dir: str, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with ``library_dir`` first in LD_LIBRARY_PATH (':'-separated) and
    ADSP_LIBRARY_PATH, which the DSP side splits at ';': LiteRT's QNN manager prepends its
    folder with ';' (litert/vendors/qualcomm/qnn_manager.cc), TFLite's Hexagon delegate sets
    "<dir>;/system/lib/rfsa/adsp;/system/vendor/lib/rfsa/adsp;/dsp" (hexagon_delegate.cc)."""
    found = dict(env)
    for name, sep in LIBRARY_PATHS.items():
        found[name] = f"{library_dir}{sep}{env[name]}" if env.get(name) else library_dir
    return found


def library_files(folder: Path) -> list[tuple[Path, str]]:
    """Each file of the host folder with its sha256, by name (the loader finds them so)."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return [(path, file_sha256(path)) for path in files]


def library_set_digest(files: list[tuple[Path, str]]) -> str:
    """One name for the set: a changed or added library is a new folder on the device."""
    listing = "\n".join(f"{path.name} {sha}" for path, sha in files)
    return hashlib.sha256(listing.encode()).hexdigest()
