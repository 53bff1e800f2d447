"""The web server's cost and speed, side by side in one run on this machine.

`viewer`: the loop's FPS on one 640×480 video (an LFW face a frame) three ways, in turns
`--rounds` times: `edge-recognize` alone, with `--serve` and nobody watching, and with `--serve`
and one viewer reading the live MJPEG view all along. The FPS is the one the run logs; the CPU
time per frame (user and system, of the whole process: model loading and server included) is
disturbed less than the rate by other jobs on the machine, whose load average is recorded.

`recognize`: one 640×480 photo with one face (an LFW photo on the test video's background), enrolled
from another photo of that person: `POST /api/recognize` to `edge-serve` on this machine, one
request at a time (latency, requests a second) and from two clients at once (requests a second);
beside it, `edge-recognize -i photo.jpg` for the same photo (its wall time, model loading included,
and the sum of the stage times it logs for the frame).

    python -m benchmarks.runtime.web viewer [--rounds 3] [--frames-per-photo 24] [--result NAME]
    python -m benchmarks.runtime.web recognize [--requests 100] [--result NAME]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from benchmarks.results import add_result_option, write_result
from edge_runtime.io.photo_video import still_frame, write_photo_video

REPO = Path(__file__).resolve().parents[2]
LFW = REPO / "edge_runtime" / "demo_data" / "lfw"
PERSON = "Ann_Veneman"
SCRIPTS = Path(sys.executable).parent
TOKEN = "benchmark-token-" + "b" * 16
FPS_LINE = re.compile(r"(\d+) frames in ([\d.]+) s: ([\d.]+) FPS")
WAYS = ("alone", "serving, nobody watching", "serving, one viewer")


def _photos() -> list[Path]:
    return sorted((LFW / "enrolled" / PERSON).glob("*.jpg"))


def _port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, seconds: float = 5) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=seconds) as response:
        return response.read()


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            _get(f"{url}/health", 1)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server at {url} did not start")


def _watch(url: str, stop: threading.Event, counted: list[int]) -> None:
    """Read the live view until `stop` (or the server goes), counting the JPEGs received."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as stream:
            while not stop.is_set():
                line = stream.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    stream.readline()
                    stream.read(int(line.split(b":")[1]))
                    counted[0] += 1
    except OSError:
        return


def _run_loop(video: Path, way: str) -> dict:
    port = _port()
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "--provider", "cpu", "-i", str(video),
               "--enroll", str(video.parent / "enroll")]  # fmt: skip
    if way != WAYS[0]:
        command += ["--serve", f"127.0.0.1:{port}"]
    env = {**os.environ, "SIAMESE_EDGE_TOKEN": TOKEN}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    stop, received, viewer = threading.Event(), [0], None
    if way == WAYS[2]:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url, process)
        viewer = threading.Thread(target=_watch, args=(f"{url}/api/streams/{video.stem}/live.mjpg", stop, received))
        viewer.start()
    _, log = process.communicate(timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    stop.set()
    if viewer is not None:
        viewer.join(5)
    found = FPS_LINE.search(log)
    if process.returncode != 0 or not found:
        raise SystemExit(f"edge-recognize failed ({process.returncode}): {log[-2000:]}")
    return {"frames": int(found[1]), "seconds": float(found[2]), "fps": float(found[3]), "live frames": received[0],
            "cpu ms per frame": 1000 * cpu / int(found[1])}  # fmt: skip


def viewer(rounds: int, frames_per_photo: int, result: str | None) -> dict:
    """The loop's FPS alone, serving with nobody watching, and with one viewer, in turns."""
    photos = _photos()
    stranger = sorted((LFW / "strangers").glob("*/*.jpg"))[0]
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "door.mp4"
        write_photo_video([("Ann", photos[1]), ("unknown", stranger)] * 20, video, frames_per_photo)
        (Path(folder) / "enroll" / "Ann").mkdir(parents=True)
        shutil.copy(photos[0], Path(folder) / "enroll" / "Ann")
        runs = {way: [] for way in WAYS}
        for _ in range(rounds):
            for way in WAYS:
                runs[way].append(_run_loop(video, way))
                print(way, runs[way][-1], flush=True)
    rows = [{"way": way, "fps": [r["fps"] for r in done], "median fps": statistics.median(r["fps"] for r in done),
             "frames": done[0]["frames"], "live frames received": [r["live frames"] for r in done],
             "median cpu ms per frame": statistics.median(r["cpu ms per frame"] for r in done)}
            for way, done in runs.items()]  # fmt: skip
    alone = rows[0]["median fps"]
    for row in rows:
        row["vs alone"] = row["median fps"] / alone - 1
    load = os.getloadavg()[0]
    figures = {"video": "640x480, one LFW face a frame", "rounds": rounds, "rows": rows, "load average after": load}
    if result:
        write_result(result, figures, benchmark="web_viewer")
    return figures


def recognize(requests: int, result: str | None) -> dict:
    """`POST /api/recognize` of one 640×480 photo with one face, and the CLI on the same photo."""
    photos = _photos()
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo.jpg"
        cv2.imwrite(str(photo), still_frame(photos[1]))
        gallery = Path(folder) / "g.npz"
        subprocess.run([str(SCRIPTS / "edge-gallery"), "enroll", "-g", str(gallery), "--name", "Ann", "--provider",
                        "cpu", str(photos[0])], check=True, capture_output=True)  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run([str(SCRIPTS / "edge-recognize"), "--headless", "--json", "--provider", "cpu", "-g",
                               str(gallery), "-i", str(photo)], capture_output=True, text=True, check=True)  # fmt: skip
        cli_seconds = time.perf_counter() - started
        assert '"name": "Ann"' in done.stdout, done.stdout
        stages = re.search(r"FPS \((.*)\)", done.stderr)[1]  # decode 1.2 ms, detect 3.4 ms, …
        cli_frame_ms = sum(float(v) for v in re.findall(r"([\d.]+) ms", stages))
        port = _port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([str(SCRIPTS / "edge-serve"), "--listen", f"127.0.0.1:{port}", "-g", str(gallery),
                                   "--provider", "cpu"], env={**os.environ, "SIAMESE_EDGE_TOKEN": TOKEN},
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            _wait_for(url, server)
            data = photo.read_bytes()
            for _ in range(5):
                _post(url, data)
            latencies = [_post(url, data) for _ in range(requests)]
            started = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda _: _post(url, data), range(requests)))
            two_clients = requests / (time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(30)
    figures = {"photo": "640x480 JPEG, one LFW face", "requests": requests,
               "api median ms": statistics.median(latencies) * 1000,
               "api p95 ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000,
               "api requests per second, one client": len(latencies) / sum(latencies),
               "api requests per second, two clients": two_clients,
               "cli seconds, one process": cli_seconds,
               "cli ms per frame (its stages, logged)": cli_frame_ms}  # fmt: skip
    if result:
        write_result(result, figures, benchmark="web_recognize")
    return figures


def _post(url: str, data: bytes) -> float:
    """Seconds one POST /api/recognize of `data` takes (it must name Ann)."""
    boundary = "benchmarkboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
    request = urllib.request.Request(f"{url}/api/recognize", data=body, method="POST", headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = response.read()
    seconds = time.perf_counter() - started
    if b'"Ann"' not in answer:
        raise SystemExit(f"the photo was not named Ann: {answer[:300]!r}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    """Run `viewer` or `recognize` and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("viewer", help="loop FPS alone, serving, and with one viewer")
    one.add_argument("--rounds", type=int, default=3)
    one.add_argument("--frames-per-photo", type=int, default=24, help="the video: 40 photos, each this many frames")
    add_result_option(one)
    two = commands.add_parser("recognize", help="/api/recognize against the CLI on one photo")
    two.add_argument("--requests", type=int, default=100)
    add_result_option(two)
    arguments = parser.parse_args(argv)
    if arguments.command == "viewer":
        print(viewer(arguments.rounds, arguments.frames_per_photo, arguments.result))
    else:
        print(recognize(arguments.requests, arguments.result))


if __name__ == "__main__":
    main()
