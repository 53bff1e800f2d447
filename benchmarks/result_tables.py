"""README's result tables: one function per benchmark, from the figures of its result files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def _percent(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage, or – when it was not measured."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _table(header: list[str], rows: list[list[str]], numeric_from: int) -> str:
    """A Markdown table, the columns from `numeric_from` on aligned right."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def lfw_view2_table(runs: list[dict]) -> str:
    """LFW View 2: one row per run (model, folds, landmarks, turn)."""
    header = ["model", "folds", "landmarks", "second photo turned", "accuracy (threshold from the other folds)",
              "at the model's own threshold", "TAR @ FAR 1e-3", "TAR @ FAR 1e-2", "images without a face"]  # fmt: skip
    rows = [
        [f"`{r['model']}`", f"1–{r['test folds']} ({r['pairs']:,} pairs)", r["landmarks"], f"{r['turn']:g}°",
         f"{_percent(r['accuracy (mean over folds)'])} ± {100 * r['accuracy std']:.2f}",
         _percent(r["accuracy at the model's threshold"]), _percent(r["tar_at_far_1e-3"], 1),
         _percent(r["tar_at_far_1e-2"], 1), str(r["images without a detected face (central crop used)"])]
        for r in runs
    ]  # fmt: skip
    return _table(header, rows, 4)


def gallery_table(runs: list[dict]) -> str:
    """The one-shot gallery test: one row per run and gallery size."""
    header = ["model", "people of folds (faces)", "threshold", "enrolled people, one photo each",
              "their other photos named right", "never-enrolled people's photos called unknown"]  # fmt: skip
    rows = []
    for r in runs:
        people = f"1–{r['test folds']}: {r['people (two usable faces or more)']:,} ({r['faces']:,})"
        for g in r["galleries"]:
            threshold = f"{g.get('threshold', r['threshold']):.4f}" + (
                " (the model's own)" if r["model's own threshold"] else
                f" (--false-name-rate {g['false-name rate asked']:g})" if "false-name rate asked" in g else ""
            )  # fmt: skip
            enrolled = f"{g['enrolled identities (one image each)']:,}"
            named, unknown = _percent(g["known_identification_rate"]), _percent(g["unknown_rejection_rate"])
            rows.append([f"`{r['model']}`", people, threshold, enrolled, named, unknown])
    return _table(header, rows, 2)


def far_table_table(runs: list[dict]) -> str:
    """A model's FAR table: the threshold of each pairwise FAR on held-out people, and the TAR there."""
    header = ["model", "pairwise FAR", "threshold", "TAR", "impostor pairs", "genuine pairs"]
    rows = []
    for r in runs:
        for row in r["rows"]:
            threshold = f"{row['threshold']:.4f}" if row["threshold"] is not None else "too few pairs"
            tar = _percent(row["tar"]) if row["tar"] is not None else "–"
            rows.append([f"`{r['model']}`", f"{row['far']:g}", threshold, tar, f"{row['impostor_pairs']:,}",
                         f"{row['genuine_pairs']:,}"])  # fmt: skip
    return _table(header, rows, 1)


def _ratio_notes(rows: list[dict]) -> list[str]:
    """U8S8 ÷ S8S8 images/s, for the INT8 files of one family measured at one batch size in the run."""
    speed = {(r["family"], r["batch"], r["quantization"]): r for r in rows if r["quantization"]}
    notes = []
    for (family, batch, form), row in speed.items():
        signed = speed.get((family, batch, "s8s8"))
        if form == "u8s8" and signed is not None:
            notes.append(
                f"- `{Path(row['file']).name}` (U8S8) ÷ `{Path(signed['file']).name}` (S8S8), batch {batch}: "
                f"**{row['images_per_s'] / signed['images_per_s']:.2f}×** the images per second"
            )
    return notes


def edge_bench_table(reports: list[dict]) -> str:
    """`edge-bench`: per file and batch its speed, its speed against the run's first file, and its accuracy."""
    parts = []
    for report in reports:
        rows = report["results"]
        first = {r["batch"]: r for r in rows if r["file"] == rows[0]["file"]}
        accuracy = any(r.get("one_shot_accuracy") is not None for r in rows)
        reference = Path(rows[0]["file"]).name
        header = ["file", "precision", "provider", "batch", "p50 ms a batch", "images/s", f"× {reference}"]
        header += ["1-shot accuracy (task)", "FAR / TAR at its threshold"] if accuracy else []
        table = []
        for r in rows:
            base = first.get(r["batch"])
            ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}×" if base else "–"
            precision = f"{r['precision']} ({r['quantization'].upper()})" if r["quantization"] else r["precision"]
            line = [f"`{Path(r['file']).name}`", precision, r["ran_on"], str(r["batch"]), f"{r['p50_ms']:.3f}",
                    f"{r['images_per_s']:,.0f}", ratio]  # fmt: skip
            if accuracy:
                line += [f"{_percent(r['one_shot_accuracy'])} ± {100 * r['one_shot_ci95']:.2f} ({r['accuracy_task']})",
                         f"{_percent(r['far_at_threshold'], 1)} / {_percent(r['tar_at_threshold'], 1)}"]  # fmt: skip
            table.append(line)
        parts.append(_table(header, table, 3) + "\n".join(["", *_ratio_notes(rows)]).rstrip("\n"))
        parts.append(f"\nInputs: {report['inputs']}; {report['system']['threads']}.\n")
    return "\n".join(parts)


def gate_check_table(runs: list[dict]) -> str:
    """Detection and the quality gate on LFW images of View 2 people: what is found, passed and stopped, how fast."""
    rows = []
    for r in runs:
        for name, found in r["detection"].items():
            detector = {"yunet": "YuNet", "haar": "the Haar cascade"}.get(name, name)
            rows.append([f"{detector}: detection (640×480 frame, faces from 64 px)",
                         f"{found['images without a face']} of {r['reporting images']} images without a face",
                         f"{found['ms per 640x480 frame']:.2f} ms a frame"])  # fmt: skip
        gate = f"sharpness {r['in use']['min_sharpness']:g}, frontality {r['in use']['min_frontality']:g}"
        verdict = (f"{_percent(r['passed'], 1)} passed; {_percent(r['3 px Gaussian blur: stopped'], 1)} of the same "
                   "faces blurred by a 3 px Gaussian stopped")  # fmt: skip
        rows.append([f"quality gate at its defaults ({gate}), {r['reported faces']} faces", verdict,
                     f"{r['ms per face: gate']:.3f} ms a face"])  # fmt: skip
        rows.append(["dlib's landmarks and the warp onto the template", "–",
                     f"{r['ms per face: cut onto the template']:.2f} ms a face"])  # fmt: skip
    return _table(["step", "result", "time"], rows, 2)


def gallery_search_table(runs: list[dict]) -> str:
    """Gallery search: milliseconds of one query's top matches, by gallery size and index."""
    rows = [[f"{row['identities']:,}", row["index"], f"{r['dim']}-d, top {r['top']}, {r['queries']} queries",
             f"{row['median_ms']:.3f}", f"{row['p99_ms']:.3f}"] for r in runs for row in r["rows"]]  # fmt: skip
    return _table(["identities", "index", "queries", "median ms", "p99 ms"], rows, 3)


def video_test_table(runs: list[dict]) -> str:
    """The video test: one row per run, how the faces were shown and how they were named frame by frame."""
    header = ["video", "frames", "enrolled people's frames named right", "strangers' frames not named",
              "wrong names (per 1,000 frames)", "frames pending", "enrolled appearances named", "FPS"]  # fmt: skip
    rows = []
    for r in runs:
        video = r.get("video") or {}
        if video.get("faces", 1) > 1:
            shown = f"{video['faces']} faces a frame"
        else:
            shown = "one face, each photo " + (
                "where the last stood" if video.get("in place") else "in the next quarter"
            )
        rows.append([shown, f"{r['faces shown (frames)']:,}", _percent(r["enrolled people named right (frames)"]),
                     _percent(r["strangers not named (frames)"]),
                     f"{r['wrong names (frames)']} ({r['wrong names per 1,000 frames']:g})",
                     str(r.get("frames pending (a face recognised, its name not yet confirmed)", "–")),
                     _percent(r["enrolled people named right (appearances)"]),
                     "–" if r["fps"] is None else f"{r['fps']:.1f}"])  # fmt: skip
    return _table(header, rows, 1)


CHANGES = ["enrolled→enrolled", "enrolled→stranger", "stranger→enrolled", "stranger→stranger", "crossing"]


def video_test_compare_table(runs: list[dict]) -> str:
    """Two versions on one doorway video, side by side: wrong names per 1,000 frames, in all and after each
    kind of change of person, the enrolled frames named, the strangers' frames not named and the FPS."""
    header = ["version", "wrong names per 1,000 frames (wrong names)",
              *(f"after {c}" if c != "crossing" else "two crossing" for c in CHANGES),
              "enrolled people's frames named right", "strangers' frames not named", "FPS"]  # fmt: skip
    rows = []
    for run in runs:
        for r in run["rows"]:
            changes = r.get("wrong names by change of person", {})
            by_change = [f"{changes[c]['per 1,000 frames']:g} ({changes[c]['wrong names (frames)']})"
                         if c in changes else "–" for c in CHANGES]  # fmt: skip
            rows.append([f"{r['version']} (`{r['commit'][:7]}`)",
                         f"{r['wrong names per 1,000 frames']:g} ({r['wrong names (frames)']})", *by_change,
                         _percent(r["enrolled people named right (frames)"]),
                         _percent(r["strangers not named (frames)"]),
                         "–" if r["fps"] is None else f"{r['fps']:.1f}"])  # fmt: skip
    return _table(header, rows, 1)


def web_viewer_table(runs: list[dict]) -> str:
    """The loop's FPS alone, serving with nobody watching, and with one viewer on the live page."""
    rows = [[row["way"], ", ".join(f"{fps:.1f}" for fps in row["fps"]), f"{row['median fps']:.1f}",
             f"{100 * row['vs alone']:+.1f}%", f"{row['median cpu ms per frame']:.1f}",
             ", ".join(str(n) for n in row["live frames received"])]
            for r in runs for row in r["rows"]]  # fmt: skip
    return _table(["the loop", "FPS of each round", "median FPS", "against alone", "CPU ms a frame",
                   "live frames sent"], rows, 1)  # fmt: skip


def web_recognize_table(runs: list[dict]) -> str:
    """`POST /api/recognize` of one photo against the CLI on the same photo."""
    rows = []
    for r in runs:
        rows.append(["POST /api/recognize, one client", f"{r['api median ms']:.1f} ms (p95 {r['api p95 ms']:.1f} ms)",
                     f"{r['api requests per second, one client']:.1f}"])  # fmt: skip
        rows.append(["POST /api/recognize, two clients", "–", f"{r['api requests per second, two clients']:.1f}"])
        rows.append(["edge-recognize -i photo.jpg (a process)", f"{1000 * r['cli seconds, one process']:.0f} ms",
                     f"{1 / r['cli seconds, one process']:.2f}"])  # fmt: skip
        rows.append(["edge-recognize: its stages for the photo, logged", "–" if (ms := r.get(
            "cli ms per frame (its stages, logged)")) is None else f"{ms:.1f} ms", "–"])  # fmt: skip
    return _table(["one 640×480 photo, one face", "latency", "photos a second"], rows, 1)


def gpu_check_table(runs: list[dict]) -> str:
    """benchmarks/gpu_check.py's report (one per run): per provider × precision, ran or why not."""
    from benchmarks.gpu_check import markdown  # (it loads the runtime: only when such a block is rendered)

    return "\n".join(markdown(run) for run in runs).rstrip("\n")


def fleet_sync_table(runs: list[dict]) -> str:
    """The shared gallery: a new device's sync by gallery size, and an enrolment reaching four running devices."""
    rows = []
    for r in runs:
        for sync in r["sync"]:
            rows.append([f"sync to a new device, {sync['identities']:,} identities ({r['embedding size']}-d)",
                         f"{sync['seconds']:.2f} s", f"copy {sync['copy_mb']:.1f} MB"])  # fmt: skip
        reach = r["reach"]
        apart = f"{reach['enrolments']} enrolments {reach.get('spacing_s', 0.2):g} s apart"
        rows.append([f"an enrolment reaching {reach['devices']} running devices ({reach['identities']:,} identities, "
                     f"{apart})", f"p50 {reach['p50_ms']:.0f} ms",
                     f"p95 {reach['p95_ms']:.0f} ms, max {reach['max_ms']:.0f} ms"])  # fmt: skip
    return _table(["what", "time", "also"], rows, 1)


def fleet_events_table(runs: list[dict]) -> str:
    """The camera loop with the shared gallery and MQTT events off and on, and the event latency."""
    rows = [[f"{r['frames']:,} frames, an appearance every {r.get('period', 12)}, {r['repeats']} runs each",
             f"{r['median_fps_off']:.1f}",
             f"{r['median_fps_on']:.1f}", f"{r['on_over_off']:.3f}×",
             f"{r['latency_p50_ms']:.1f} ms / {r['latency_p95_ms']:.1f} ms ({r['events']:,} events)"]
            for r in runs]  # fmt: skip
    header = ["video", "FPS off (median)", "FPS on: sync + events (median)", "on ÷ off",
              "event latency, frame to subscriber: p50 / p95"]  # fmt: skip
    return _table(header, rows, 1)


TABLES: dict[str, Callable[[list[dict]], str]] = {
    "lfw_view2": lfw_view2_table,
    "gallery_test": gallery_table,
    "edge-bench": edge_bench_table,
    "gate_check": gate_check_table,
    "gallery_search": gallery_search_table,
    "video_test": video_test_table,
    "far_table": far_table_table,
    "video_test_compare": video_test_compare_table,
    "web_viewer": web_viewer_table,
    "web_recognize": web_recognize_table,
    "gpu_check": gpu_check_table,
    "fleet_sync": fleet_sync_table,
    "fleet_events": fleet_events_table,
}
