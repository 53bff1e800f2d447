"""The facts a benchmark's reader needs to trust or compare it: CPU, GPU, library versions, threads."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from edge_runtime.inference.onnx_runtime import onnxruntime

# The instruction sets that change how fast, and for some how exactly, quantized networks run.
INTERESTING_FLAGS = (
    "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "asimddp", "fphp",
)  # fmt: skip


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """The CPU's model name and which of INTERESTING_FLAGS it has (from /proc/cpuinfo where there is one)."""
    model, flags = platform.processor() or platform.machine(), []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model") and value.strip():
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                present = set(value.split())
                flags = [f for f in INTERESTING_FLAGS if f in present]
    return model, flags


def _gpu() -> str:
    if not shutil.which("nvidia-smi"):
        return "none found (no nvidia-smi)"
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "nvidia-smi did not answer"
    return done.stdout.strip().replace("\n", "; ") or "none"


def _tensorrt_version() -> str:
    try:
        import tensorrt

        return tensorrt.__version__
    except ImportError:
        return "not installed"


def system_facts() -> dict[str, str]:
    """CPU model and SIMD flags (VNNI or not), GPU, onnxruntime and TensorRT versions, threads."""
    ort = onnxruntime()
    model, flags = cpu_model_and_flags()
    vnni = any("vnni" in f or f == "amx_int8" for f in flags)
    return {
        "cpu": model,
        "cpu_flags": " ".join(flags) or "none of " + ", ".join(INTERESTING_FLAGS),
        "int8_dot_product (VNNI)": "yes" if vnni else "no",
        "cores": str(os.cpu_count()),
        "gpu": _gpu(),
        "onnxruntime": f"{ort.__version__} ({', '.join(ort.get_available_providers())})",
        "tensorrt": _tensorrt_version(),
        "threads": f"ONNX Runtime default (one per core); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "python": platform.python_version(),
    }
