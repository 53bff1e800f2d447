"""The HTTP API against a real uvicorn server (`edge-serve`, and `edge-recognize --serve` beside a
video playing through the loop) on a free local port: the token, bad uploads as 4xx JSON, enrol,
rename and remove through the gallery file, recognising and verifying real LFW photos, the streams,
events, live view and metrics."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
pytest.importorskip("uvicorn", reason="the [serve] extra is not installed")

from web_server import SCRIPTS, TOKEN, call, free_port, running, upload  # noqa: E402

from edge_runtime.identity.gallery import Gallery  # noqa: E402
from edge_runtime.io.photo_video import write_photo_video  # noqa: E402

LFW = Path(__file__).resolve().parent.parent / "edge_runtime" / "demo_data" / "lfw"
ANN = sorted((LFW / "enrolled" / "Ann_Veneman").glob("*.jpg"))
BORIS = sorted((LFW / "enrolled" / "Boris_Becker").glob("*.jpg"))
STRANGER = sorted((LFW / "strangers").glob("*/*.jpg"))[0]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims width×height pixels and holds almost no data: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + data + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`edge-serve` on a free port with a token from the environment and a gallery file (none yet)."""
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    command = [str(SCRIPTS / "edge-serve"), "--listen", f"127.0.0.1:{port}", "-g", str(root / "g.npz"),
               "--provider", "cpu"]  # fmt: skip
    with running(command, port):
        yield f"http://127.0.0.1:{port}", root / "g.npz"


def test_without_the_token_everything_but_health_is_refused_as_json(server):
    url, _ = server
    assert call("GET", f"{url}/health", token=None) == (200, {"status": "ok"})
    for method, path in (("GET", "/api/people"), ("GET", "/api/streams"), ("GET", "/metrics"),
                         ("DELETE", "/api/people/anyone"), ("GET", "/api/events")):  # fmt: skip
        status, body = call(method, url + path, token=None)
        assert status == 401 and "token" in body["error"], (path, status, body)
    status, body = upload(f"{url}/api/people", {"file": ("a.jpg", ANN[0].read_bytes())}, {"name": "Ann"}, token=None)
    assert status == 401 and "token" in body["error"]
    assert call("GET", f"{url}/api/people", token="wrong-token-" + "y" * 16)[0] == 401
    status, page = call("GET", f"{url}/people", token=None)  # a page: the login form, still refused
    assert status == 401 and b'name="token"' in page


def test_bad_uploads_are_4xx_json_and_the_server_goes_on(server):
    url, _ = server
    cases = [
        (b"this is not an image", 415, "not an image"),
        (b"", 422, "empty"),
        (_png_header(100_000, 100_000), 413, "pixels"),
        (ANN[0].read_bytes()[:300], 415, ""),  # a JPEG cut short
        (b"\xff" * (10 * 1024 * 1024 + 1), 413, "limit"),
    ]
    for data, status, words in cases:
        got, body = upload(f"{url}/api/recognize", {"file": ("x.jpg", data)})
        assert got == status and words in body["error"], (status, got, body)
    flat = _flat_png()
    got, body = upload(f"{url}/api/people", {"file": ("flat.png", flat)}, {"name": "Ann"})
    assert got == 422 and "flat colour" in body["error"], body
    for name, words in (("unknown", "reserved"), (" Ann", "space"), ("", "name")):
        got, body = upload(f"{url}/api/people", {"file": ("a.jpg", ANN[0].read_bytes())}, {"name": name})
        assert got == 422 and words in body["error"], (name, got, body)
    got, body = upload(f"{url}/api/recognize", {"wrong": ("a.jpg", ANN[0].read_bytes())})
    assert got == 422 and "file" in body["error"]
    assert call("GET", f"{url}/health")[0] == 200


def _flat_png() -> bytes:
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))[1].tobytes()


def test_enrol_recognise_rename_and_remove_change_the_gallery_file(server):
    url, gallery = server
    status, body = upload(f"{url}/api/people", {"file": ("ann.jpg", ANN[0].read_bytes())}, {"name": "Ann"})
    assert status == 201 and body == {"name": "Ann", "images": 1, "added": True}, body
    assert Gallery.load(gallery).names == ["Ann"]  # saved at once, as edge-gallery would
    status, body = upload(f"{url}/api/recognize", {"file": ("q.jpg", ANN[1].read_bytes())})
    assert status == 200 and _named(body) == ["Ann"], body
    face = body["faces"][0]
    assert len(face["box"]) == 4 and 0 < face["score"] <= 1 and body["width"] == 250
    assert _named(upload(f"{url}/api/recognize", {"file": ("s.jpg", STRANGER.read_bytes())})[1]) == ["unknown"]
    status, body = upload(f"{url}/api/people", {"file": ("again.jpg", ANN[0].read_bytes())}, {"name": "Boris"})
    assert status == 409 and "already enrolled as 'Ann'" in body["error"]
    status, jpeg = call("GET", f"{url}/api/people/face?name=Ann")
    assert status == 200 and jpeg[:2] == b"\xff\xd8"
    status, body = call("PATCH", f"{url}/api/people/Ann", json.dumps({"name": "Ann V"}).encode(), "application/json")
    assert status == 200 and body["name"] == "Ann V"
    assert Gallery.load(gallery).names == ["Ann V"]
    assert _named(upload(f"{url}/api/recognize", {"file": ("q.jpg", ANN[1].read_bytes())})[1]) == ["Ann V"]
    assert call("GET", f"{url}/api/people")[1] == [{"name": "Ann V", "images": 1}]
    status, body = call("DELETE", f"{url}/api/people/Ann%20V")
    assert status == 200 and body == {"removed": "Ann V", "people": 0}
    assert len(Gallery.load(gallery)) == 0
    assert _named(upload(f"{url}/api/recognize", {"file": ("q.jpg", ANN[1].read_bytes())})[1]) == ["unknown"]
    status, body = call("DELETE", f"{url}/api/people/Ann%20V")
    assert status == 404 and "no person" in body["error"]


def _named(answer: dict) -> list[str]:
    """The names of the faces recognised (not those the quality gate skipped)."""
    return [face["name"] for face in answer["faces"] if face["skipped"] is None]


def test_verify_says_same_for_one_person_and_different_for_two(server):
    url, _ = server
    status, same = upload(f"{url}/api/verify", {"first": ("a.jpg", ANN[0].read_bytes()),
                                                "second": ("b.jpg", ANN[2].read_bytes())})  # fmt: skip
    assert status == 200 and same["same"] is True and same["score"] >= same["threshold"], same
    status, other = upload(f"{url}/api/verify", {"first": ("a.jpg", ANN[0].read_bytes()),
                                                 "second": ("b.jpg", BORIS[0].read_bytes())})  # fmt: skip
    assert status == 200 and other["same"] is False and other["score"] < same["score"], other
    flat = {"first": ("a.jpg", ANN[0].read_bytes()), "second": ("f.png", _flat_png())}
    status, body = upload(f"{url}/api/verify", flat)
    assert status == 422 and "second" in body["error"]


def test_metrics_and_the_schema_answer_with_the_token(server):
    url, _ = server
    status, text = call("GET", f"{url}/metrics")
    assert status == 200 and b"siamese_edge_api_request_seconds" in text
    status, schema = call("GET", f"{url}/openapi.json")
    assert status == 200 and "/api/recognize" in schema["paths"] and "/api/people" in schema["paths"]


def test_any_address_but_loopback_needs_a_token_or_no_auth(tmp_path):
    port = free_port()
    command = [str(SCRIPTS / "edge-serve"), "--listen", f"0.0.0.0:{port}", "--provider", "cpu"]
    env = {k: v for k, v in __import__("os").environ.items() if k != "SIAMESE_EDGE_TOKEN"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "needs a token" in done.stderr, done.stderr
    for serve, words in ((f"0.0.0.0:{port}", "needs a token"), ("nonsense", "give HOST:PORT")):
        recognize = [str(SCRIPTS / "edge-recognize"), "--headless", "-i", str(ANN[0]), "--serve", serve]
        done = subprocess.run(recognize, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    (tmp_path / "short").write_text("abc\n")
    done = subprocess.run([*command, "--token-file", str(tmp_path / "short")], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert done.returncode == 2 and "16 or more" in done.stderr
    with running([*command, "--no-auth"], port, token=None) as process:
        assert call("GET", f"http://127.0.0.1:{port}/api/people", token=None)[0] == 200
        assert "warning: --no-auth" in process.log.read_text()
    (tmp_path / "token").write_text(TOKEN + "\n")
    with running([*command, "--token-file", str(tmp_path / "token")], port, token=None):
        assert call("GET", f"http://127.0.0.1:{port}/api/people", token=None)[0] == 401
        assert call("GET", f"http://127.0.0.1:{port}/api/people")[0] == 200


def test_every_refusal_is_the_json_error_shape_unknown_routes_methods_and_values_too(server):
    url, _ = server
    cases = [
        ("GET", "/nowhere", 404, "nothing at /nowhere"),
        ("GET", "/api/nobody", 404, "nothing at /api/nobody"),
        ("DELETE", "/api/about", 405, "DELETE is not allowed on /api/about"),
        ("GET", "/api/events?count=-5", 422, "count"),
        ("GET", "/api/events?count=0", 422, "count"),
        ("GET", "/api/events?count=100000", 422, "count"),
        ("GET", "/api/events?count=many", 422, "count"),
        ("GET", "/api/events/first/thumbnail", 422, "event_id"),
    ]
    for method, path, status, words in cases:
        got, body = call(method, url + path)
        assert got == status and isinstance(body, dict) and list(body) == ["error"], (path, got, body)
        assert words in body["error"], (path, body)
    got, body = call("PATCH", f"{url}/api/people/Ann", b"{not json", "application/json")
    assert got == 422 and list(body) == ["error"], body
    assert call("GET", f"{url}/api/events?count=200")[0] == 200


def test_an_address_that_is_not_one_names_the_option_given(tmp_path):
    for command, option in (("edge-serve", "--listen"), ("edge-recognize", "--serve")):
        done = subprocess.run([str(SCRIPTS / command), "-i", str(ANN[0]), option, "127.0.0.1:99999"]
                              if command == "edge-recognize" else [str(SCRIPTS / command), option, "127.0.0.1:99999"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"{command}: error: {option} '127.0.0.1:99999': give HOST:PORT"), done.stderr


@pytest.fixture(scope="module")
def door(tmp_path_factory):
    """A 640×480 video of Ann's second photo and a stranger, again and again (long enough to watch)."""
    root = tmp_path_factory.mktemp("door")
    write_photo_video([("Ann", ANN[1]), ("unknown", STRANGER)] * 60, root / "door.mp4", 8)
    (root / "enroll" / "Ann").mkdir(parents=True)
    shutil.copy(ANN[0], root / "enroll" / "Ann")
    return root


def test_the_loop_serves_its_streams_events_live_view_and_metrics(door):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "--provider", "cpu", "-i", str(door / "door.mp4"),
               "--enroll", str(door / "enroll"), "--serve", f"127.0.0.1:{port}"]  # fmt: skip
    with running(command, port):
        status, streams = call("GET", f"{url}/api/streams")
        assert status == 200 and [s["name"] for s in streams] == ["door"] and streams[0]["state"] == "running"
        assert streams[0]["viewers"] == 0
        got, body = upload(f"{url}/api/recognize", {"file": ("x.jpg", b"junk")})  # a bad upload: the loop goes on
        assert got == 415
        events = _sse_events(f"{url}/api/events/stream", 2, 60)
        assert {"Ann", "unknown"} >= {e["name"] for e in events} and events[0]["stream"] == "door"
        assert call("GET", url + events[0]["thumbnail"])[1][:2] == b"\xff\xd8"
        first, second = _mjpeg_parts(f"{url}/api/streams/door/live.mjpg", 2)
        assert first[:2] == second[:2] == b"\xff\xd8" and first != second  # the live image changes
        assert _wait_for_viewers(url, 0)  # the viewer gone, nothing is kept or encoded for the page
        later = call("GET", f"{url}/api/streams")[1][0]
        assert later["frames"] > streams[0]["frames"] and later["fps"] > 0 and later["faces"] > 0
        metrics = call("GET", f"{url}/metrics")[1].decode()
        assert 'siamese_edge_stream_fps{stream="door"}' in metrics and "siamese_edge_stream_dropped_frames" in metrics


def _wait_for_viewers(url: str, count: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if call("GET", f"{url}/api/streams")[1][0]["viewers"] == count:
            return True
        time.sleep(0.2)
    return False


def _sse_events(url: str, count: int, seconds: float) -> list[dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    events, deadline = [], time.monotonic() + seconds
    with urllib.request.urlopen(request, timeout=seconds) as stream:
        while len(events) < count and time.monotonic() < deadline:
            line = stream.readline().decode()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert len(events) == count, events
    return events


def _mjpeg_parts(url: str, count: int) -> list[bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    parts = []
    with urllib.request.urlopen(request, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("multipart/x-mixed-replace")
        while len(parts) < count:
            line = stream.readline()
            if line.lower().startswith(b"content-length:"):
                stream.readline()
                parts.append(stream.read(int(line.split(b":")[1])))
    return parts


def test_the_benchmarks_measure_and_write_their_result_files(tmp_path, monkeypatch):
    from benchmarks import results
    from benchmarks.result_tables import TABLES
    from benchmarks.runtime import web

    monkeypatch.setattr(results, "RESULTS", tmp_path)
    web.main(["recognize", "--requests", "3", "--result", "tiny_recognize"])
    web.main(["viewer", "--rounds", "1", "--frames-per-photo", "1", "--result", "tiny_viewer"])
    recognized = results.load_result("tiny_recognize", tmp_path)
    assert recognized["figures"]["api median ms"] > 0 and recognized["figures"]["cli seconds, one process"] > 0
    assert "POST /api/recognize, one client" in TABLES[recognized["benchmark"]]([recognized["figures"]])
    watched = results.load_result("tiny_viewer", tmp_path)
    rows = {row["way"]: row for row in watched["figures"]["rows"]}
    assert rows["serving, one viewer"]["live frames received"][0] > 0  # the viewer saw the live view
    assert rows["alone"]["live frames received"] == rows["serving, nobody watching"]["live frames received"] == [0]
    assert "serving, one viewer" in TABLES[watched["benchmark"]]([watched["figures"]])


def test_a_port_in_use_or_an_address_not_here_is_one_line_before_anything_is_announced(door):
    env = {**os.environ, "SIAMESE_EDGE_TOKEN": TOKEN}
    video = ["-i", str(door / "door.mp4"), "--headless"]
    with socket.socket() as taken:  # another server on the port
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command, option, more in (("edge-serve", "--listen", []), ("edge-recognize", "--serve", video)):
            done = subprocess.run([str(SCRIPTS / command), "--provider", "cpu", *more, option, f"0.0.0.0:{port}"],
                                  capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
            said = f"{command}: error: cannot listen on 0.0.0.0:{port}: address already in use\n"
            assert (done.returncode, done.stderr) == (2, said), done.stderr  # before the model, camera or loop
    for command, option, more in (("edge-serve", "--listen", []), ("edge-recognize", "--serve", video)):
        nowhere = f"192.0.2.7:{port}"  # TEST-NET-1: no machine's address
        done = subprocess.run([str(SCRIPTS / command), *more, option, nowhere], capture_output=True, text=True,
                              timeout=120, env=env)  # fmt: skip
        said = f"{command}: error: cannot listen on 192.0.2.7:{port}: not an address of this machine\n"
        assert (done.returncode, done.stderr) == (2, said), done.stderr


def test_the_loop_serves_with_a_gallery_file_not_made_yet_and_makes_it_at_the_first_enrolment(door, tmp_path):
    port = free_port()
    url, gallery = f"http://127.0.0.1:{port}", tmp_path / "new.npz"
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "--provider", "cpu", "-g", str(gallery), "-i",
               str(door / "door.mp4"), "--serve", f"127.0.0.1:{port}"]  # fmt: skip
    with running(command, port):
        assert call("GET", f"{url}/api/people") == (200, [])
        assert {e["name"] for e in _sse_events(f"{url}/api/events/stream?after=0", 3, 60)} == {"unknown"}
        assert not gallery.exists()  # nothing written until someone is enrolled
        status, body = upload(f"{url}/api/people", {"file": ("ann.jpg", ANN[0].read_bytes())}, {"name": "Ann"})
        assert status == 201, body
        assert Gallery.load(gallery).names == ["Ann"]
        deadline = time.monotonic() + 60
        while "Ann" not in {e["name"] for e in call("GET", f"{url}/api/events?count=200")[1]}:
            assert time.monotonic() < deadline, "Ann never named by the loop after her enrolment"
            time.sleep(0.5)
