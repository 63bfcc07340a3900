"""The benchmark_model parser against the 17 real logs in tests/data/benchmark_model_logs/.

Expected values are written out here, one table row per log, read from the logs by hand; a
value the log does not print is None. See that folder's SOURCES.md for where each log is from.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farm.runners.benchmark_model import benchmark_outcome, parse_benchmark_model_output
from farm.runners.benchmark_model.records import StatLine

LOG_DIR = Path(__file__).parent / "data" / "benchmark_model_logs"
LOG_NAMES = sorted(path.name for path in LOG_DIR.glob("*.txt"))
STATUSES = {"ok", "failed", "incomplete"}


def read_log(name: str) -> str:
    return (LOG_DIR / name).read_text(encoding="utf-8")


def parse_log(name: str) -> dict[str, Any]:
    return parse_benchmark_model_output(read_log(name)).to_dict()


def stat(count: int, curr: float, **values: float) -> dict[str, Any]:
    """A stat-line object: count, curr and the given ``first/min/max/avg/std/p5/...``."""
    keys = ("first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")
    given_values = {"curr": curr, **values}
    return {"count": count, **{f"{key}_us": given_values.get(key) for key in keys}}


def full(
    count: int,
    first: float,
    curr: float,
    lo: float,
    hi: float,
    avg: float,
    std: float,
    **tail: float,
) -> dict[str, Any]:
    """The long stat line: ``count= first= curr= min= max= avg= std=`` (+ p5/median/p95)."""
    return stat(count, curr, first=first, min=lo, max=hi, avg=avg, std=std, **tail)


def delegate(
    name: str,
    delegated: int | None = None,
    total: int | None = None,
    partitions: int | None = None,
    kernels: int | None = None,
    fully: bool | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "nodes_delegated": delegated,
        "nodes_total": total,
        "partitions": partitions,
        "kernels": kernels,
        "fully_delegated": fully,
    }


def expected(**values: Any) -> dict[str, Any]:
    """The whole parse-log contract, null where not given (op_profile is checked apart)."""
    base: dict[str, Any] = {
        "status": "ok",
        "error": None,
        "format": "classic",
        "init_us": None,
        "first_inference_us": None,
        "warmup_avg_us": None,
        "inference_avg_us": None,
        "warmup": None,
        "inference": None,
        "memory_init_mb": None,
        "memory_overall_mb": None,
        "memory_peak_mb": None,
        "throughput_mb_s": None,
        "signature": None,
        "delegates": [],
    }
    return {**base, **values}


EXPECTED: dict[str, dict[str, Any]] = {
    "01_imx8mp-cpu-op-profiling.txt": expected(
        init_us=2409,
        first_inference_us=169816,
        warmup_avg_us=164822,
        inference_avg_us=162980,
        warmup=full(4, 169816, 162804, 162804, 169816, 164822, 2899),
        inference=full(50, 162827, 162916, 162744, 163299, 162980, 146),
        memory_init_mb=4.10156,
        memory_overall_mb=10.332,
    ),
    "02_imx8mp-vx-external-delegate-npu.txt": expected(
        init_us=12434,
        first_inference_us=4625131,
        warmup_avg_us=4625130,
        inference_avg_us=2525.59,
        warmup=stat(1, 4625131),
        inference=full(379, 2542, 2543, 2471, 2586, 2525.59, 13),
        memory_init_mb=7.26953,
        memory_overall_mb=34.3164,
        delegates=[delegate("EXTERNAL", fully=True)],
    ),
    "03_imx8mp-vx-partial-delegate-ssd.txt": expected(
        init_us=18085,
        first_inference_us=8416260,
        warmup_avg_us=8416260,
        inference_avg_us=154534,
        warmup=stat(1, 8416260),
        inference=full(50, 83330, 82880, 82076, 1752106, 154534, 254746),
        memory_init_mb=8.875,
        memory_overall_mb=51.2227,
        delegates=[delegate("EXTERNAL", kernels=1, fully=False)],
    ),
    "04_ti-am57x-tflite1.12-cpu-legacy-format.txt": expected(
        format="legacy",
        init_us=4452,
        warmup_avg_us=146161,
        inference_avg_us=137722,
        warmup=stat(1, 146161),
        inference=full(50, 137789, 137254, 137079, 143416, 137722, 896),
    ),
    "05_ti-am62x-tflite2.18-cpu-no-xnnpack.txt": expected(
        init_us=6418,
        first_inference_us=1041765,
        warmup_avg_us=1041760,
        inference_avg_us=971535,
        warmup=stat(1, 1041765),
        inference=full(50, 977738, 964908, 911877, 1112273, 971535, 39112),
        memory_init_mb=6.14844,
        memory_overall_mb=109.848,
    ),
    "06_ti-am62x-tflite2.20-xnnpack-percentiles.txt": expected(
        init_us=614333,
        first_inference_us=905463,
        warmup_avg_us=905463,
        inference_avg_us=899641,
        warmup=stat(1, 905463, p5=905463, median=905463, p95=905463),
        inference=full(
            50, 900416, 898333, 898007, 906121, 899641, 1549, p5=898333, median=899281, p95=904305
        ),
        memory_init_mb=146.363,
        memory_overall_mb=150.141,
        delegates=[delegate("XNNPACK", kernels=1, fully=False)],
    ),
    "07_zedboard-armv7-cpu-2019-no-stats-format.txt": expected(
        format="legacy",
        init_us=21039,
        warmup_avg_us=751932,
        inference_avg_us=747733,
        warmup=stat(1, 751932),
        inference=full(50, 747738, 747428, 747331, 748577, 747733, 293),
    ),
    "08_synaptics-synap-tf2.15-nnapi-npu.txt": expected(
        init_us=66002,
        first_inference_us=637079,
        warmup_avg_us=637079,
        inference_avg_us=1885.74,
        warmup=stat(1, 637079),
        inference=full(520, 2531, 2793, 1171, 9925, 1885.74, 870),
        memory_init_mb=7.40234,
        memory_overall_mb=7.83203,
        delegates=[delegate("NNAPI", 31, 31, 1, fully=True)],
    ),
    "09_synaptics-tf2.15-timvx-external-delegate-stray-line.txt": expected(
        init_us=25573,
        first_inference_us=201009,
        warmup_avg_us=1760.78,
        inference_avg_us=1096.48,
        warmup=full(277, 201009, 863, 811, 201009, 1760.78, 11997),
        inference=full(876, 1272, 1730, 810, 6334, 1096.48, 476),
        memory_init_mb=15.4688,
        memory_overall_mb=43.2852,
        delegates=[delegate("EXTERNAL", 31, 31, 1, fully=True)],
    ),
    "10_lp6m-mi11-tf2.4-nnapi-qti-default-failure.txt": expected(
        status="failed",
        format=None,
        error="ERROR: NN API returned error ANEURALNETWORKS_OP_FAILED at line 3779 while "
        "completing NNAPI compilation.",
    ),
    "11_lp6m-mi11-tf2.4-nnapi-gpu-op-profiling-tables-only.txt": expected(
        status="incomplete",
        format=None,
    ),
    "12_litert-2025-arm-sme2-cpu-xnnpack-profiler.txt": expected(
        format="litert",
        init_us=4480,
        first_inference_us=1030,
        warmup_avg_us=470,
        inference_avg_us=460,
        warmup=full(1055, 1033, 473, 443, 1033, 465.319, 18, p5=459, median=463, p95=478),
        inference=full(2112, 463, 459, 442, 979, 464.545, 13, p5=460, median=462, p95=478),
        memory_init_mb=8.94,
        memory_overall_mb=11.51,
        throughput_mb_s=525.55,
        delegates=[delegate("TfLiteXNNPackDelegate", 1, 1, 1, fully=True)],
    ),
    # The lab's own build (../shared/benchmark_model, BUILD.md): a Release build logs only the
    # verdict; its verbose copy also the "Replacing" line, which gives the node counts.
    "13_lab-x86_64-release-xnnpack-int8-partial.txt": expected(
        init_us=914,
        first_inference_us=183,
        warmup_avg_us=172.5,
        inference_avg_us=171.55,
        warmup=full(2, 183, 162, 162, 183, 172.5, 10, p5=162, median=183, p95=183),
        inference=full(20, 225, 162, 161, 225, 171.55, 19, p5=161, median=162, p95=225),
        memory_init_mb=4.01953,
        memory_overall_mb=4.26953,
        memory_peak_mb=9.42578,
        delegates=[delegate("XNNPACK", kernels=1, fully=False)],
    ),
    "14_lab-x86_64-release-cpu-op-profiling.txt": expected(
        init_us=409,
        first_inference_us=340,
        warmup_avg_us=285.5,
        inference_avg_us=236.75,
        warmup=full(2, 340, 231, 231, 340, 285.5, 54, p5=231, median=340, p95=340),
        inference=full(20, 275, 230, 229, 279, 236.75, 15, p5=230, median=230, p95=279),
        memory_init_mb=2.69141,
        memory_overall_mb=3.36328,
    ),
    "15_lab-x86_64-verbose-xnnpack-int8-replacing.txt": expected(
        init_us=1089,
        first_inference_us=226,
        warmup_avg_us=194.5,
        inference_avg_us=167.15,
        warmup=full(2, 226, 163, 163, 226, 194.5, 31, p5=163, median=226, p95=226),
        inference=full(20, 162, 162, 161, 211, 167.15, 12, p5=161, median=162, p95=211),
        memory_init_mb=3.95312,
        memory_overall_mb=4.3125,
        memory_peak_mb=9.41797,
        delegates=[delegate("XNNPACK", 11, 12, 2, kernels=1, fully=False)],
    ),
    "16_lab-x86_64-release-invalid-flatbuffer.txt": expected(
        status="failed",
        format=None,
        error="ERROR: The model is not a valid Flatbuffer buffer",
    ),
    "25_pixel-bench-pixel8-external-delegate-edgetpu-client-segfault-SNIPPET.txt": expected(
        status="failed",
        format=None,
        error="Segmentation fault",
    ),
}

# (rows in the op_profile, then (index, phase, node_type, first_us, avg_us, times_called, name)
# for a few of them).
OP_PROFILES: dict[str, tuple[int | None, list[tuple[Any, ...]]]] = {
    "01_imx8mp-cpu-op-profiling.txt": (
        32,
        [
            (0, "init", "AllocateTensors", 948, 948, 1, "AllocateTensors/0"),
            (1, "run", "CONV_2D", 7628, 7640, 1, "[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]:0"),
            (31, "run", "SOFTMAX", 20, 22, 1, "[MobilenetV1/Predictions/Reshape_1]:30"),
        ],
    ),
    "02_imx8mp-vx-external-delegate-npu.txt": (
        3,
        [
            (0, "init", "ModifyGraphWithDelegate", 1185, 1185, 1, "ModifyGraphWithDelegate/0"),
            (2, "run", "Vx Delegate", 2509, 2504, 1, "[MobilenetV1/Predictions/Reshape_1]:31"),
        ],
    ),
    "03_imx8mp-vx-partial-delegate-ssd.txt": (
        4,
        [
            (1, "init", "AllocateTensors", 85, 38, 3, "AllocateTensors/0"),
            (2, "run", "Vx Delegate", 81759, 152984, 1, "[Squeeze, convert_scores]:64"),
            (
                3,
                "run",
                "TFLite_Detection_PostProcess",
                1523,
                1504,
                1,
                "[TFLite_Detection_PostProcess, TFLite_Detection_PostProcess:1, "
                "TFLite_Detection_PostProcess:2, TFLite_Detection_PostProcess:3]:63",
            ),
        ],
    ),
    "11_lp6m-mi11-tf2.4-nnapi-gpu-op-profiling-tables-only.txt": (
        13,
        [
            (0, "init", "ModifyGraphWithDelegate", 413346, 413346, 1, "ModifyGraphWithDelegate/0"),
            (
                8,
                "run",
                "TfLiteNnapiDelegate",
                78701,
                79010,
                1,
                "[model/tf.nn.silu_16/mul, model/tf.nn.silu_26/mul, model/tf.nn.silu_35/mul]:231",
            ),
            (
                12,
                "run",
                "TfLiteNnapiDelegate",
                60220,
                56058,
                1,
                "[Identity, Identity_1, Identity_2]:233",
            ),
        ],
    ),
    "14_lab-x86_64-release-cpu-op-profiling.txt": (
        13,
        [
            (0, "init", "AllocateTensors", 28, 28, 1, "AllocateTensors/0"),
            (10, "run", "MEAN", 2, 2, 1, "[kws_dscnn_1/global_average_pooling2d_3_1/Mean]:9"),
            (12, "run", "SOFTMAX", 1, 0, 1, "[StatefulPartitionedCall_1:0]:11"),
        ],
    ),
    "12_litert-2025-arm-sme2-cpu-xnnpack-profiler.txt": (
        5,
        [
            (
                0,
                None,
                "LiteRT::Run[buffer registration]",
                20,
                14,
                1,
                "LiteRT::Run[buffer registration]/0",
            ),
            (1, None, "AllocateTensors", 291, 291, 0, "AllocateTensors/0"),
            (
                3,
                None,
                "Fully Connected (NC, PF32) GEMM",
                538,
                382,
                1,
                "Delegate/Fully Connected (NC, PF32) GEMM:1",
            ),
        ],
    ),
}


def test_every_log_has_a_table_row() -> None:
    assert len(LOG_NAMES) == 17
    assert set(EXPECTED) == set(LOG_NAMES)


@pytest.mark.parametrize("name", LOG_NAMES)
def test_real_log_values(name: str) -> None:
    parsed = parse_log(name)
    parsed.pop("op_profile")
    assert parsed == EXPECTED[name]


@pytest.mark.parametrize("name", LOG_NAMES)
def test_real_log_op_profile(name: str) -> None:
    op_profile = parse_log(name)["op_profile"]
    if name not in OP_PROFILES:
        assert op_profile is None
        return
    count, rows = OP_PROFILES[name]
    assert len(op_profile) == count
    for index, phase, node_type, first_us, avg_us, times_called, op_name in rows:
        row = op_profile[index]
        assert (row["phase"], row["node_type"], row["name"]) == (phase, node_type, op_name)
        assert (row["first_us"], row["avg_us"], row["times_called"]) == (
            first_us,
            avg_us,
            times_called,
        )


def test_op_profile_row_keeps_every_column() -> None:
    row = parse_log("01_imx8mp-cpu-op-profiling.txt")["op_profile"][3]
    assert row == {
        "phase": "run",
        "node_type": "CONV_2D",
        "name": "[MobilenetV1/MobilenetV1/Conv2d_1_pointwise/Relu6]:2",
        "start_us": 9450,
        "first_us": 12248,
        "avg_us": 12413,
        "percent": 7.62,
        "cdf_percent": 13.412,
        "mem_kb": 0,
        "times_called": 1,
    }


@pytest.mark.parametrize("name", LOG_NAMES)
def test_json_is_strict_and_keys_are_the_contract(name: str) -> None:
    parsed = parse_log(name)
    json.dumps(parsed, allow_nan=False)
    assert list(parsed) == [
        "status",
        "error",
        "format",
        "init_us",
        "first_inference_us",
        "warmup_avg_us",
        "inference_avg_us",
        "warmup",
        "inference",
        "memory_init_mb",
        "memory_overall_mb",
        "memory_peak_mb",
        "throughput_mb_s",
        "signature",
        "delegates",
        "op_profile",
    ]


# --- behaviours on crafted text ------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "hello world", "count=\n=====\n\t\t", "\x00\xff"])
def test_garbage_is_incomplete(text: str) -> None:
    parsed = parse_benchmark_model_output(text)
    assert (parsed.status, parsed.error, parsed.warmup, parsed.delegates) == (
        "incomplete",
        None,
        None,
        (),
    )


def test_profiler_count_lines_are_never_benchmark_stats() -> None:
    text = (
        "Timings (microseconds): count=50 first=1 curr=2 min=1 max=2 avg=1.5 std=0\n"
        "Memory (bytes): count=0\n"
        "INFO: Timings (microseconds): count=3 curr=7\n"
    )
    parsed = parse_benchmark_model_output(text)
    assert (parsed.warmup, parsed.inference, parsed.status) == (None, None, "incomplete")


def test_scientific_notation_in_stat_and_summary_lines() -> None:
    text = (
        "count=2 first=4625131 curr=4625129 min=4625129 max=4625131 avg=4.62513e+06 std=1\n"
        "count=0\n"
        "Inference timings in us: Init: 1.5e+03, First inference: 4625131, "
        "Warmup (avg): 4.62513e+06, Inference (avg): nan\n"
    )
    parsed = parse_benchmark_model_output(text)
    assert parsed.warmup is not None
    assert parsed.warmup.avg_us == 4625130
    assert parsed.inference is not None
    assert parsed.inference.count == 0
    assert (parsed.init_us, parsed.warmup_avg_us, parsed.inference_avg_us) == (1500, 4625130, None)


def test_all_same_stat_line_keeps_only_what_is_printed() -> None:
    parsed = parse_benchmark_model_output("count=5 curr=1234(all same)\ncount=1 curr=99\n")
    assert parsed.warmup is not None
    assert parsed.inference is not None
    assert (parsed.warmup.count, parsed.warmup.curr_us, parsed.warmup.avg_us) == (5, 1234, None)
    assert (parsed.inference.count, parsed.inference.curr_us) == (1, 99)


def logcat(text: str, priority: str = "I") -> str:
    """``text`` as `adb logcat -v threadtime` would show it."""
    return "".join(
        f"05-30 15:16:46.366  3380  3380 {priority} tflite  : {line}\n"
        for line in text.splitlines()
    )


@pytest.mark.parametrize(
    "name",
    [
        "01_imx8mp-cpu-op-profiling.txt",
        "08_synaptics-synap-tf2.15-nnapi-npu.txt",
        "12_litert-2025-arm-sme2-cpu-xnnpack-profiler.txt",
    ],
)
def test_logcat_capture_parses_like_the_plain_log(name: str) -> None:
    assert parse_benchmark_model_output(logcat(read_log(name))).to_dict() == parse_log(name)


def test_logcat_brief_format_and_error_priority() -> None:
    text = "I/tflite  ( 3380): count=1 curr=5\nE/tflite  ( 3380): Failed to apply GPU delegate.\n"
    parsed = parse_benchmark_model_output(text)
    assert parsed.warmup is not None
    assert parsed.warmup.curr_us == 5
    assert (parsed.status, parsed.error) == ("failed", "Failed to apply GPU delegate.")


def test_tool_failure_after_a_summary_is_failed() -> None:
    text = read_log("05_ti-am62x-tflite2.18-cpu-no-xnnpack.txt") + "ERROR: Benchmarking failed.\n"
    parsed = parse_benchmark_model_output(text)
    assert (parsed.status, parsed.error) == ("failed", "ERROR: Benchmarking failed.")


def test_hexagon_fallback_to_cpu_is_ok_with_the_reason() -> None:
    warning = (
        "WARNING: Could not create Hexagon delegate: platform may not support delegate "
        "or required libraries are missing"
    )
    text = warning + "\n" + read_log("05_ti-am62x-tflite2.18-cpu-no-xnnpack.txt")
    parsed = parse_benchmark_model_output(text)
    assert (parsed.status, parsed.error, parsed.delegates) == ("ok", warning, ())


def test_gpu_delegation_lines_from_the_notes() -> None:
    text = (
        "INFO: Created TensorFlow Lite delegate for GPU.\n"
        "INFO: Replacing 49 out of 49 node(s) with delegate (TfLiteGpuDelegateV2) node, "
        "yielding 1 partitions for subgraph 0.\n"
        "Explicitly applied GPU delegate, and the model graph will be completely executed by "
        "the delegate.\n"
    )
    [gpu] = parse_benchmark_model_output(text).to_dict()["delegates"]
    assert gpu == delegate("GPU", 49, 49, 1, fully=True)


def test_unused_delegate_and_a_default_xnnpack_stay_apart() -> None:
    text = (
        "VERBOSE: Replacing 12 out of 30 node(s) with delegate (TfLiteXNNPackDelegate) node, "
        "yielding 3 partitions for subgraph 0.\n"
        "Though GPU delegate is explicitly applied, the model graph will not be executed by "
        "the delegate.\n"
    )
    assert parse_benchmark_model_output(text).to_dict()["delegates"] == [
        delegate("TfLiteXNNPackDelegate", 12, 30, 3, fully=False),
        delegate("GPU", kernels=0, fully=False),
    ]


def test_replacing_lines_of_several_subgraphs_add_up() -> None:
    text = (
        "Replacing 10 out of 10 node(s) with delegate (TfLiteNnapiDelegate) node, yielding 1 "
        "partitions for subgraph 0.\n"
        "Replacing 3 out of 5 node(s) with delegate (TfLiteNnapiDelegate) node, yielding 2 "
        "partitions for subgraph 1.\n"
        "Explicitly applied NNAPI delegate, and the model graph will be partially executed by "
        "the delegate w/ 3 delegate kernels.\n"
    )
    assert parse_benchmark_model_output(text).to_dict()["delegates"] == [
        delegate("NNAPI", 13, 15, 3, kernels=3, fully=False)
    ]


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        (
            "Overall peak memory footprint (MB) via periodic monitoring: 180.1",
            "memory_peak_mb",
            180.1,
        ),
        (
            "Memory footprint delta from the start of the tool (MB): init=156.055 overall=178.805",
            "memory_overall_mb",
            178.805,
        ),
        (
            "[Init Phase] - Memory usage: max resident set size = 3.4 MB, "
            "total malloc-ed size = 1 MB",
            "memory_init_mb",
            3.4,
        ),
        (
            "[Overall] - Memory usage: max resident set size = 9.5 MB, total malloc-ed size = 2 MB",
            "memory_overall_mb",
            9.5,
        ),
        (
            "INFO: [./litert/tools/benchmark_litert_model.h:120] Peak memory:          12.25 MB",
            "memory_peak_mb",
            12.25,
        ),
        ("Peak memory usage not available. (peak_mem_mb <= 0)", "memory_peak_mb", None),
        ("- VmRSS              : 37 MB", "memory_overall_mb", None),
    ],
)
def test_memory_line_formats(line: str, field: str, value: float | None) -> None:
    assert getattr(parse_benchmark_model_output(line), field) == value


def test_legacy_inference_field_name() -> None:
    parsed = parse_benchmark_model_output(
        "Average inference timings in us: Warmup: 65.7382, Init: 1608, Inference: 65.6351"
    )
    assert (
        parsed.format,
        parsed.init_us,
        parsed.warmup_avg_us,
        parsed.inference_avg_us,
        parsed.first_inference_us,
    ) == ("legacy", 1608, 65.7382, 65.6351, None)


def test_truncated_litert_block_is_incomplete() -> None:
    text = read_log("12_litert-2025-arm-sme2-cpu-xnnpack-profiler.txt")
    parsed = parse_benchmark_model_output(text[: text.index("Warmup (avg):")])
    assert (parsed.status, parsed.format, parsed.init_us) == ("incomplete", None, None)
    assert parsed.inference is not None
    assert parsed.inference.count == 2112


def litert_block_only() -> str:
    """Log 12's LiteRT summary block alone, as a capture of just the tool's final lines."""
    text = read_log("12_litert-2025-arm-sme2-cpu-xnnpack-profiler.txt")
    return text[text.index("INFO: [./litert/tools/benchmark_litert_model.h:81]") :]


def test_litert_block_alone_fills_the_stat_line_fields() -> None:
    parsed = parse_benchmark_model_output(litert_block_only())
    assert (parsed.status, parsed.format) == ("ok", "litert")
    assert parsed.inference == StatLine(
        count=2112,
        min_us=440,
        max_us=980,
        avg_us=460,
        std_us=10,  # the block's ms, as µs
    )
    assert parsed.warmup == StatLine(count=1055, first_us=1030, avg_us=470)
    assert (parsed.throughput_mb_s, parsed.memory_init_mb, parsed.memory_overall_mb) == (
        525.55,
        8.94,
        11.51,
    )
    outcome = benchmark_outcome(parsed, "xnnpack", "")
    assert outcome.latency["latency_min_ms"] == pytest.approx(0.44)
    assert outcome.latency["latency_std_ms"] == pytest.approx(0.01)
    assert outcome.latency["latency_median_ms"] is None  # not printed, so not made up


def test_litert_signature_and_peak_memory_lines() -> None:
    text = litert_block_only().replace(
        "INFO: [./litert/tools/benchmark_litert_model.h:123] Peak memory usage not available. "
        "(peak_mem_mb <= 0)",
        "INFO: [./litert/tools/benchmark_litert_model.h:121] Peak memory:          12.25 MB\n"
        "INFO: [./litert/tools/benchmark_litert_model.h:130] Signature name:       serving_default",
    )
    parsed = parse_benchmark_model_output(text)
    assert (parsed.memory_peak_mb, parsed.signature) == (12.25, "serving_default")


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        (
            "FO: Memory footprint delta from the start of the tool (MB): init=3.5 overall=7.25",
            "memory_overall_mb",
            7.25,
        ),
        (
            "O: [./litert/tools/benchmark_litert_model.h:116] Overall footprint:    11.51 MB",
            "memory_overall_mb",
            11.51,
        ),
        (
            "NG: Overall peak memory footprint (MB) via periodic monitoring: 180.1",
            "memory_peak_mb",
            180.1,
        ),
    ],
)
def test_a_line_whose_tag_was_cut_still_parses(line: str, field: str, value: float) -> None:
    assert getattr(parse_benchmark_model_output(line), field) == value


def test_a_cut_tag_is_only_the_tail_of_a_severity_name() -> None:
    # "MB: " ends no severity name: the line is read as it is (and matches nothing).
    parsed = parse_benchmark_model_output("MB: Overall footprint:    11.51 MB")
    assert parsed.memory_overall_mb is None


# --- fuzz -----------------------------------------------------------------------------------

MUTATIONS = ("shuffle", "delete", "insert", "truncate", "bytes")


@st.composite
def mutated_logs(draw: st.DrawFn) -> str:
    """A real log after a few line shuffles, deletions, insertions, truncations, byte noise."""
    lines = read_log(draw(st.sampled_from(LOG_NAMES))).splitlines(keepends=True)
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        lines = MUTATE[mutation](draw, lines)
    return "".join(lines)


def _shuffle(draw: st.DrawFn, lines: list[str]) -> list[str]:
    shuffled = list(lines)
    random.Random(draw(st.integers(0, 2**32))).shuffle(shuffled)
    return shuffled


def _delete(draw: st.DrawFn, lines: list[str]) -> list[str]:
    if not lines:
        return lines
    start = draw(st.integers(0, len(lines) - 1))
    return lines[:start] + lines[start + draw(st.integers(1, 5)) :]


def _insert(draw: st.DrawFn, lines: list[str]) -> list[str]:
    at = draw(st.integers(0, len(lines)))
    noise = draw(
        st.sampled_from(
            [
                st.text(max_size=80),
                st.just("count=1 curr=(all same)"),
                st.just("count=9" * 40),
                st.just("Inference timings in us: Init: , Warmup (avg): 1e999"),
                st.just("========== BENCHMARK RESULTS =========="),
                st.just("\t[node type]\t[Name]"),
                st.just(
                    "Replacing 9 out of 3 node(s) with delegate (() node, yielding 0 partitions"
                ),
            ]
        )
    )
    return [*lines[:at], draw(noise) + "\n", *lines[at:]]


def _truncate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    text = "".join(lines)
    return [text[: draw(st.integers(0, len(text)))]]


def _random_bytes(draw: st.DrawFn, lines: list[str]) -> list[str]:
    text = "".join(lines)
    at = draw(st.integers(0, len(text)))
    noise = draw(st.binary(max_size=64)).decode("utf-8", errors="replace")
    return [text[:at] + noise + text[at:]]


MUTATE = {
    "shuffle": _shuffle,
    "delete": _delete,
    "insert": _insert,
    "truncate": _truncate,
    "bytes": _random_bytes,
}


@settings(max_examples=200, deadline=None)
@given(mutated_logs())
def test_fuzzed_logs_never_raise(text: str) -> None:
    parsed = parse_benchmark_model_output(text)
    assert parsed.status in STATUSES
    json.dumps(parsed.to_dict(), allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    assert parse_benchmark_model_output(text).status in STATUSES


# What a release build off Android prints (LiteRT tree, 2026-08, built for linux-x86_64): the
# tool's verdict only, as the runtime's "Replacing" line is VERBOSE and below its log floor.
RELEASE_BUILD_SUMMARY = (
    "INFO: count=14573 first=59 curr=66 min=57 max=400 avg=68.4075 std=12 p5=58 median=68 p95=72\n"
    "INFO: Inference timings in us: Init: 1266, First inference: 87, Warmup (avg): 64.9091, "
    "Inference (avg): 68.4075\n"
)


@pytest.mark.parametrize(
    ("verdict", "nodes", "partitions", "fully"),
    [
        ("completely executed by the delegate.", (12, 12), 1, True),
        ("partially executed by the delegate w/ 2 delegate kernels.", (None, None), 2, False),
    ],
)
def test_a_verdict_without_runtime_counts_takes_the_models_node_count(
    verdict: str, nodes: tuple[int | None, int | None], partitions: int, fully: bool
) -> None:
    text = f"INFO: Explicitly applied XNNPACK delegate, and the model graph will be {verdict}\n"
    outcome = benchmark_outcome(
        parse_benchmark_model_output(text + RELEASE_BUILD_SUMMARY), "xnnpack", "", 0, 12
    )
    metrics = outcome.metrics
    assert (metrics["nodes_delegated"], metrics["nodes_total"]) == nodes
    assert (metrics["partitions"], metrics["fully_delegated"]) == (partitions, fully)


def test_runtime_counts_win_over_the_models_node_count() -> None:
    text = (
        "VERBOSE: Replacing 10 out of 12 node(s) with delegate (TfLiteXNNPackDelegate) node, "
        "yielding 2 partitions for subgraph 0.\n"
        "INFO: Explicitly applied XNNPACK delegate, and the model graph will be partially "
        "executed by the delegate w/ 2 delegate kernels.\n"
    )
    parsed = parse_benchmark_model_output(text + RELEASE_BUILD_SUMMARY)
    metrics = benchmark_outcome(parsed, "xnnpack", "", 0, 99).metrics
    assert (metrics["nodes_delegated"], metrics["nodes_total"], metrics["partitions"]) == (
        10,
        12,
        2,
    )


def test_a_cpu_cell_runs_every_node_on_the_builtin_kernels() -> None:
    parsed = parse_benchmark_model_output(RELEASE_BUILD_SUMMARY)
    counted = benchmark_outcome(parsed, "cpu", "", 0, 12).metrics
    assert (counted["nodes_delegated"], counted["nodes_total"], counted["partitions"]) == (0, 12, 0)
    unread = benchmark_outcome(parsed, "cpu", "").metrics  # the model unread: unknown, not made up
    assert "nodes_total" not in unread


# What LiteRT's runtime printed compiling kws_dscnn_int8 for the NPU (ai-edge-litert 2.3.0,
# Intel OpenVINO's plugin, in this lab; the wheel's path shortened to /venv): the same runtime
# code that LiteRT's benchmark_model runs on a phone (litert/compiler/plugin/compiler_plugin.cc
# and litert/runtime/compiled_model.cc, google-ai-edge/LiteRT f67457790c9c).
LITERT_LOGS = Path(__file__).parent / "data" / "litert_logs"
# LiteRT's own tool's summary on a phone (tests/data/benchmark_model_logs/12_...).
LITERT_SUMMARY = "12_litert-2025-arm-sme2-cpu-xnnpack-profiler.txt"


def test_the_npus_share_is_read_from_litert_compiler_plugin() -> None:
    log = (LITERT_LOGS / "openvino_npu_kws_dscnn_int8_backend_CPU.log").read_text()
    (npu,) = [d for d in parse_benchmark_model_output(log).delegates if d.name == "NPU"]
    assert (npu.nodes_delegated, npu.nodes_total, npu.partitions) == (12, 12, 1)
    assert npu.fully_delegated


def test_an_npu_whose_plugin_compiled_nothing_is_a_silent_fallback() -> None:
    """Partitioned 12 of 12, then "0 compiler plugins were applied" (its compiler did not
    load): every op ran on the CPU, though the runtime calls the model fully accelerated."""
    log = (LITERT_LOGS / "openvino_npu_kws_dscnn_int8_backend_none.log").read_text()
    parse = parse_benchmark_model_output(log + read_log(LITERT_SUMMARY))
    outcome = benchmark_outcome(parse, "npu", "tail")
    assert (outcome.status, outcome.failure_kind) == ("failed", "fallback")
    assert outcome.reason.startswith("silent CPU fallback: npu took no op")
    compiled = (LITERT_LOGS / "openvino_npu_kws_dscnn_int8_backend_CPU.log").read_text()
    ok = benchmark_outcome(
        parse_benchmark_model_output(compiled + read_log(LITERT_SUMMARY)), "npu", ""
    )
    assert ok.status == "ok" and ok.metrics["nodes_delegated"] == 12
