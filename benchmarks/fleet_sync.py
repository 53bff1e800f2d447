"""The shared gallery's speed, on a real PostgreSQL started here (benchmarks/fleet_servers.py):

- sync: the time a new device takes to copy 10,000 and 100,000 identities (one embedding each, of
  the bundled AT&T model's size) from the database into its local copy, written and ready to match;
- reach: enrolments made while four devices (four processes, each following the database as
  edge-recognize does) run, and how long each took to be swapped into every device's gallery
  (from the moment the enrolling transaction began to commit to the moment the device held it), p50 and p95.

Enrolments come `--spacing` seconds apart (each device writes its copy after swapping the new gallery
in: a 100,000-identity copy takes a while, and an enrolment that comes before it is done waits).

Usage: python -m benchmarks.fleet_sync [--sizes 10000 100000] [--enrolments 20] [--spacing 2] [--result NAME]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.fleet_servers import PASSWORD, Postgres
from benchmarks.results import add_result_option, write_result
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.fleet.database import GalleryDatabase
from edge_runtime.fleet.gallery_sync import GallerySync
from edge_runtime.inference.embedder import Embedder

DEVICE = """
import sys, time
from edge_runtime.fleet.gallery_sync import GallerySync
uri, copy, family, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def swapped(gallery):
    print(f"{time.time():.6f} {len(gallery)}", flush=True)
sync = GallerySync(uri, copy, family, size, poll=30.0, on_change=swapped)
sync.open()
print("ready", flush=True)
sync.start()
sys.stdin.read()
sync.stop()
"""


def fill(database: GalleryDatabase, family: str, size: int, count: int, seed: int) -> None:
    """Add `count` people with one random unit embedding each, in bulk (COPY), as one logged change each."""
    vectors = np.random.default_rng(seed).normal(size=(count, size)).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    connection = database.connection
    with connection.transaction():
        connection.execute("LOCK TABLE changes IN EXCLUSIVE MODE")
        start = connection.execute("SELECT coalesce(max(id), 0) FROM people").fetchone()[0]
        with connection.cursor().copy("COPY people (id, name, device) FROM STDIN") as copy:
            for i in range(count):
                copy.write_row((start + i + 1, f"person{start + i + 1}", "bulk"))
        with connection.cursor().copy("COPY embeddings (person_id, model_hash, vector, device) FROM STDIN") as copy:
            for i in range(count):
                copy.write_row((start + i + 1, family, vectors[i].tobytes(), "bulk"))
        connection.execute("SELECT setval('people_id_seq', %s)", (start + count,))
        connection.execute("INSERT INTO changes (kind, name, device) SELECT 'enroll', name, 'bulk' FROM people "
                           "WHERE id > %s", (start,))  # fmt: skip


def time_sync(uri: str, family: str, size: int, folder: Path) -> dict:
    """Seconds for a new device to copy the whole gallery (fetch, build, write), and the copy's size."""
    copy = folder / f"new-{time.monotonic_ns()}.npz"
    sync = GallerySync(uri, copy, family, size)
    started = time.perf_counter()
    with GalleryDatabase(uri) as database:
        sync.catch_up(database)
    seconds = time.perf_counter() - started
    return {
        "identities": len(sync.gallery),
        "seconds": round(seconds, 3),
        "copy_mb": round(copy.stat().st_size / 1e6, 1),
    }


def time_reach(uri: str, family: str, size: int, folder: Path, enrolments: int, spacing: float,
               devices: int = 4) -> dict:  # fmt: skip
    """Seconds from an enrolment's commit to its arrival in each of `devices` running devices: p50, p95, max."""
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    processes = [subprocess.Popen([sys.executable, "-c", DEVICE, uri, str(folder / f"device{d}.npz"), family,
                                   str(size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
                 for d in range(devices)]  # fmt: skip
    for process in processes:
        while process.stdout.readline().strip() != "ready":
            pass
    delays = []
    rng = np.random.default_rng(7)
    with GalleryDatabase(uri, "bench") as database:
        for n in range(enrolments):
            vector = rng.normal(size=(1, size)).astype("<f4")
            started = time.time()
            database.enroll(family, f"new{n}", vector / np.linalg.norm(vector), ["bench"], [""])
            for process in processes:
                arrived = float(process.stdout.readline().split()[0])
                delays.append(arrived - started)
            time.sleep(spacing)
    for process in processes:
        process.stdin.close()
        process.wait(timeout=30)
    delays_ms = 1000 * np.array(delays)
    p50, p95 = (round(float(np.percentile(delays_ms, q)), 1) for q in (50, 95))
    return {"devices": devices, "enrolments": enrolments, "spacing_s": spacing, "p50_ms": p50, "p95_ms": p95,
            "max_ms": round(float(delays_ms.max()), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and with --result write results/NAME.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--enrolments", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=2.0, help="seconds between one enrolment's arrival "
                        "everywhere and the next enrolment")  # fmt: skip
    add_result_option(parser)
    args = parser.parse_args(argv)
    info = Embedder(packaged_model(ATT_FACES_MODEL), ("cpu",)).info
    family, size = info.family, info.embedding_size
    os.environ["PGPASSWORD"] = PASSWORD
    server = Postgres()
    try:
        uri = server.uri()
        with tempfile.TemporaryDirectory() as temporary, GalleryDatabase(uri, "bench") as database:
            database.migrate()
            folder, syncs, held = Path(temporary), [], 0
            for count in sorted(args.sizes):
                fill(database, family, size, count - held, seed=count)
                held = count
                syncs.append(time_sync(uri, family, size, folder))
                print(f"sync of {syncs[-1]['identities']:,} identities to a new device: {syncs[-1]['seconds']:.2f} s")
            reach = time_reach(uri, family, size, folder, args.enrolments, args.spacing)
            print(f"an enrolment reaching 4 running devices ({held:,} identities): p50 {reach['p50_ms']:.0f} ms, "
                  f"p95 {reach['p95_ms']:.0f} ms")  # fmt: skip
            reach["identities"] = held
    finally:
        server.close()
    figures = {"embedding size": size, "postgresql": server.bin.parts[-2], "sync": syncs, "reach": reach}
    if args.result:
        write_result(args.result, figures, benchmark="fleet_sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
