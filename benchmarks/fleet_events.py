"""The camera loop with the shared gallery and MQTT events on against off, side by side in one run, and
the latency of an event from its frame to a subscriber of the broker; real PostgreSQL and Mosquitto
started here (benchmarks/fleet_servers.py).

edge-recognize runs the same video (the bundled AT&T model; one face for `--period` frames, a grey
frame for as many: an appearance every `--period` frames, 12 by default, a stress far beyond a
door's) alternately off (a gallery file, no events) and on (`-g
postgresql://…` followed while it runs, one enrolment arriving mid-run, and `--events mqtt://…` with
snapshots), `--repeats` times each; the FPS each run reports, the median of each side and their
ratio. Event latency: from the moment the frame was read (the message's `time`) to the moment a
subscriber on the same machine received the message, p50 and p95 over every event of the "on" runs.

Usage: python -m benchmarks.fleet_events [--frames 20000] [--period 12] [--repeats 3] [--result NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.fleet_servers import PASSWORD, Mosquitto, Postgres, blinking_video
from benchmarks.results import add_result_option, write_result
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.fleet.database import GalleryDatabase

REPO = Path(__file__).resolve().parent.parent
FACES = REPO / "data" / "demo" / "att_faces"
SCRIPTS = Path(sys.executable).parent
FPS = re.compile(r"(\d+) frames in ([\d.]+) s: ([\d.]+) FPS")


class Latencies:
    """A subscriber that notes how long after its frame each appearance arrived."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.seconds: list[float] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-watcher")
        self.client.username_pw_set("device", PASSWORD)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("bench/+/+/appearance", 1)
        self.client.on_message = lambda c, u, m: self.seconds.append(time.time() - json.loads(m.payload)["time"])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def run_device(command: list[str], env: dict) -> float:
    """Run edge-recognize to the end of the video; the FPS it reports."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
    found = FPS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"edge-recognize failed: {done.stderr[-2000:]}")
    return float(found.group(3))


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and with --result write results/NAME.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--period", type=int, default=12, help="frames between appearances")
    parser.add_argument("--repeats", type=int, default=3)
    add_result_option(parser)
    args = parser.parse_args(argv)
    env = {**os.environ, "PGPASSWORD": PASSWORD, "SIAMESE_EDGE_MQTT_PASSWORD": PASSWORD}
    os.environ["PGPASSWORD"] = PASSWORD
    model = str(packaged_model(ATT_FACES_MODEL))
    database, broker = Postgres(), Mosquitto()
    try:
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            video = folder / "door.mp4"
            blinking_video(video, FACES / "s1" / "1.png", args.frames, args.period)
            gallery = SCRIPTS / "edge-gallery"
            subprocess.run([gallery, "enroll", "-m", model, "-g", database.uri(), "--name", "ann", FACES / "s1"],
                           env=env, check=True, capture_output=True)  # fmt: skip
            subprocess.run([gallery, "sync", "-m", model, "-g", database.uri(), "--gallery-copy", folder / "off.npz"],
                           env=env, check=True, capture_output=True)  # fmt: skip
            base = [str(SCRIPTS / "edge-recognize"), "--headless", "-m", model, "-i", str(video)]
            off = [*base, "-g", str(folder / "off.npz")]
            on = [*base, "-g", database.uri(), "--gallery-copy", str(folder / "on.npz"), "--device", "door",
                  "--events", f"mqtt://device@127.0.0.1:{broker.port}/bench?snapshot=1"]  # fmt: skip
            watcher = Latencies(broker.port)
            fps = {"off": [], "on": []}
            for repeat in range(args.repeats):
                fps["off"].append(run_device(off, env))
                enrolment = threading.Timer(1.0, _enroll_one, (database.uri(), model, repeat))
                enrolment.start()
                fps["on"].append(run_device(on, env))
                enrolment.join()
                print(f"run {repeat + 1}: off {fps['off'][-1]:.1f} FPS, on {fps['on'][-1]:.1f} FPS")
            time.sleep(1)
            watcher.close()
    finally:
        database.close()
        broker.close()
    latency_ms = 1000 * np.array(watcher.seconds)
    median = {side: float(np.median(values)) for side, values in fps.items()}
    figures = {
        "frames": args.frames, "period": args.period, "repeats": args.repeats,
        "fps_off": fps["off"], "fps_on": fps["on"],
        "median_fps_off": round(median["off"], 1), "median_fps_on": round(median["on"], 1),
        "on_over_off": round(median["on"] / median["off"], 3), "events": int(len(latency_ms)),
        "latency_p50_ms": round(float(np.percentile(latency_ms, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(latency_ms, 95)), 1),
    }  # fmt: skip
    print(f"median FPS off {median['off']:.1f}, on {median['on']:.1f} ({figures['on_over_off']:.3f}×); "
          f"event latency p50 {figures['latency_p50_ms']} ms, p95 {figures['latency_p95_ms']} ms")  # fmt: skip
    if args.result:
        write_result(args.result, figures, benchmark="fleet_events")
    return 0


def _enroll_one(uri: str, model: str, repeat: int) -> None:
    """Enrol one more person (a random embedding of the model's size) while a device runs."""
    from edge_runtime.inference.embedder import Embedder

    info = Embedder(model, ("cpu",)).info
    vector = np.random.default_rng(repeat).normal(size=(1, info.embedding_size)).astype("<f4")
    with GalleryDatabase(uri, "bench") as database:
        database.enroll(info.family, f"visitor{repeat}", vector / np.linalg.norm(vector), ["bench"], [""])


if __name__ == "__main__":
    sys.exit(main())
