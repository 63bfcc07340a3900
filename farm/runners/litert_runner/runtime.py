"""Which TFLite runtime this device has (the first importable, or the one asked for), and the
probe that tells the farm what the device can run before any cell is measured."""

from __future__ import annotations

import importlib
import platform

from .outcome import CellOutcome, reason_of

RUNTIMES = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow.lite.python.interpreter", "tensorflow"),
)
EDGETPU_LIBRARY = "libedgetpu.so.1"


def load_runtime(preferred: str | None) -> tuple[str, str, object]:
    """Import the first TFLite runtime available (or the one asked for); name, version, module."""
    errors = []
    for name, module_name, dist in RUNTIMES:
        if preferred and name != preferred:
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            errors.append(f"{name}: {exc}")  # or AttributeError ("_ARRAY_API not found")
            continue
        return name, dist_version(dist, module), module
    raise CellOutcome("failed", "infra", "no TFLite runtime importable (" + "; ".join(errors) + ")")


def dist_version(dist: str, module: object) -> str:
    """The installed distribution's version, else the module's ``__version__``."""
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return str(getattr(module, "__version__", "unknown"))


def probe() -> dict:
    """What this device can run: each runtime's version or why it does not import, and
    whether the Edge TPU runtime loads. ``runner.pyz --probe`` prints it as JSON."""
    runtimes, first = {}, None
    for name, _, _ in RUNTIMES:
        try:
            _, version, module = load_runtime(name)
            runtimes[name] = {"version": version}
            first = first or module
        except CellOutcome as outcome:
            runtimes[name] = {"error": outcome.reason}
    facts = {"python": platform.python_version(), "machine": platform.machine()}
    facts.update(runtimes=runtimes, edgetpu=_probe_edgetpu(first))
    return facts


def _probe_edgetpu(rt: object) -> dict:
    if rt is None:
        return {"error": "no TFLite runtime to load it with"}
    try:
        rt.load_delegate(EDGETPU_LIBRARY)
    except (ValueError, OSError, RuntimeError) as exc:
        return {"error": f"{EDGETPU_LIBRARY} did not load ({reason_of(exc)})"}
    return {"library": EDGETPU_LIBRARY}
