"""Read a ``.tflite`` flatbuffer without running it: tensors, quantization, ops, signatures.

The reader is the generated FlatBuffers module of TFLite's ``schema.fbs`` that ships with LiteRT
(``ai_edge_litert.schema_py_generated``; TensorFlow ships the same file). It is imported on first
use so ``import farm.modelinfo`` stays light. The generated accessors trust the file, so a damaged
one surfaces as struct/index errors deep inside them; ``inspect_model`` turns every such failure
into a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from farm.errors import ConfigError

EDGETPU_CUSTOM_OP = "edgetpu-custom-op"  # the one op the Edge TPU compiler puts in its models
_SCHEMA_MODULES = (
    "ai_edge_litert.schema_py_generated",
    "tensorflow.lite.python.schema_py_generated",
)
# A FlatBuffer starts with the uint32 offset of its root table, then a 4-byte file identifier;
# TFLite's schema declares `file_identifier "TFL3"` (3 is the schema version, unchanged since 2017).
_FILE_IDENTIFIER = b"TFL3"
_HEADER_BYTES = 8
# Integer types that hold quantized values when the tensor carries a scale (int32 biases of an
# int8 model carry one too, but only ever next to int8 weights).
_QUANTIZED_TYPES = frozenset({"int8", "uint8", "int16", "int4", "uint4", "int2"})
# What a damaged or truncated buffer raises from the generated accessors and numpy views.
_DAMAGED = (struct.error, IndexError, ValueError, TypeError, OverflowError, UnicodeDecodeError)
_FIX = "pass a .tflite file written by the TFLite/LiteRT converter, or rebuild this one"


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor: ``dtype`` is the numpy name ("float32", "int8", ...).

    ``scale`` and ``zero_point`` are set for per-tensor quantization only; a per-channel tensor is
    ``quantized`` with both None. Types numpy lacks keep TFLite's name in lower case ("string").
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantized: bool
    scale: float | None
    zero_point: int | None


@dataclass(frozen=True)
class ModelInfo:
    """What a ``.tflite`` file declares; inputs and outputs are those of the main subgraph (0)."""

    path: str
    size_bytes: int
    sha256: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    op_histogram: dict[str, int]  # builtin op name ("CONV_2D") or custom op code -> count
    operators: int  # nodes of the main subgraph: what a runtime's execution plan starts with
    custom_ops: tuple[str, ...]  # sorted custom op codes that operators use
    subgraphs: int
    signatures: tuple[str, ...]
    quantized_tensors: int  # tensors of all subgraphs holding integer-quantized values

    @property
    def is_edgetpu(self) -> bool:
        """Compiled for the Edge TPU: its graph (or part of it) is one ``edgetpu-custom-op``."""
        return EDGETPU_CUSTOM_OP in self.custom_ops

    @property
    def is_quantized(self) -> bool:
        """Integer-quantized anywhere: int8/uint8 inputs or outputs, or quantized weights.

        float16 weights (the fp16 variant) do not count: they are dequantized to float32 at load.
        """
        ends = self.inputs + self.outputs
        return self.quantized_tensors > 0 or any(t.dtype in ("int8", "uint8") for t in ends)


def inspect_model(path: str | os.PathLike[str]) -> ModelInfo:
    """Read a ``.tflite`` file's structure; raise ConfigError if it is not a TFLite model."""
    data = _read(path)
    _check_header(data, path)
    try:
        return _model_info(str(path), data, _schema())
    except _DAMAGED as exc:
        raise _not_tflite(path, f"damaged or truncated flatbuffer ({exc})") from exc


class _BoundedBytes(bytes):
    """bytes whose slices past the end raise, instead of coming back short.

    The generated accessors read strings by slicing, so in a truncated file a tensor or custom op
    name would otherwise be silently cut rather than reported.
    """

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice) and key.stop is not None and key.stop > len(self):
            raise IndexError(f"reads up to byte {key.stop} of {len(self)}")
        return super().__getitem__(key)


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return _BoundedBytes(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}", "check the path") from exc


def _check_header(data: bytes, path: str | os.PathLike[str]) -> None:
    if not data:
        raise _not_tflite(path, "the file is empty")
    if len(data) < _HEADER_BYTES:
        raise _not_tflite(path, f"only {len(data)} bytes")
    if data[4:8] != _FILE_IDENTIFIER:
        raise _not_tflite(path, f"file identifier is {data[4:8]!r}, not {_FILE_IDENTIFIER!r}")
    root = struct.unpack_from("<I", data)[0]
    if root >= len(data):
        raise _not_tflite(path, f"root table offset {root} is past the end ({len(data)} bytes)")


def _not_tflite(path: str | os.PathLike[str], why: str) -> ConfigError:
    return ConfigError(str(path), "", f"not a TensorFlow Lite model: {why}", _FIX)


@functools.cache
def _schema() -> ModuleType:
    for name in _SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("reading .tflite files needs ai-edge-litert (or tensorflow) installed")


def _model_info(path: str, data: bytes, schema: ModuleType) -> ModelInfo:
    model = schema.Model.GetRootAs(data, 0)
    subgraphs = [model.Subgraphs(i) for i in range(model.SubgraphsLength())]
    if not subgraphs:
        raise _not_tflite(path, "it has no subgraphs")
    _check_buffers(model, len(data))
    ops = _operator_names(model, subgraphs, schema)
    main = subgraphs[0]
    return ModelInfo(
        path=path,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        inputs=tuple(_tensor_info(main, main.Inputs(i)) for i in range(main.InputsLength())),
        outputs=tuple(_tensor_info(main, main.Outputs(i)) for i in range(main.OutputsLength())),
        op_histogram=dict(Counter(name for name, _ in ops)),
        operators=main.OperatorsLength(),
        custom_ops=tuple(sorted({name for name, custom in ops if custom})),
        subgraphs=len(subgraphs),
        signatures=_signatures(model),
        quantized_tensors=sum(_quantized_tensor_count(s) for s in subgraphs),
    )


def _check_buffers(model: Any, size: int) -> None:
    """Bounds-check every weight buffer, so a truncated file fails here and not in a runtime."""
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        buffer.DataAsNumpy()  # a zero-copy view; raises ValueError when it overruns the file
        # Models over 2 GB keep weights after the flatbuffer, at offset/size (offset 1: unset).
        if buffer.Offset() > 1 and buffer.Offset() + buffer.Size() > size:
            raise ValueError(f"buffer {i} ends at {buffer.Offset() + buffer.Size()}")


def _operator_names(model: Any, subgraphs: list[Any], schema: ModuleType) -> list[tuple[str, bool]]:
    """(op name, is custom) of every operator of every subgraph."""
    codes = [_op_code(model.OperatorCodes(i), schema) for i in range(model.OperatorCodesLength())]
    return [
        codes[subgraph.Operators(j).OpcodeIndex()]
        for subgraph in subgraphs
        for j in range(subgraph.OperatorsLength())
    ]


def _op_code(code: Any, schema: ModuleType) -> tuple[str, bool]:
    # The int8 `deprecated_builtin_code` held the op until codes passed 127; newer files put the
    # real code in `builtin_code` and cap the old field at 127, older ones leave the new field 0.
    # TFLite's GetBuiltinCode() reads the max of the two; so do we.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.CustomCode() or b"").decode(), True
    return _enum_names(schema.BuiltinOperator).get(builtin, f"BUILTIN_{builtin}"), False


@functools.cache
def _enum_names(enum: type) -> dict[int, str]:
    return {value: name for name, value in vars(enum).items() if not name.startswith("_")}


def _tensor_info(subgraph: Any, index: int) -> TensorInfo:
    # The accessors index vectors without bounds checks: an index past the end reads other data.
    if not 0 <= index < subgraph.TensorsLength():
        raise IndexError(f"tensor index {index} out of range")
    tensor = subgraph.Tensors(index)
    quantized, scale, zero_point = _quantization(tensor)
    return TensorInfo(
        name=(tensor.Name() or b"").decode(),
        shape=tuple(int(n) for n in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else (),
        dtype=_dtype_name(tensor.Type()),
        quantized=quantized,
        scale=scale,
        zero_point=zero_point,
    )


def _dtype_name(tensor_type: int) -> str:
    # TFLite's TensorType names, lower-cased, are numpy's names for every type numpy has.
    names = _enum_names(_schema().TensorType)
    return names.get(tensor_type, f"type_{tensor_type}").lower()


def _quantization(tensor: Any) -> tuple[bool, float | None, int | None]:
    params = tensor.Quantization()
    count = params.ScaleLength() if params is not None else 0
    if count != 1:  # none, or per-channel: one scale per slice along quantized_dimension
        return count > 0, None, None
    zero_point = int(params.ZeroPoint(0)) if params.ZeroPointLength() else 0
    return True, float(params.Scale(0)), zero_point


def _quantized_tensor_count(subgraph: Any) -> int:
    tensors = (subgraph.Tensors(i) for i in range(subgraph.TensorsLength()))
    return sum(_dtype_name(t.Type()) in _QUANTIZED_TYPES and _quantization(t)[0] for t in tensors)


def _signatures(model: Any) -> tuple[str, ...]:
    keys = (model.SignatureDefs(i).SignatureKey() for i in range(model.SignatureDefsLength()))
    return tuple((key or b"").decode() for key in keys)
