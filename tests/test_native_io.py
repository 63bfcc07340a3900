"""benchmark_model's parity files, made and read on the host: the run's inputs as the raw bytes
each input tensor takes, the tool's raw output file as the arrays the Python runner saves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from farm.modelinfo import inspect_model
from farm.parity import make_inputs, save_arrays
from farm.runners.benchmark_model.tensor_files import raw_inputs, read_raw_outputs
from farm.spec import InputSpec

from .lab import MODELS


def run_inputs(tmp_path: Path, model: Path) -> Path:
    """The run's seeded input file for a model, as `farm run` writes it."""
    info = inspect_model(model)
    specs = [InputSpec(t.name, t.shape, t.dtype, t.quantized) for t in info.inputs]
    path = tmp_path / "inputs.npz"
    save_arrays(path, make_inputs(specs, seed=3))
    return path


def litert_outputs(model: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_path=str(model), experimental_op_resolver_type=builtin)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


@pytest.mark.parametrize("model", ["kws_dscnn_fp32", "kws_dscnn_int8"])
def test_raw_inputs_are_the_tensors_the_python_runner_sets(tmp_path: Path, model: str) -> None:
    path = MODELS / f"{model}.tflite"
    info = inspect_model(path)
    files = raw_inputs(run_inputs(tmp_path, path), info)
    assert [tensor.name for tensor, _ in files] == [t.name for t in info.inputs]
    for tensor, file in files:
        value = np.frombuffer(file.read_bytes(), tensor.dtype).reshape(tensor.shape)
        if tensor.quantized:  # float values in [-1, 1] quantized with the tensor's own scale
            real = (value.astype(np.float32) - (tensor.zero_point or 0)) * (tensor.scale or 0)
            assert np.abs(real).max() <= 1 + (tensor.scale or 0)
        assert len(np.unique(value)) > 10  # seeded values, not zeros


def test_the_tools_raw_output_reads_as_the_runners_dequantized_outputs(tmp_path: Path) -> None:
    path = MODELS / "kws_dscnn_int8.tflite"
    info = inspect_model(path)
    inputs = [
        np.frombuffer(f.read_bytes(), t.dtype).reshape(t.shape)
        for t, f in raw_inputs(run_inputs(tmp_path, path), info)
    ]
    outputs = litert_outputs(path, inputs)
    arrays = read_raw_outputs(b"".join(o.tobytes() for o in outputs), info)
    (tensor,) = info.outputs
    expected = (outputs[0].astype(np.float32) - (tensor.zero_point or 0)) * np.float32(tensor.scale)
    assert set(arrays) == {"output_0", "scale_0"}
    assert np.array_equal(arrays["output_0"], expected)
    assert arrays["scale_0"] == np.float32(tensor.scale)


def test_an_output_file_of_the_wrong_size_names_both_sizes() -> None:
    info = inspect_model(MODELS / "kws_dscnn_fp32.tflite")
    with pytest.raises(
        ValueError, match=r"399 bytes, but the model's outputs \(float32\[1, 12\]\)"
    ):
        read_raw_outputs(bytes(399), info)
