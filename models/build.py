"""Build the shipped model set (models/*.tflite, models/models.yaml) and the custom-op fixtures.

TensorFlow is a dev-only dependency of this script, never of the farm. Keep it out of the farm's
environment and run the script from the repository root in a venv of its own:

    python3 -m venv ../venv-tf
    ../venv-tf/bin/pip install tensorflow-cpu pyyaml
    ../venv-tf/bin/python models/build.py

No weights are downloaded: every model has seeded random weights (the farm measures speed, memory
and delegate parity, not accuracy), and the int8 calibration data is seeded too, so a re-run with
the same TensorFlow version writes byte-identical files. Each architecture ships as three
variants: ``fp32``, ``fp16`` (float16 weights, dequantized at load) and ``int8`` (full-integer,
int8 input and output).

The fixtures in tests/data are tiny hand-assembled flatbuffers whose only operator is a custom op
that no runtime registers: ``custom_op.tflite`` (``FarmTestCustomOp``) and
``edgetpu_stub_edgetpu.tflite`` (``edgetpu-custom-op``, the op the Edge TPU compiler emits). They
are valid models that LiteRT loads and then refuses to allocate, naming the missing op.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN may reorder float sums run to run

import numpy as np
import tensorflow as tf

MODELS_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = MODELS_DIR.parent / "tests" / "data"
SEED = 20240601
CALIBRATION_SAMPLES = 64
BN_SAMPLES = 32
LICENSE = "Apache-2.0"
SCHEMA_MODULES = (
    "tensorflow.lite.python.schema_py_generated",
    "ai_edge_litert.schema_py_generated",
)
HEADER = "# Written by models/build.py — do not edit by hand; re-run the script.\n"


@dataclass(frozen=True)
class Family:
    """One architecture: how to build its Keras model and what to say about it in the manifest."""

    name: str
    task: str
    input_name: str
    input_shape: tuple[int, ...]  # without the batch dimension
    build: Callable[[], tf.keras.Model]
    source: str


def mobilenet_v2() -> tf.keras.Model:
    # alpha=0.35 is the narrowest MobileNetV2 of the published TFLite zoo; 160x160 (not 128) keeps
    # an fp32 invoke above 0.5 ms on one XNNPACK thread, so timer noise stays small; 100 classes
    # (not 1000) keep the classifier head, and so the shipped set, near 5 MB.
    return tf.keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(160, 160, 3), weights=None, classes=100
    )


def kws_dscnn() -> tf.keras.Model:
    # DS-CNN-S keyword spotting ("Hello Edge", Zhang et al. 2017; the MLPerf Tiny KWS reference):
    # 49 frames x 10 MFCCs, a 10x4 conv, four depthwise-separable blocks, 12 keywords.
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=(49, 10, 1))
    x = _conv_bn_relu(layers.Conv2D(64, (10, 4), strides=2, padding="same"), inputs)
    for _ in range(4):
        x = _conv_bn_relu(layers.DepthwiseConv2D(3, padding="same"), x)
        x = _conv_bn_relu(layers.Conv2D(64, 1), x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(12, activation="softmax")(x)
    return tf.keras.Model(inputs, outputs, name="kws_dscnn")


def _conv_bn_relu(conv: tf.keras.layers.Layer, x: tf.Tensor) -> tf.Tensor:
    x = tf.keras.layers.BatchNormalization()(conv(x))
    return tf.keras.layers.ReLU()(x)


FAMILIES = (
    Family(
        "mobilenet_v2",
        "image_classification",
        "input",
        (160, 160, 3),
        mobilenet_v2,
        "models/build.py: keras MobileNetV2 alpha=0.35 160x160 100 classes, seeded random weights",
    ),
    Family(
        "kws_dscnn",
        "keyword_spotting",
        "mfcc",
        (49, 10, 1),
        kws_dscnn,
        "models/build.py: DS-CNN-S keyword spotting on 49x10 MFCC, 12 classes, "
        "seeded random weights",
    ),
)


def convert(family: Family, variant: str) -> bytes:
    """Convert a freshly seeded Keras model to one .tflite variant."""
    tf.keras.utils.set_random_seed(SEED)
    model = family.build()
    settle_batch_norm(model, family)
    spec = tf.TensorSpec((1, *family.input_shape), tf.float32, name=family.input_name)
    # Through Keras' own SavedModel export: it freezes Keras 3 variables into constants, where a
    # hand-made tf.function leaves READ_VARIABLE ops behind (weights missing, calibration fails).
    with tempfile.TemporaryDirectory() as saved_model:
        model.export(saved_model, format="tf_saved_model", input_signature=[spec], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        return _configure(converter, family, variant).convert()


def settle_batch_norm(model: tf.keras.Model, family: Family) -> None:
    """Set every BatchNorm's moving statistics from one seeded batch (data-dependent init).

    Fresh BatchNorm layers hold mean 0 / variance 1, so with random weights the activations shrink
    layer after layer and the softmax comes out exactly uniform: every input gives the same answer,
    int8 calibration sees only zeros, and a parity check could never fail. One training-mode pass
    with momentum 0 normalises each layer the way training would have.
    """
    batch_norms = [la for la in model.layers if isinstance(la, tf.keras.layers.BatchNormalization)]
    for layer in batch_norms:
        layer.momentum = 0.0
    batch = np.concatenate([sample for [sample] in calibration_data(family)][:BN_SAMPLES])
    model(batch, training=True)
    for layer in batch_norms:
        layer.momentum = 0.99


def _configure(
    converter: tf.lite.TFLiteConverter, family: Family, variant: str
) -> tf.lite.TFLiteConverter:
    if variant == "fp16":
        # Weights stored as float16; the converter adds DEQUANTIZE ops that run once at load.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: calibration_data(family)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter


def calibration_data(family: Family) -> Iterator[list[np.ndarray]]:
    """Seeded representative inputs for int8 calibration (random, like the weights)."""
    rng = np.random.default_rng(SEED)
    for _ in range(CALIBRATION_SAMPLES):
        yield [rng.uniform(-1.0, 1.0, (1, *family.input_shape)).astype(np.float32)]


def input_details(content: bytes) -> list[dict[str, object]]:
    """Load and invoke the model once (a smoke test) and return its inputs for the manifest."""
    interpreter = tf.lite.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    for detail in details:
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    return [
        {"name": d["name"], "shape": [int(n) for n in d["shape"]], "dtype": d["dtype"].__name__}
        for d in details
    ]


def manifest_entry(family: Family, variant: str, file: Path, content: bytes) -> list[str]:
    inputs = [
        f"      - {{name: {json.dumps(i['name'])}, shape: {i['shape']}, dtype: {i['dtype']}}}"
        for i in input_details(content)
    ]
    return [
        f"  {family.name}_{variant}:",
        f"    file: {file.name}",
        f"    sha256: {hashlib.sha256(content).hexdigest()}",
        f"    family: {family.name}",
        f"    variant: {variant}",
        f"    task: {family.task}",
        "    inputs:",
        *inputs,
        f"    source: {json.dumps(family.source)}",
        f"    license: {LICENSE}",
    ]


def build_models() -> None:
    lines = [HEADER.rstrip("\n"), "models:"]
    for family in FAMILIES:
        for variant in ("fp32", "fp16", "int8"):
            content = convert(family, variant)
            file = MODELS_DIR / f"{family.name}_{variant}.tflite"
            file.write_bytes(content)
            lines += manifest_entry(family, variant, file, content)
            print(f"{file.name}: {len(content)} bytes", file=sys.stderr)
    (MODELS_DIR / "models.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def schema_module() -> ModuleType:
    # TensorFlow ships the same generated TFLite schema module as LiteRT.
    for name in SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("no TFLite schema module: install tensorflow-cpu or ai-edge-litert")


def custom_op_model(op_name: str, dtype: str, description: str) -> bytes:
    """A one-operator model (input [1, 8] -> custom op -> output [1, 8]) of the given dtype."""
    schema = schema_module()
    tensor_type = getattr(schema.TensorType, dtype.upper())
    subgraph = schema.SubGraphT()
    subgraph.tensors = [_tensor(schema, name, tensor_type) for name in ("input", "output")]
    subgraph.inputs, subgraph.outputs = [0], [1]
    subgraph.operators = [schema.OperatorT()]
    subgraph.operators[0].opcodeIndex = 0
    subgraph.operators[0].inputs, subgraph.operators[0].outputs = [0], [1]
    subgraph.name = "main"
    return _pack_model(schema, subgraph, _custom_opcode(schema, op_name), description)


def _tensor(schema: ModuleType, name: str, tensor_type: int) -> Any:
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.type, tensor.buffer = name, [1, 8], tensor_type, 0
    if tensor_type in (schema.TensorType.INT8, schema.TensorType.UINT8):
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = [1 / 128], [0]
    return tensor


def _custom_opcode(schema: ModuleType, op_name: str) -> Any:
    opcode = schema.OperatorCodeT()
    # Both code fields say CUSTOM: readers take max(deprecated_builtin_code, builtin_code).
    opcode.builtinCode = opcode.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    opcode.customCode, opcode.version = op_name, 1
    return opcode


def _pack_model(schema: ModuleType, subgraph: Any, opcode: Any, description: str) -> bytes:
    import flatbuffers  # a dependency of both TensorFlow and LiteRT

    model = schema.ModelT()
    model.version, model.description = 3, description  # 3: the only schema version TFLite reads
    model.operatorCodes, model.subgraphs = [opcode], [subgraph]
    model.buffers = [schema.BufferT()]  # buffer 0 is the conventional empty buffer
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def build_fixtures() -> None:
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    fixtures = {
        "custom_op.tflite": ("FarmTestCustomOp", "float32"),
        "edgetpu_stub_edgetpu.tflite": ("edgetpu-custom-op", "int8"),
    }
    for file_name, (op_name, dtype) in fixtures.items():
        content = custom_op_model(op_name, dtype, f"tflite-farm test fixture: custom op {op_name}")
        (FIXTURES_DIR / file_name).write_bytes(content)
        print(f"tests/data/{file_name}: {len(content)} bytes", file=sys.stderr)


if __name__ == "__main__":
    tf.config.experimental.enable_op_determinism()
    build_models()
    build_fixtures()
