"""benchmark_model's side of parity: the run's inputs as raw tensor files, the raw outputs it
writes as the arrays parity reads.

The tool reads an input file as the tensor's bytes and writes every output of its last run one
after another (``--output_filepath``), so the host does the conversions the Python runner does
on the device: the same functions, taken from the runner's module.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from farm.modelinfo import ModelInfo, TensorInfo
from farm.runners.benchmark_model.argv import InputFile
from farm.runners.litert_runner import as_input, output_arrays


def raw_inputs(inputs_npz: Path, info: ModelInfo) -> list[tuple[TensorInfo, Path]]:
    """One raw file per input of the model, written once next to the run's input file. Named
    by the model's hash: variants share the .npz but not the dtype of their tensors."""
    import numpy as np

    files = []
    with np.load(inputs_npz) as stored:
        for i, tensor in enumerate(info.inputs):
            path = inputs_npz.parent / f"{info.sha256[:16]}-input_{i}.bin"
            if not path.exists():
                value = as_input(stored[f"input_{i}"], _detail(tensor))
                path.write_bytes(np.asarray(value).tobytes())
            files.append((tensor, path))
    return files


def input_file(tensor: TensorInfo, remote: str) -> InputFile:
    return InputFile(tensor.name, tensor.shape, remote)


def read_raw_outputs(raw: bytes, info: ModelInfo) -> dict[str, Any]:
    """``output_0``, ``scale_0``, ... from the tool's output file; ValueError when its size is
    not that of the model's outputs (a dynamic shape, or a file cut short)."""
    import numpy as np

    counts = [math.prod(t.shape) for t in info.outputs]
    sizes = [n * np.dtype(t.dtype).itemsize for n, t in zip(counts, info.outputs, strict=True)]
    if len(raw) != sum(sizes):
        shapes = ", ".join(f"{t.dtype}{list(t.shape)}" for t in info.outputs)
        raise ValueError(f"{len(raw)} bytes, but the model's outputs ({shapes}) are {sum(sizes)}")
    arrays: dict[str, Any] = {}
    offset = 0
    for i, (tensor, count, size) in enumerate(zip(info.outputs, counts, sizes, strict=True)):
        value = np.frombuffer(raw, np.dtype(tensor.dtype), count, offset).reshape(tensor.shape)
        arrays.update(output_arrays(i, value, _detail(tensor)))
        offset += size
    return arrays


def _detail(tensor: TensorInfo) -> dict[str, Any]:
    """The tensor as LiteRT's get_input_details() / get_output_details() describe it."""
    import numpy as np

    quantization = (tensor.scale or 0.0, tensor.zero_point or 0)
    return {"dtype": np.dtype(tensor.dtype), "shape": tensor.shape, "quantization": quantization}
