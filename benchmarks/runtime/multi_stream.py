"""Several cameras in one process against one process per camera, side by side on the same files.

`make` writes N 640×480 videos of LFW photos (default: the repo's `edge_runtime/demo_data/lfw`, no download;
video k shows enrolled people 2k and 2k+1, their photos after the first, and strangers 2k and
2k+1), and a gallery enrolled once from ONE photo of each enrolled person.

`compare` runs, in turns (one way, then the other, `--rounds` times):
- one `edge-recognize -i v0 -i v1 … -g gallery.npz --headless --json --output …` process;
- N `edge-recognize -i vK -g gallery.npz --headless --json --output …` processes at once;

and reports for each way: frames, wall-clock seconds from start to the last exit (start-up
included), total frames per second (frames / wall seconds), the sum of the FPS the processes print
(start-up excluded), CPU time (user and system) per frame, which other jobs on the machine disturb
far less than the rates, peak memory (the peak, over time, of the summed RSS and PSS of the running
processes, sampled every 50 ms; PSS shares each shared page among the processes that map it), the
load average before and after, and whether both ways announced the same names on each stream.

    python -m benchmarks.runtime.multi_stream make OUT [--streams 4] [--data edge_runtime/demo_data/lfw]
    python -m benchmarks.runtime.multi_stream compare OUT [--rounds 2] [-- edge-recognize options]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from edge_runtime.identity.names import UNKNOWN
from edge_runtime.io.photo_video import write_photo_video

REPO = Path(__file__).resolve().parents[2]
FRAMES_PER_PHOTO, REPEAT = 15, 2
SCRIPTS = Path(sys.executable).parent


def make(out: Path, data: Path, streams: int) -> None:
    """Write OUT/v0.mp4 … and OUT/gallery.npz (one photo per enrolled person)."""
    enrolled = sorted(p for p in (data / "enrolled").iterdir() if p.is_dir())
    strangers = sorted(p for p in (data / "strangers").iterdir() if p.is_dir())
    if len(enrolled) < 2 * streams or len(strangers) < 2 * streams:
        sys.exit(f"{data} needs {2 * streams} people in enrolled/ and in strangers/ for {streams} streams")
    out.mkdir(parents=True, exist_ok=True)
    enroll = out / "enroll"
    for person in enrolled[: 2 * streams]:
        first = sorted(person.glob("*.jpg"))[0]
        (enroll / person.name).mkdir(parents=True, exist_ok=True)
        (enroll / person.name / first.name).write_bytes(first.read_bytes())
    for k in range(streams):
        shown = [(p.name, photo) for p in enrolled[2 * k : 2 * k + 2] for photo in sorted(p.glob("*.jpg"))[1:]]
        shown += [(UNKNOWN, photo) for p in strangers[2 * k : 2 * k + 2] for photo in sorted(p.glob("*.jpg"))]
        truth = write_photo_video(shown * REPEAT, out / f"v{k}.mp4", FRAMES_PER_PHOTO)
        print(f"{out / f'v{k}.mp4'}: {len(truth)} frames, {len(shown) * REPEAT} photos")
    command = [str(SCRIPTS / "edge-gallery"), "enroll", "-g", str(out / "gallery.npz"), str(enroll)]
    subprocess.run(command, check=True)


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's children that have ended."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _memory(pid: int) -> tuple[int, int]:
    """RSS and PSS of a running process, in KiB (0, 0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    found = dict(re.findall(r"^(Rss|Pss):\s+(\d+) kB", text, re.MULTILINE))
    return int(found.get("Rss", 0)), int(found.get("Pss", 0))


def _run(commands: list[list[str]], logs: list[Path]) -> dict:
    """Start every command at once; wall seconds to the last exit, peak summed RSS/PSS, their stderr."""
    started, cpu_before = time.perf_counter(), _children_cpu()
    processes = []
    for command, log in zip(commands, logs, strict=True):
        with open(log.with_suffix(".jsonl"), "w") as events, open(log, "w") as errors:
            processes.append(subprocess.Popen(command, stdout=events, stderr=errors))
    peak_rss = peak_pss = 0
    while any(p.poll() is None for p in processes):
        sizes = [_memory(p.pid) for p in processes if p.poll() is None]
        peak_rss = max(peak_rss, sum(r for r, _ in sizes))
        peak_pss = max(peak_pss, sum(p for _, p in sizes))
        time.sleep(0.05)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    failed = [p.args for p in processes if p.returncode != 0]
    if failed:
        sys.exit(f"failed: {failed}; see {logs[0].parent}")
    texts = [log.read_text() for log in logs]
    runs = [re.search(r"(\d+) frames in ([\d.]+) s: ([\d.]+) FPS", text) for text in texts]
    frames = sum(int(r.group(1)) for r in runs)
    return {
        "processes": len(commands),
        "frames": frames,
        "wall_s": round(wall, 2),
        "total_fps": round(frames / wall, 2),
        "printed_fps_sum": round(sum(float(r.group(3)) for r in runs), 2),
        "cpu_s": round(cpu, 1),
        "cpu_ms_per_frame": round(1000 * cpu / frames, 1),
        "peak_rss_mib": round(peak_rss / 1024, 1),
        "peak_pss_mib": round(peak_pss / 1024, 1),
    }


def _announced(events: list[Path]) -> dict[str, list[str]]:
    """The names each stream announced (events), in order."""
    said: dict[str, list[str]] = {}
    for path in events:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["event"]:
                said.setdefault(record["stream"], []).append(record["name"])
    return said


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def compare(out: Path, rounds: int, options: list[str]) -> None:
    """Both ways in turns; print each run and the means as JSON."""
    videos = sorted(out.glob("v*.mp4"), key=lambda p: int(p.stem[1:]))
    base = [str(SCRIPTS / "edge-recognize"), "-g", str(out / "gallery.npz"), "--headless", "--json", *options]
    results = []
    for number in range(rounds):
        for way in ("one process", "a process per stream"):
            folder = out / f"round{number}" / ("one" if way == "one process" else "each")
            folder.mkdir(parents=True, exist_ok=True)
            if way == "one process":
                inputs = [a for v in videos for a in ("-i", str(v))]
                commands = [[*base, *inputs, "--output", str(folder / "out.mp4")]]
                logs = [folder / "run.log"]
            else:
                commands = [[*base, "-i", str(v), "--output", str(folder / f"out.{v.stem}.mp4")] for v in videos]
                logs = [folder / f"{v.stem}.log" for v in videos]
            load_before = _load()
            result = {"way": way, "round": number, "load_before": load_before, **_run(commands, logs),
                      "load_after": _load()}  # fmt: skip
            result["announced"] = _announced([log.with_suffix(".jsonl") for log in logs])
            print(json.dumps({k: v for k, v in result.items() if k != "announced"}), flush=True)
            results.append(result)
    ways = {}
    for way in ("one process", "a process per stream"):
        mine = [r for r in results if r["way"] == way]
        ways[way] = {k: round(sum(r[k] for r in mine) / len(mine), 2) for k in
                     ("wall_s", "total_fps", "printed_fps_sum", "cpu_ms_per_frame", "peak_rss_mib",
                      "peak_pss_mib")}  # fmt: skip
    one, each = ways["one process"], ways["a process per stream"]
    same = all(r["announced"] == results[0]["announced"] for r in results)
    summary = {
        "streams": len(videos),
        "command": " ".join(base),
        "means": ways,
        "one process / a process per stream": {
            "total_fps": round(one["total_fps"] / each["total_fps"], 2),
            "cpu_per_frame": round(one["cpu_ms_per_frame"] / each["cpu_ms_per_frame"], 2),
            "peak_pss": round(one["peak_pss_mib"] / each["peak_pss_mib"], 2),
            "peak_rss": round(one["peak_rss_mib"] / each["peak_rss_mib"], 2),
        },
        "same names announced on every stream, both ways, every round": same,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    (out / "compare.json").write_text(json.dumps({"runs": results, "summary": summary}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["make", "compare"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--data", type=Path, default=REPO / "edge_runtime" / "demo_data" / "lfw")
    parser.add_argument("--rounds", type=int, default=2)
    args, rest = parser.parse_known_args()
    if args.action == "make":
        make(args.out, args.data, args.streams)
    else:
        compare(args.out, args.rounds, [a for a in rest if a != "--"])


if __name__ == "__main__":
    main()
