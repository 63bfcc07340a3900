"""What LiteRT's accelerators say they ran, read from their own log (native stderr): coverage,
the ops left on the CPU, a silent CPU fallback, and which accelerator and SDK it was."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections import Counter

from .outcome import CellOutcome
from .runtime import dist_version

# What the accelerators print (LiteRT 2.3 on stderr): the GPU delegate's partition summary
# (tflite/delegates/gpu/common/model_builder.cc), its kernel per partition, and the NPU
# compiler plugin's partitioning (litert/compiler/plugin/compiler_plugin.cc).
GPU_SPLIT = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations")
GPU_NONE = re.compile(r"No operations will run on the GPU, and all (\d+) operations")
# "Following operations are not supported by GPU delegate:" then one "OP: why" line per op
# ("ZEROS_LIKE: Operation is not supported.", "RELU_0_TO_1: Not supported op RELU_0_TO_1").
GPU_MISSING = re.compile(r"not supported by GPU delegate:\n((?:[A-Z0-9_]+: .*\n)+)")
GPU_KERNEL = re.compile(r"Initializ\w+ (\w+)-based API")
# "Selected adapter: SwiftShader Device (Subzero), arch=swiftshader, vendor=google,
# backend=Vulkan, adapterType=CPU / Software" (Dawn, through LiteRT's WebGPU accelerator).
GPU_ADAPTER = re.compile(r"Selected adapter: ([^,\n]+)(?:.*adapterType=([^\n]+))?")
# LiteRT's CompiledModel (its benchmark_model on a phone, the Python wheel here: the same
# runtime) says what the NPU took in two lines: the compiler plugin's partitioning, per
# subgraph, "Partitioned subgraph<0>, selected 12 ops, from a total of 12 ops. resulted in 1
# partitions." (litert/compiler/plugin/compiler_plugin.cc; Google's own apply_plugin.py reads
# it with the same pattern), then "1 compiler plugins were applied successfully: ..."
# (litert/runtime/compiled_model.cc). Partitioned is not compiled: with "0 compiler plugins
# were applied" every op ran on the CPU, while the runtime still calls it fully accelerated.
NPU_SPLIT = re.compile(
    r"Partitioned subgraph<\d+>, selected (\d+) ops, from a total of (\d+) ops\. "
    r"resulted in (\d+) partitions"
)
NPU_DEVICE = re.compile(r"Using Intel OpenVINO device: (\S+)")
NPU_APPLIED = re.compile(r"(\d+) compiler plugins were applied successfully")
NPU_ERROR = re.compile(r"^.*(?:compiler loading failed|Plugin errs).*$", re.M)


class NativeStderr:
    """Captures what native code writes to file descriptor 2 inside the block."""

    def __enter__(self) -> "NativeStderr":
        import tempfile

        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace")
        self._file.close()


def no_accelerator(delegate: str, log: str) -> CellOutcome | None:
    """A skip when the device has no such accelerator at all (no GPU adapter: no Vulkan
    driver, or one Dawn rejects), saying the runtime's own words."""
    keys = ("Couldn't load Vulkan", "No adapters found", "Failed to initialize", "OpenCL")
    lines = [" ".join(line.split()) for line in log.splitlines() if any(k in line for k in keys)]
    if not delegate.startswith("gpu") or not lines:
        return None
    reason = "; ".join(dict.fromkeys(lines))[:1000]
    return CellOutcome("skipped", None, f"LiteRT GPU accelerator unavailable: {reason}")


def accelerator_coverage(delegate: str, log: str, nodes: int) -> dict:
    """What ran on the accelerator, from its own words. No evidence that it took any node is a
    silent CPU fallback, whatever the runtime's is_fully_accelerated() says."""
    if delegate == "litert_cpu":
        return {"nodes_delegated": nodes, "nodes_total": nodes, "partitions": 1,
                "fully_delegated": True, "cpu_fallback_ops": {}}  # fmt: skip
    taken, total, partitions = _split(delegate, log, nodes)
    missing = dict(Counter(unsupported_ops(log)))
    if not taken:
        said = [f"{op}: not supported" for op in missing] + NPU_ERROR.findall(log)[:2]
        why = "; ".join(" ".join(w.split())[:300] for w in said) or "no partition in its log"
        raise CellOutcome(
            "failed", "fallback", f"silent CPU fallback: {delegate} took no op ({why})"
        )
    return {"nodes_delegated": taken, "nodes_total": total, "partitions": partitions,
            "fully_delegated": taken == total, "cpu_fallback_ops": missing}  # fmt: skip


def unsupported_ops(log: str) -> list:
    """The ops the GPU delegate listed as unsupported (their names, once per listing)."""
    return [line.split(":")[0] for block in GPU_MISSING.findall(log) for line in block.split("\n")
            if line]  # fmt: skip


def npu_split(log: str) -> tuple[tuple[int, int, int], bool] | None:
    """The NPU's (selected, total, partitions) ops summed over LiteRT's subgraphs, and whether
    a compiler plugin was applied; None when the log tells of no partitioning."""
    found = NPU_SPLIT.findall(log)
    if not found:
        return None
    applied = sum(int(n) for n in NPU_APPLIED.findall(log))
    selected, total, partitions = (sum(int(f[i]) for f in found) for i in range(3))
    return (selected, total, partitions), applied > 0


def _split(delegate: str, log: str, nodes: int) -> tuple:
    if delegate == "npu":  # partitioned is not compiled: a plugin that failed took nothing
        split = npu_split(log)
        return split[0] if split and split[1] else (0, nodes, 0)
    if GPU_NONE.search(log):
        return 0, nodes, 0
    kernels = len(GPU_KERNEL.findall(log))
    split = GPU_SPLIT.search(log)
    if split:
        return int(split.group(1)), int(split.group(1)) + int(split.group(2)), kernels
    return (nodes, nodes, kernels) if kernels else (0, nodes, 0)


def accelerator_facts(delegate: str, log: str) -> dict:
    """Which accelerator ran (a GPU adapter, an NPU vendor device) and its software, for
    provenance: a software GPU's latency must never be read as a phone's."""
    if delegate.startswith("gpu"):
        adapter, backend = GPU_ADAPTER.search(log), GPU_KERNEL.search(log)
        kind = adapter and adapter.group(2) and f" [{adapter.group(2).strip()}]"
        name = adapter and adapter.group(1).strip() + (kind or "")
        words = [name, backend and backend.group(1)]
        return {"accelerator": " via ".join(w for w in words if w) or None}
    if delegate != "npu":
        return {"accelerator": "XNNPACK (CompiledModel CPU)"}
    device = NPU_DEVICE.search(log)
    facts = {"accelerator": "Intel OpenVINO" + (f" {device.group(1)}" if device else "")}
    facts.update(npu_sdk())
    return facts


def npu_sdk() -> dict:
    """The vendor SDK's version and the dispatch library's sha256 (the wheel's own)."""
    import glob

    from ai_edge_litert import environment

    vendors = os.path.join(os.path.dirname(environment.__file__), "vendors")
    libraries = glob.glob(os.path.join(vendors, "*", "dispatch", "libLiteRtDispatch_*.so"))
    found = {"accelerator_sdk": "openvino " + dist_version("openvino", None)}
    if libraries:
        with open(libraries[0], "rb") as library:
            found["dispatch_sha256"] = hashlib.sha256(library.read()).hexdigest()
    return found
