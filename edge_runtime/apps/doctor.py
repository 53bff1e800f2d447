"""`edge-doctor`: can this machine run the runtime, and on which providers? One fix per problem.

Checks ONNX Runtime and its providers, whether the CUDA, cuDNN and TensorRT libraries load, the
OpenCV build (GStreamer, FFmpeg, GUI), the cameras that open, and the TensorRT engine cache.
Exits 1 when a provider asked for with `--provider` cannot run, or (without `--provider`) when a
provider this onnxruntime build lists cannot start because its libraries do not load; 0 otherwise.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import cv2

from edge_runtime.core.command_line import CONTEXT, verbose_option
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command
from edge_runtime.inference.providers import (
    PROVIDER_LIBRARIES,
    PROVIDER_NAMES,
    ProviderSettings,
    default_cache_dir,
    library_problem,
    short_name,
)
from edge_runtime.io.outputs import display_available, display_problem

# JetPack 6's OpenCV (4.8, with GStreamer) for Python, from the L4T apt repository: what
# Dockerfile.jetson and scripts/jetson_install.sh install (nvidia-opencv is a meta-package that
# also pulls the C++ headers and samples).
JETPACK_OPENCV = "libopencv-python"
LIBRARIES = {
    "CUDA runtime": ("libcudart.so.12", "libcudart.so.11.0", "libcudart.so"),
    "cuDNN": ("libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"),
    "TensorRT": ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"),
}


@dataclass
class Finding:
    """One line of the diagnosis: what was checked, what was found, and the fix if it is a problem."""

    topic: str
    found: str
    fix: str | None = None


def _loads(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return None


def check_onnxruntime() -> tuple[list[Finding], list[str]]:
    """onnxruntime's version and providers."""
    try:
        import onnxruntime as ort
    except ImportError:
        fix = f"{install_command('cpu')}, or on a Jetson the onnxruntime-gpu wheel for your JetPack (docs/jetson.md)"
        return [Finding("onnxruntime", "not installed", fix)], []
    available = ort.get_available_providers()
    findings = [Finding("onnxruntime", f"{ort.__version__}; providers: {', '.join(available)}")]
    if PROVIDER_NAMES["cuda"] not in available:
        findings.append(
            Finding("GPU providers", "CPU only: this onnxruntime build has no CUDA or TensorRT provider",
                    f"for a GPU: pip uninstall -y onnxruntime && {install_command('gpu')} (Jetson: docs/jetson.md)")
        )  # fmt: skip
    return findings, available


def provider_problems(available: list[str]) -> dict[str, str]:
    """The providers this build lists that cannot start here, by short name, with why (their library
    does not load: onnxruntime-gpu then runs such a session on the CPU)."""
    problems = {short_name(name): library_problem(name) for name in available if name in PROVIDER_LIBRARIES}
    return {name: problem for name, problem in problems.items() if problem}


def check_providers(available: list[str]) -> list[Finding]:
    """Whether each GPU provider this build lists can start: its own library and what it needs load."""
    problems = provider_problems(available)
    findings = []
    for name in (short_name(n) for n in available if n in PROVIDER_LIBRARIES):
        if name in problems:
            needs = "CUDA 12, cuDNN 9 and TensorRT 10" if name == "tensorrt" else "CUDA 12 and cuDNN 9"
            fix = f"install {needs} and add them to LD_LIBRARY_PATH (a Jetson: JetPack 6, docs/jetson.md)"
            findings.append(Finding(f"{name} provider", f"cannot start: {problems[name]}", fix))
        else:
            findings.append(Finding(f"{name} provider", "its libraries load"))
    return findings


def check_libraries(available: list[str]) -> list[Finding]:
    """Whether the GPU libraries the providers need can be loaded."""
    findings = []
    wanted = PROVIDER_NAMES["cuda"] in available or PROVIDER_NAMES["tensorrt"] in available
    for label, names in LIBRARIES.items():
        loaded = _loads(names)
        if loaded:
            findings.append(Finding(label, f"loads ({loaded})"))
        elif wanted:
            findings.append(
                Finding(label, "does not load", f"install {label} for your CUDA and add it to LD_LIBRARY_PATH")
            )
        else:
            findings.append(Finding(label, "not found (not needed by a CPU-only onnxruntime)"))
    return findings


def check_opencv() -> list[Finding]:
    """OpenCV's version and whether it has GStreamer (CSI cameras), FFmpeg (files, RTSP) and a GUI."""
    info = cv2.getBuildInformation()

    def has(name: str) -> bool:
        match = re.search(rf"^\s*{name}:\s*(\S+)", info, re.MULTILINE)
        return bool(match) and match.group(1).upper() not in ("NO", "NONE")

    gui = re.search(r"^\s*GUI:\s*(\S+)", info, re.MULTILINE)
    findings = [Finding("OpenCV", cv2.__version__)]
    findings.append(
        Finding("GStreamer", "yes") if has("GStreamer")
        else Finding("GStreamer", "no: csi:// cameras cannot open",
                     f"on a Jetson: pip uninstall -y opencv-python && sudo apt-get install {JETPACK_OPENCV} "
                     "(JetPack's OpenCV with GStreamer; scripts/jetson_install.sh does both)")
    )  # fmt: skip
    findings.append(
        Finding("FFmpeg", "yes") if has("FFMPEG")
        else Finding("FFmpeg", "no: video files and rtsp:// may not open", "install an OpenCV built with FFmpeg")
    )  # fmt: skip
    gui_name = gui.group(1) if gui else "NONE"
    findings.append(Finding("GUI", gui_name if gui_name.upper() != "NONE" else "none: use --headless"))
    if gui_name.upper() != "NONE" and display_available():
        problem = display_problem()
        findings.append(
            Finding("display", problem, "use --headless, or reconnect with ssh -X / start the X server / in Docker "
                    "pass -v /tmp/.X11-unix:/tmp/.X11-unix") if problem
            else Finding("display", f"a window opens on {os.environ.get('DISPLAY') or 'the display'}")
        )  # fmt: skip
    return findings


def check_cameras() -> list[Finding]:
    """Which /dev/video devices open, and whether the Argus socket of CSI cameras is there."""
    devices = sorted(glob.glob("/dev/video*"))
    findings = []
    if not devices:
        findings.append(
            Finding("cameras", "no /dev/video* device", "connect a camera, or in Docker add --device /dev/video0")
        )
    for device in devices:
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        opened = capture.isOpened() and capture.read()[0]
        capture.release()
        fix = None if opened else "check it is free and that you are in the video group"
        findings.append(Finding(f"camera {device}", "opens" if opened else "does not deliver frames", fix))
    if Path("/etc/nv_tegra_release").exists():
        argus = Path("/tmp/argus_socket").exists()
        fix = None if argus else "start nvargus-daemon; in Docker mount -v /tmp/argus_socket:/tmp/argus_socket"
        findings.append(Finding("CSI (Argus)", "socket present" if argus else "no /tmp/argus_socket", fix))
    return findings


def check_cache() -> list[Finding]:
    """Where TensorRT engines are cached and whether that folder is writable."""
    folder = default_cache_dir()
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("/"))
    writable = os.access(probe, os.W_OK)
    fix = None if writable else f"make {folder} writable or set SIAMESE_EDGE_CACHE to a writable folder"
    return [Finding("engine cache", f"{folder} ({'writable' if writable else 'not writable'})", fix)]


def diagnose() -> tuple[list[Finding], list[str]]:
    """Every finding, and onnxruntime's available providers."""
    runtime, available = check_onnxruntime()
    findings = runtime + check_providers(available) + check_libraries(available)
    findings += check_opencv() + check_cameras() + check_cache()
    return findings, available


@click.command(context_settings=CONTEXT)
@verbose_option
@click.option("--provider", "providers", multiple=True, type=click.Choice(list(PROVIDER_NAMES)),
              help="Providers that must run here (repeatable); exit 1 if one cannot.")  # fmt: skip
@click.option("--warmup", "warmup_model", type=click.Path(dir_okay=False), help="Build and cache MODEL's engine.")
@click.option("--trt-fp16", is_flag=True, help="--warmup: the FP16 engine, as edge-recognize --trt-fp16 uses.")
@click.option("--engine-cache", type=click.Path(file_okay=False), help="--warmup: the engine cache folder.")
def main(providers: tuple[str, ...], warmup_model: str | None, trt_fp16: bool, engine_cache: str | None) -> None:
    """Diagnose the runtime's installation: providers, GPU libraries, OpenCV, cameras, engine cache."""
    findings, available = diagnose()
    width = max(len(f.topic) for f in findings)
    for finding in findings:
        click.echo(f"{'!!' if finding.fix else 'ok'} {finding.topic:<{width}}  {finding.found}")
        if finding.fix:
            click.echo(f"   {'':<{width}}  → {finding.fix}")
    broken = provider_problems(available)
    missing = [p for p in providers if PROVIDER_NAMES[p] not in available or p in broken]
    failed = missing or ([] if providers else list(broken))
    if failed:
        click.echo(f"edge-doctor: {', '.join(failed)} cannot run here (see above)", err=True)
    if warmup_model:  # its own line on why, when TensorRT does not start
        from edge_runtime.inference.embedder import Embedder, warm_up

        settings = ProviderSettings(
            tensorrt_fp16=trt_fp16, engine_cache_dir=Path(engine_cache) if engine_cache else None
        )
        try:
            warm_up(Embedder(warmup_model, providers=providers or ("auto",), settings=settings))
        except SiameseEdgeError as error:
            click.echo(f"edge-doctor: {error}", err=True)
            sys.exit(1)
    if failed:
        sys.exit(1)
