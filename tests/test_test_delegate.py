"""The C test delegate (tests/delegates/), loaded by LiteRT as a real external delegate.

What LiteRT 2.3 reports for a delegated graph, asserted below and worth knowing before
computing coverage from it:

- ``_get_ops_details()`` lists every node ever created: the replaced nodes keep their
  index and op name (the 10 ``ADD`` nodes are still there as ``ADD``), and each
  delegate partition is appended after them (indices 65.. for mobilenet_v2's 65 nodes).
  Counting ``op_name == "ADD"`` therefore does not tell what was delegated.
- A delegate node's ``op_name`` is ``"DELEGATE"`` (builtin code 51), not the
  registration's custom_name ("FarmTestDelegate"); its inputs and outputs are the
  partition's boundary tensors.
- With the default op resolver XNNPACK is applied after our delegate and its partitions
  are appended as ``"DELEGATE"`` too: by op name, one delegate is indistinguishable from
  another.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Delegate, Interpreter, OpResolverType, load_delegate

from .lab import MODELS

pytest_plugins = ["tests.delegates.fixtures"]  # test_delegate_so, no_entry_points_so
pytestmark = pytest.mark.lab

FP32_MODEL = MODELS / "mobilenet_v2_fp32.tflite"
INT8_MODEL = MODELS / "mobilenet_v2_int8.tflite"
MODEL_NODES = 65
# mobilenet_v2's residual ADDs (float32, equal shapes, no fused activation) as
# (node index, input tensors, output tensors), in execution order.
FP32_ADDS = [
    (9, [112, 115], [116]),
    (16, [119, 122], [123]),
    (20, [123, 126], [127]),
    (27, [130, 133], [134]),
    (31, [134, 137], [138]),
    (35, [138, 141], [142]),
    (42, [145, 148], [149]),
    (46, [149, 152], [153]),
    (53, [156, 159], [160]),
    (57, [160, 163], [164]),
]

Node = tuple[int, list[int], list[int]]


def _interpreter(
    model: Path,
    delegates: list[Delegate],
    resolver: OpResolverType = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
) -> Interpreter:
    interpreter = Interpreter(
        str(model), experimental_delegates=delegates, experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    return interpreter


def _run(interpreter: Interpreter) -> np.ndarray:
    """The model's output on a seeded input (the same for every interpreter of a model)."""
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    if detail["dtype"] == np.float32:
        data = rng.standard_normal(detail["shape"]).astype(np.float32)
    else:
        info = np.iinfo(detail["dtype"])
        data = rng.integers(info.min, info.max, detail["shape"], endpoint=True)
    interpreter.set_tensor(detail["index"], data.astype(detail["dtype"]))
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _reference(model: Path) -> np.ndarray:
    return _run(_interpreter(model, []))


def _nodes(interpreter: Interpreter, op_name: str) -> list[Node]:
    return [
        (op["index"], [int(t) for t in op["inputs"]], [int(t) for t in op["outputs"]])
        for op in interpreter._get_ops_details()
        if op["op_name"] == op_name
    ]


def _delegated(adds: list[Node]) -> list[Node]:
    """The DELEGATE nodes LiteRT appends for these ADDs: one per ADD (no two residual
    ADDs are adjacent), same tensors, indices after the model's own nodes."""
    return [(MODEL_NODES + i, inputs, outputs) for i, (_, inputs, outputs) in enumerate(adds)]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_exact_mode_matches_cpu_with_every_add_delegated(test_delegate_so: Path) -> None:
    interpreter = _interpreter(FP32_MODEL, [load_delegate(str(test_delegate_so), {"op": "ADD"})])

    np.testing.assert_allclose(_run(interpreter), _reference(FP32_MODEL), rtol=1e-6, atol=1e-7)
    assert _nodes(interpreter, "DELEGATE") == _delegated(FP32_ADDS)
    assert _nodes(interpreter, "ADD") == FP32_ADDS  # replaced nodes are still listed
    assert len(interpreter._get_ops_details()) == MODEL_NODES + len(FP32_ADDS)


def test_corrupt_mode_runs_but_outputs_are_wrong(test_delegate_so: Path) -> None:
    options = {"op": "ADD", "mode": "corrupt"}
    interpreter = _interpreter(FP32_MODEL, [load_delegate(str(test_delegate_so), options)])

    outputs, reference = _run(interpreter), _reference(FP32_MODEL)

    assert _nodes(interpreter, "DELEGATE") == _delegated(FP32_ADDS)
    assert np.abs(outputs - reference).max() > 0.1  # softmax probabilities, all in [0, 1]
    assert _cosine(outputs, reference) < 0.9


def test_max_nodes_claims_the_first_nodes_in_execution_order(test_delegate_so: Path) -> None:
    options = {"op": "ADD", "max_nodes": "3"}
    interpreter = _interpreter(FP32_MODEL, [load_delegate(str(test_delegate_so), options)])

    assert _nodes(interpreter, "DELEGATE") == _delegated(FP32_ADDS[:3])
    np.testing.assert_allclose(_run(interpreter), _reference(FP32_MODEL), rtol=1e-6, atol=1e-7)


def test_int8_adds_are_not_claimed(test_delegate_so: Path) -> None:
    interpreter = _interpreter(INT8_MODEL, [load_delegate(str(test_delegate_so), {"op": "ADD"})])

    assert _nodes(interpreter, "DELEGATE") == []
    assert len(interpreter._get_ops_details()) == MODEL_NODES
    np.testing.assert_array_equal(_run(interpreter), _reference(INT8_MODEL))


def test_default_resolver_adds_xnnpack_nodes_also_named_delegate(
    test_delegate_so: Path,
) -> None:
    delegate = load_delegate(str(test_delegate_so), {"op": "ADD"})
    interpreter = _interpreter(FP32_MODEL, [delegate], OpResolverType.AUTO)

    delegate_nodes = _nodes(interpreter, "DELEGATE")
    # Ours first (applied first), then XNNPACK's 11 partitions of what lies between them.
    assert delegate_nodes[: len(FP32_ADDS)] == _delegated(FP32_ADDS)
    assert len(delegate_nodes) == len(FP32_ADDS) + 11
    np.testing.assert_allclose(_run(interpreter), _reference(FP32_MODEL), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"op": "CONV_2D"}, "unknown op 'CONV_2D' (supported: ADD)"),
        ({}, "option 'op' is required"),
        ({"op": "ADD", "mode": "fast"}, "unknown mode 'fast'"),
        ({"op": "ADD", "max_nodes": "three"}, "max_nodes must be an integer >= 0"),
        ({"op": "ADD", "delegats": "x"}, "unknown option 'delegats'"),
    ],
)
def test_bad_options_fail_creation_with_the_reason(
    test_delegate_so: Path, options: dict[str, str], message: str
) -> None:
    # An unknown op fails creation rather than claiming nothing: a typo in devices.yaml
    # must not pass for "this delegate supports none of the model".
    with pytest.raises(ValueError, match="Failed to load delegate from") as failure:
        load_delegate(str(test_delegate_so), options)

    assert str(test_delegate_so) in str(failure.value)
    assert f"FarmTestDelegate: {message}" in str(failure.value)


def test_library_without_entry_points_fails_cleanly(no_entry_points_so: Path) -> None:
    # load_delegate only rewraps ValueError; the missing symbol surfaces as ctypes'
    # AttributeError (and Delegate.__del__ then prints an "Exception ignored" traceback
    # for the destroy symbol). A subprocess keeps a crash from taking pytest with it.
    script = textwrap.dedent(
        """
        import sys
        from ai_edge_litert.interpreter import load_delegate
        try:
            load_delegate(sys.argv[1], {"op": "ADD"})
        except Exception as exc:
            print(f"{type(exc).__name__}: {exc}")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(no_entry_points_so)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"AttributeError: {no_entry_points_so}: undefined symbol: tflite_plugin_create_delegate"
    )
