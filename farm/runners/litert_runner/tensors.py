"""The cell's input tensors (seeded random or given) and its outputs as parity reads them."""

from __future__ import annotations

from .outcome import CellOutcome


def make_inputs(interpreter: object, seed: int, inputs_file: str | None) -> list:
    """One value per input of ``interpreter``: from ``inputs_file`` (input_0, ...) or seeded."""
    import numpy as np

    details = interpreter.get_input_details()
    if inputs_file:
        stored = np.load(inputs_file)
        return [as_input(stored[f"input_{i}"], d) for i, d in enumerate(details)]
    rng = np.random.default_rng(seed)
    return [_random_tensor(rng, d["shape"], np.dtype(d["dtype"])) for d in details]


def _random_tensor(rng: object, shape: object, dtype: object) -> object:
    import numpy as np

    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, size=tuple(shape)).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = max(info.min, -128), min(info.max, 127)
        return rng.integers(low, high, size=tuple(shape), endpoint=True).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 1, size=tuple(shape), endpoint=True).astype(dtype)
    raise CellOutcome("failed", "model", f"cannot make a random input of dtype {dtype}")


def as_input(value: object, detail: dict) -> object:
    """A given input in the tensor's own type. Float values for a quantized (int8/uint8)
    input are quantized with its scale and zero point, so every variant of a model family
    sees the same real-valued input and their outputs can be compared. The host makes
    benchmark_model's input files with it too (``detail`` as LiteRT's input details)."""
    import numpy as np

    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if value.dtype.kind == "f" and dtype.kind in "iu" and scale:
        info = np.iinfo(dtype)
        value = np.clip(np.round(value / scale) + zero_point, info.min, info.max)
    return np.asarray(value).astype(dtype).reshape(detail["shape"])


def set_inputs(interpreter: object, inputs: list) -> None:
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)


def output_arrays(i: int, value: object, detail: dict) -> dict:
    """``output_i`` as parity reads it (and ``scale_i``, one quantization step, when it was
    quantized); the host reads benchmark_model's raw outputs with it too."""
    import numpy as np

    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not (scale and value.dtype.kind in "iu"):
        return {f"output_{i}": value}
    real = (value.astype(np.float32) - zero_point) * np.float32(scale)
    return {f"output_{i}": real, f"scale_{i}": np.float32(scale)}


def save_arrays(tensors: dict, path: str) -> None:
    """``tensors`` as an .npz at exactly ``path``."""
    import numpy as np

    with open(path, "wb") as out:  # np.savez appends .npz to a bare path; a file object not
        np.savez(out, **tensors)
