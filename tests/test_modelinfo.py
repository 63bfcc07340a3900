"""farm.modelinfo reads the shipped models, the custom-op fixtures, and rejects non-models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farm.errors import ConfigError
from farm.modelinfo import ModelInfo, inspect_model

from .lab import DATA, MODELS, ROOT, farm, model_folder_with

MANIFEST = yaml.safe_load((MODELS / "models.yaml").read_text(encoding="utf-8"))["models"]
# The hypothesis tests overwrite one file in tmp_path per example, so sharing it is fine.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CUSTOM_OP = DATA / "custom_op.tflite"
EDGETPU_STUB = DATA / "edgetpu_stub_edgetpu.tflite"


def shipped(family: str, variant: str) -> ModelInfo:
    (name,) = [n for n, e in MANIFEST.items() if (e["family"], e["variant"]) == (family, variant)]
    return inspect_model(MODELS / MANIFEST[name]["file"])


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_shipped_model_matches_its_manifest_entry(name: str) -> None:
    entry = MANIFEST[name]
    info = inspect_model(MODELS / entry["file"])
    assert info.sha256 == entry["sha256"]
    assert info.size_bytes == (MODELS / entry["file"]).stat().st_size
    declared = [(i["name"], tuple(i["shape"]), i["dtype"]) for i in entry["inputs"]]
    assert [(t.name, t.shape, t.dtype) for t in info.inputs] == declared
    assert info.subgraphs == 1
    assert info.signatures == ("serving_default",)
    assert info.custom_ops == ()
    assert not info.is_edgetpu


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_operators_are_the_nodes_litert_plans_to_run(name: str) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = MODELS / MANIFEST[name]["file"]
    builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES  # one entry per original node
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=builtin)
    info = inspect_model(path)
    assert info.operators == len(interpreter._get_ops_details()) == sum(info.op_histogram.values())


def test_image_classifier_is_convolutions_ending_in_softmax() -> None:
    info = shipped("mobilenet_v2", "fp32")
    assert info.op_histogram["CONV_2D"] > 10
    assert info.op_histogram["DEPTHWISE_CONV_2D"] > 10
    assert info.op_histogram["SOFTMAX"] == 1
    assert info.outputs[0].shape == (1, 100)
    assert "DEQUANTIZE" not in info.op_histogram
    assert not info.is_quantized


@pytest.mark.parametrize("family", sorted({e["family"] for e in MANIFEST.values()}))
def test_int8_variant_has_quantized_int8_input_and_output(family: str) -> None:
    info = shipped(family, "int8")
    for tensor in (*info.inputs, *info.outputs):
        assert tensor.dtype == "int8"
        assert tensor.quantized
        assert tensor.scale is not None and tensor.scale > 0
        assert tensor.zero_point is not None and -128 <= tensor.zero_point <= 127
    assert info.is_quantized
    assert info.quantized_tensors > len(info.inputs) + len(info.outputs)  # the weights too


@pytest.mark.parametrize("family", sorted({e["family"] for e in MANIFEST.values()}))
def test_fp16_variant_dequantizes_float16_weights_behind_float32_inputs(family: str) -> None:
    fp16, fp32 = shipped(family, "fp16"), shipped(family, "fp32")
    assert fp16.op_histogram["DEQUANTIZE"] > 0
    assert {k: v for k, v in fp16.op_histogram.items() if k != "DEQUANTIZE"} == fp32.op_histogram
    assert [t.dtype for t in fp16.inputs] == ["float32"]
    assert not fp16.inputs[0].quantized and fp16.inputs[0].scale is None
    assert not fp16.is_quantized


def test_custom_op_is_counted_and_listed() -> None:
    info = inspect_model(CUSTOM_OP)
    assert info.custom_ops == ("FarmTestCustomOp",)
    assert info.op_histogram == {"FarmTestCustomOp": 1}
    assert not info.is_edgetpu
    assert not info.is_quantized


def test_edgetpu_custom_op_marks_an_edgetpu_model() -> None:
    info = inspect_model(EDGETPU_STUB)
    assert info.custom_ops == ("edgetpu-custom-op",)
    assert info.is_edgetpu
    assert info.is_quantized
    assert [t.dtype for t in info.inputs] == ["int8"]


@pytest.mark.parametrize("fixture", [CUSTOM_OP, EDGETPU_STUB], ids=lambda p: p.name)
def test_custom_op_fixtures_are_models_litert_rejects_by_op_name(fixture: Path) -> None:
    # The fixtures stand for models whose op the runtime lacks: LiteRT must load them and then
    # fail naming the op, which is what the farm reports for such a cell.
    from ai_edge_litert.interpreter import Interpreter

    model = Interpreter(model_path=str(fixture))
    with pytest.raises(RuntimeError, match=inspect_model(fixture).custom_ops[0]):
        model.allocate_tensors()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "the file is empty"),
        (b"TFL3", "only 4 bytes"),
        (b"\x00" * 64, "file identifier is b'\\x00\\x00\\x00\\x00'"),
        (b"PK\x03\x04" + bytes(60), "file identifier"),
        (b"\x08\x00\x00\x00TFL3" + bytes(8), "it has no subgraphs"),
        (b"\xff\xff\x00\x00TFL3" + bytes(8), "root table offset"),
        (CUSTOM_OP.read_bytes()[:200], "damaged or truncated"),
    ],
    ids=["empty", "short", "zeros", "zip", "no-subgraphs", "root-past-end", "truncated"],
)
def test_non_models_raise_config_error_naming_the_file(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        inspect_model(path)
    assert caught.value.file == str(path)
    assert caught.value.problem.startswith("not a TensorFlow Lite model: ")
    assert why in caught.value.problem
    assert caught.value.fix


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        inspect_model(tmp_path / "nope.tflite")


@settings(FUZZ, max_examples=150)
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_model_is_a_config_error(tmp_path: Path, cut: float) -> None:
    data = (MODELS / "kws_dscnn_int8.tflite").read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ConfigError, match="not a TensorFlow Lite model"):
        inspect_model(path)


@settings(FUZZ, max_examples=300)
@given(edits=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1))
def test_corrupted_model_reads_or_raises_config_error_only(
    tmp_path: Path, edits: list[tuple[int, int]]
) -> None:
    data = bytearray((MODELS / "kws_dscnn_int8.tflite").read_bytes())
    for position, value in edits:
        data[position % len(data)] = value
    path = tmp_path / "corrupted.tflite"
    path.write_bytes(bytes(data))
    try:
        inspect_model(path)
    except ConfigError as error:
        assert error.problem.startswith("not a TensorFlow Lite model: ")


def test_import_stays_light() -> None:
    code = "import sys, farm.modelinfo; print(sorted(m for m in sys.modules if 'litert' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_farm_models_lists_a_non_tflite_file_as_a_row_like_farm_run(tmp_path: Path) -> None:
    models = model_folder_with(tmp_path, "kws_dscnn_int8")
    (models / "junk.tflite").write_bytes(b"not a model at all, just bytes")
    code, output = farm("models", "--models", models)
    assert code == 1, output
    assert "kws_dscnn_int8" in output  # the good model is still listed
    junk = " ".join(output[output.index("junk") :].split())
    assert "not a TensorFlow Lite model" in junk
    assert output.strip().endswith("farm models: 1 file(s) are not TFLite models")
