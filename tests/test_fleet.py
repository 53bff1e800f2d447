"""Several devices on one PostgreSQL gallery and one MQTT broker, all real: servers started here in
temporary folders on free ports (tests/fleet_servers.py), the real commands in real processes.

What holds: enrol, list, rename and remove through the database, with one-line errors for a password
on the command line, a read-only role that enrols, and a database that does not answer; one person
when two devices enrol the same name at once; an enrolment reaching a device while it runs; a removal
reaching a device that was offline when it happened; kill -9 during a sync leaving the local copy
whole; the database and the broker each stopped and restarted under a running edge-recognize with no
event lost beyond the queue's bound and no crash; the last will saying offline for a killed device.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.fleet_servers import PASSWORD, Mosquitto, Postgres, ServerMissing, blinking_video
from edge_runtime.core.bundled import ATT_FACES_MODEL, DEFAULT_MODEL, SMALL_FACE_MODEL, packaged_model
from edge_runtime.identity.gallery import Gallery

SCRIPTS = Path(sys.executable).parent
MODEL = str(packaged_model(ATT_FACES_MODEL))


def missing(reason: str) -> None:
    """Skip the test (a developer machine), or fail it under CI=true (CI installs the servers)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs {reason}: .ci/run installs it")
    pytest.skip(reason, allow_module_level=True)


def needs_module(name: str):
    """Import `name`, or skip (fail under CI=true) saying that the [fleet] extra installs it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        missing(f"the [fleet] extra ({name} is not installed)")


needs_module("psycopg")
mqtt = needs_module("paho.mqtt.client")


def _server(kind):
    try:
        return kind()
    except ServerMissing as error:
        missing(str(error))


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of this module's own."""
    server = _server(Postgres)
    yield server
    server.close()


@pytest.fixture
def database(postgres):
    """The server's gallery database, emptied for each test."""
    postgres.sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return postgres


@pytest.fixture
def broker():
    """A Mosquitto broker of this test's own."""
    server = _server(Mosquitto)
    yield server
    server.close()


def _env(**more) -> dict:
    return {**os.environ, "PGPASSWORD": PASSWORD, "SIAMESE_EDGE_MQTT_PASSWORD": PASSWORD, **more}


def _run(command: str, *arguments, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPTS / command), *map(str, arguments)], capture_output=True, text=True,
                          env=env or _env(), timeout=timeout)  # fmt: skip


def _enroll(database, name: str, folder: Path, device: str = "door") -> subprocess.CompletedProcess:
    done = _run("edge-gallery", "enroll", "-m", MODEL, "-g", database.uri(), "--device", device, "--name", name, folder)
    assert done.returncode == 0, done.stderr
    return done


def _people(database) -> dict[str, int]:
    rows = database.sql("SELECT p.name, count(e.id) FROM people p JOIN embeddings e ON e.person_id = p.id GROUP BY 1")
    return {name: int(count) for name, count in (line.split("|") for line in rows.split())}


def _sync(database, copy: Path) -> subprocess.CompletedProcess:
    return _run("edge-gallery", "sync", "-m", MODEL, "-g", database.uri(), "--gallery-copy", copy)


def _wait_for(what, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.1)
    return False


def _blinking_video(path: Path, faces_root: Path, frames: int) -> None:
    blinking_video(path, faces_root / "s1" / "1.png", frames)


def test_enrol_list_rename_remove_through_the_database(database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    _enroll(database, "bob", faces_root / "s2", device="gate")
    assert _people(database) == {"ann": 10, "bob": 10}
    assert database.sql("SELECT DISTINCT device FROM embeddings ORDER BY 1").split() == ["door", "gate"]
    listed = _run("edge-gallery", "list", "-g", database.uri())
    assert listed.returncode == 0 and "ann\t10\t" in listed.stdout and "2 identities" in listed.stdout
    again = _enroll(database, "ann", faces_root / "s1")  # the same photos: left as they are
    assert "2 identities" in again.stdout and _people(database)["ann"] == 10
    assert _run("edge-gallery", "rename", "-g", database.uri(), "bob", "rob").returncode == 0
    refused = _run("edge-gallery", "rename", "-g", database.uri(), "rob", "ann")
    assert refused.returncode == 2 and "needs --merge" in refused.stderr
    assert _run("edge-gallery", "remove", "-g", database.uri(), "--device", "desk", "ann").returncode == 0
    assert _people(database) == {"rob": 10}
    assert database.sql("SELECT name, embeddings, device FROM removals").split() == ["ann|10|desk"]
    copy = tmp_path / "copy.npz"
    assert _sync(database, copy).returncode == 0
    assert Gallery.load(copy).counts() == {"rob": 10}
    found = _run("edge-search", "-m", MODEL, "-g", database.uri(), "--gallery-copy", copy, faces_root / "s2" / "1.png")
    assert found.returncode == 0 and found.stdout.splitlines()[0].split("\t")[2] == "rob"


def test_credentials_stay_off_the_command_line_and_out_of_messages(database, faces_root, tmp_path):
    with_password = database.uri().replace("siamese@", "siamese:hunter2@")
    done = _run("edge-gallery", "list", "-g", with_password)
    assert done.returncode == 2 and "hunter2" not in done.stderr and "PGPASSWORD or ~/.pgpass" in done.stderr
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{database.port}:*:siamese:{PASSWORD}\n")
    pgpass.chmod(0o600)
    env = {k: v for k, v in _env(PGPASSFILE=str(pgpass)).items() if k != "PGPASSWORD"}
    assert _run("edge-gallery", "list", "-g", database.uri(), env=env).returncode == 0  # ~/.pgpass, as libpq reads it
    wrong = _run("edge-gallery", "list", "-g", database.uri(), env=_env(PGPASSWORD="wrong"))
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1 and "wrong" not in wrong.stderr
    assert "password authentication failed" in wrong.stderr
    events = _run("edge-recognize", "--headless", "-m", MODEL, "-i", faces_root / "s1", "--events",
                  "mqtt://device:hunter2@127.0.0.1:1/site")  # fmt: skip
    assert events.returncode == 2 and "hunter2" not in events.stderr and "SIAMESE_EDGE_MQTT_PASSWORD" in events.stderr


def test_a_read_only_role_syncs_and_may_not_enrol(database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    database.sql(f"CREATE ROLE watcher LOGIN PASSWORD '{PASSWORD}'; GRANT USAGE ON SCHEMA public TO "
                 "watcher; GRANT SELECT ON ALL TABLES IN SCHEMA public TO watcher")  # fmt: skip
    try:
        copy = tmp_path / "copy.npz"
        assert _run("edge-gallery", "sync", "-m", MODEL, "-g", database.uri("watcher"), "--gallery-copy",
                    copy).returncode == 0  # fmt: skip
        assert Gallery.load(copy).counts() == {"ann": 10}
        refused = _run("edge-gallery", "enroll", "-m", MODEL, "-g", database.uri("watcher"), "--name", "bob",
                       faces_root / "s2")  # fmt: skip
        assert refused.returncode == 2 and "the role 'watcher' may not change the gallery" in refused.stderr
        assert "Traceback" not in refused.stderr and _people(database) == {"ann": 10}
    finally:
        database.sql("DROP OWNED BY watcher; DROP ROLE watcher")


def test_the_same_name_from_two_devices_at_once_is_one_person(database, faces_root):
    _enroll(database, "ann", faces_root / "s1")  # the schema is there: both race for the person only
    enroll = [str(SCRIPTS / "edge-gallery"), "enroll", "-m", MODEL, "-g", database.uri(), "--name", "zoe"]
    commands = [
        [*enroll, "--device", device, str(faces_root / folder)] for device, folder in (("n", "s3"), ("s", "s4"))
    ]
    processes = [subprocess.Popen(c, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    assert _people(database) == {"ann": 10, "zoe": 20}
    assert database.sql("SELECT count(*) FROM people WHERE name = 'zoe'") == "1\n"


def test_an_enrolment_reaches_a_running_device_and_a_removal_an_offline_one(database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    video, copy, log = tmp_path / "door.mp4", tmp_path / "door.npz", tmp_path / "door.log"
    _blinking_video(video, faces_root, 20000)
    with open(log, "w") as stderr:
        device = subprocess.Popen([str(SCRIPTS / "edge-recognize"), "--headless", "-m", MODEL, "-i", str(video), "-g",
                                   database.uri(), "--gallery-copy", str(copy), "--device", "door"], env=_env(),
                                  stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
    try:
        assert _wait_for(lambda: "1 identity from" in log.read_text()), log.read_text()
        _enroll(database, "bob", faces_root / "s2", device="desk")  # another process: another device
        assert _wait_for(lambda: "2 identities from" in log.read_text(), 20), log.read_text()
        assert device.poll() is None and Gallery.load(copy).counts() == {"ann": 10, "bob": 10}
    finally:
        device.send_signal(signal.SIGTERM)
        device.wait(timeout=30)
    assert device.returncode == 0, log.read_text()
    # the device is off: ann is removed and cat enrolled meanwhile; it catches up when it comes back
    assert _run("edge-gallery", "remove", "-g", database.uri(), "ann").returncode == 0
    _enroll(database, "cat", faces_root / "s3")
    assert Gallery.load(copy).counts() == {"ann": 10, "bob": 10}
    back = _run("edge-search", "-m", MODEL, "-g", database.uri(), "--gallery-copy", copy, faces_root / "s1" / "1.png")
    assert back.returncode == 0, back.stderr
    assert Gallery.load(copy).counts() == {"bob": 10, "cat": 10}


def test_a_device_starts_from_its_copy_with_the_database_down(database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    copy = tmp_path / "copy.npz"
    assert _sync(database, copy).returncode == 0
    database.stop()
    try:
        done = _run(
            "edge-search", "-m", MODEL, "-g", database.uri(), "--gallery-copy", copy, faces_root / "s1" / "2.png"
        )
        assert done.returncode == 0 and done.stdout.split("\t")[2] == "ann"
        said = [line for line in done.stderr.splitlines() if "recognising from the local copy" in line]
        assert len(said) == 1 and "Connection refused" in said[0]
        none = _run("edge-search", "-m", MODEL, "-g", database.uri(), "--gallery-copy", tmp_path / "new.npz",
                    faces_root / "s1" / "2.png")  # fmt: skip
        assert none.returncode == 2 and "has no copy of that gallery yet" in none.stderr.splitlines()[-1]
    finally:
        database.start()


def test_kill_9_during_a_sync_leaves_the_local_copy_whole(database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    copy = tmp_path / "copy.npz"
    assert _sync(database, copy).returncode == 0
    size = 4 * Gallery.load(copy).embedding_size
    model = Gallery.load(copy).model_hash
    database.sql(  # 30,000 more people at once, as another device would have enrolled them
        "INSERT INTO people (name, device) SELECT 'p' || g, 'bulk' FROM generate_series(1, 30000) g;"
        f"INSERT INTO embeddings (person_id, model_hash, vector, device) SELECT id, '{model}', "
        f"decode(repeat('0000803f', {size // 4}), 'hex'), 'bulk' FROM people WHERE device = 'bulk';"
        "INSERT INTO changes (kind, name, device) SELECT 'enroll', name, 'bulk' FROM people WHERE device = 'bulk'"
    )
    command = [str(SCRIPTS / "edge-gallery"), "sync", "-m", MODEL, "-g", database.uri(), "--gallery-copy", str(copy)]
    random.seed(29)
    for delay in (0.8, 1.2, 1.6, 2.0, 2.4, 2.8):
        process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay + random.random() / 5)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert len(Gallery.load(copy)) in (1, 30001)  # the old copy or the new one, never half of one
    assert _sync(database, copy).returncode == 0
    assert len(Gallery.load(copy)) == 30001
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and "copy.npz" in p.name and p.exists()
                and not _pid_running(p)]  # fmt: skip


def _pid_running(temporary: Path) -> bool:
    try:
        os.kill(int(temporary.name.split(".")[2]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


class _Subscriber:
    """A persistent MQTT session (QoS 1) collecting every message under a prefix, across broker restarts."""

    def __init__(self, broker, prefix: str) -> None:
        self.messages: list[tuple[str, bytes, float, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-watcher", clean_session=False)
        self.client.username_pw_set("device", PASSWORD)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe([(f"{prefix}/#", 1), ("homeassistant/#", 1)])
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", broker.port)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload, time.time(), message.retain))

    def topics(self, ending: str) -> list[dict]:
        with self.lock:
            return [json.loads(m[1]) for m in self.messages if m[0].endswith(ending)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_database_and_the_broker_restart_under_a_running_device(database, broker, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    video, copy, log = tmp_path / "door.mp4", tmp_path / "door.npz", tmp_path / "door.log"
    _blinking_video(video, faces_root, 40000)
    watcher = _Subscriber(broker, "site")
    assert _wait_for(lambda: watcher.client.is_connected())
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "-m", MODEL, "-i", str(video), "-g", database.uri(),
               "--gallery-copy", str(copy), "--device", "door", "--events",
               f"mqtt://device@127.0.0.1:{broker.port}/site?snapshot=1&queue=100000"]  # fmt: skip
    with open(log, "w") as stderr:
        device = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        assert _wait_for(lambda: len(watcher.topics("/appearance")) >= 5), log.read_text()
        broker.stop()
        assert _wait_for(lambda: "lost MQTT" in log.read_text(), 10), log.read_text()
        time.sleep(3)  # appearances queue up meanwhile
        broker.start()
        assert _wait_for(lambda: "events: connected to MQTT" in log.read_text().split("lost MQTT")[-1]), log.read_text()
        database.stop()
        assert _wait_for(lambda: "lost the gallery database" in log.read_text(), 20), log.read_text()
        time.sleep(2)
        database.start()
        assert _wait_for(lambda: "answers again" in log.read_text(), 30), log.read_text()
        _enroll(database, "bob", faces_root / "s2")
        assert _wait_for(lambda: "2 identities from" in log.read_text(), 20), log.read_text()
        seen = len(watcher.topics("/appearance"))
        assert _wait_for(lambda: len(watcher.topics("/appearance")) > seen + 3), log.read_text()
        assert device.poll() is None
    finally:
        device.send_signal(signal.SIGTERM)
        device.wait(timeout=60)
    text = log.read_text()
    assert device.returncode == 0 and "Traceback" not in text, text
    summary = next(line for line in text.splitlines() if "appearances to MQTT" in line)
    published, dropped, unsent = (int(summary.split(what)[0].split()[-1]) for what in
                                  (" appearances", " dropped", " unsent"))  # fmt: skip
    assert dropped == 0 and unsent == 0, summary  # a bound of 100,000 is never reached here
    _wait_for(lambda: len({m["event"] for m in watcher.topics("/appearance")}) >= published, 10)
    got = sorted({m["event"] for m in watcher.topics("/appearance")})
    assert got == list(range(1, published + 1)), f"{len(got)} of {published} events arrived; {summary}"
    first = watcher.topics("/appearance")[0]
    assert first["device"] == "door" and first["stream"] == "door" and first["name"] in ("ann", "unknown")
    assert first["first_seen"] <= first["last_seen"] and len(first["box"]) == 4
    assert cv2.imdecode(np.frombuffer(__import__("base64").b64decode(first["snapshot"]), np.uint8), 1) is not None
    config = watcher.topics("homeassistant/sensor/siamese_edge_door/door/config")[-1]
    assert config["state_topic"] == "site/door/door/last_person" and config["device"]["identifiers"]
    with watcher.lock:
        availability = [m[1] for m in watcher.messages if m[0] == "site/door/availability"]
    assert availability[-1] == b"offline"
    watcher.close()


def test_a_small_queue_drops_the_oldest_and_says_how_many(broker, database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    video = tmp_path / "door.mp4"
    _blinking_video(video, faces_root, 1200)  # 100 appearances
    broker.stop()  # away for the whole run: everything queues, and only the newest 10 wait at the end
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "-m", MODEL, "-i", str(video), "-g", database.uri(),
               "--gallery-copy", str(tmp_path / "copy.npz"), "--device", "door", "--events",
               f"mqtt://device@127.0.0.1:{broker.port}/site?queue=10"]  # fmt: skip
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    summary = next(line for line in done.stderr.splitlines() if "appearances to MQTT" in line)
    events = int(summary.split(" appearances")[0].split()[-1])
    assert events >= 50 and f"{2 * events - 10} dropped" in summary and "10 unsent" in summary, summary
    assert sum("dropping the oldest" in line for line in done.stderr.splitlines()) == 1


def test_a_killed_device_is_offline_by_its_last_will(broker, database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    video = tmp_path / "door.mp4"
    _blinking_video(video, faces_root, 20000)
    watcher = _Subscriber(broker, "site")
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "-m", MODEL, "-i", str(video), "-g", database.uri(),
               "--gallery-copy", str(tmp_path / "copy.npz"), "--device", "door", "--events",
               f"mqtt://device@127.0.0.1:{broker.port}/site"]  # fmt: skip
    device = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(watcher.topics("/appearance")) >= 2)
    finally:
        device.kill()
        device.wait()
    assert _wait_for(lambda: [m[1] for m in watcher.messages if m[0] == "site/door/availability"][-1:] == [b"offline"])
    watcher.close()


def test_kept_faces_enrol_everyone_for_a_new_model(database, tmp_path):
    lfw = Path(__file__).resolve().parent.parent / "edge_runtime" / "demo_data" / "lfw" / "enrolled"
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:3]
    default, student = packaged_model(DEFAULT_MODEL), packaged_model(SMALL_FACE_MODEL)
    for person in people[:2]:  # their aligned faces kept; the third's not (the default)
        done = _run("edge-gallery", "enroll", "-m", default, "-g", database.uri(), "--keep-faces", "--name",
                    person.name, sorted(person.glob("*.jpg"))[0])  # fmt: skip
        assert done.returncode == 0, done.stderr
    _run("edge-gallery", "enroll", "-m", default, "-g", database.uri(), "--name", people[2].name,
         sorted(people[2].glob("*.jpg"))[0])  # fmt: skip
    assert database.sql("SELECT count(*) FROM embeddings WHERE face IS NOT NULL") == "2\n"
    done = _run("edge-gallery", "reembed", "-m", student, "-g", database.uri())
    assert done.returncode == 0, done.stderr
    assert "2 embeddings of 2 people" in done.stdout and f"enrol them again): {people[2].name}" in done.stderr
    assert _run("edge-gallery", "reembed", "-m", student, "-g", database.uri()).stdout.startswith("0 embeddings")
    copy = tmp_path / "student.npz"
    found = _run("edge-search", "-m", student, "-g", database.uri(), "--gallery-copy", copy, "-k", "1",
                 sorted(people[0].glob("*.jpg"))[0])  # fmt: skip
    rank, score, name, _ = found.stdout.split("\t")
    assert name == people[0].name and float(score) > 0.95, found.stdout
    assert Gallery.load(copy).counts() == {people[0].name: 1, people[1].name: 1}
    refused = _run("edge-gallery", "enroll", "-m", MODEL, "-g", tmp_path / "g.npz", "--keep-faces", "--name", "x",
                   sorted(people[0].glob("*.jpg"))[0])  # fmt: skip
    assert refused.returncode == 2 and "PostgreSQL gallery only" in refused.stderr


def test_a_missing_server_skips_here_and_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs PostgreSQL"):
        missing("PostgreSQL's initdb")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL's initdb"):
        missing("PostgreSQL's initdb")


def test_edge_recognize_enrols_a_folder_into_the_database_first(database, faces_root, tmp_path):
    folder = tmp_path / "people"
    for subject, name in (("s1", "ann"), ("s2", "bob")):
        (folder / name).mkdir(parents=True)
        (folder / name / "1.png").write_bytes((faces_root / subject / "1.png").read_bytes())
    done = _run("edge-recognize", "--headless", "--json", "-m", MODEL, "-g", database.uri(), "--gallery-copy",
                tmp_path / "copy.npz", "--enroll", folder, "-i", faces_root / "s2" / "1.png")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _people(database) == {"ann": 1, "bob": 1}
    assert json.loads(done.stdout.splitlines()[0])["name"] == "bob"


def test_events_over_tls_with_the_password_from_a_file(database, faces_root, tmp_path):
    broker = _server(lambda: Mosquitto(tls=True))
    try:
        _enroll(database, "ann", faces_root / "s1")
        video = tmp_path / "door.mp4"
        _blinking_video(video, faces_root, 600)
        secret = tmp_path / "mqtt-password"
        secret.write_text(PASSWORD + "\n")
        env = {k: v for k, v in _env(SIAMESE_EDGE_MQTT_PASSWORD_FILE=str(secret)).items()
               if k != "SIAMESE_EDGE_MQTT_PASSWORD"}  # fmt: skip
        done = _run("edge-recognize", "--headless", "-m", MODEL, "-i", video, "-g", database.uri(), "--gallery-copy",
                    tmp_path / "copy.npz", "--device", "door", "--events",
                    f"mqtts://device@127.0.0.1:{broker.port}/site?ca={broker.ca}", env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = next(line for line in done.stderr.splitlines() if "appearances to MQTT" in line)
        events = int(summary.split(" appearances")[0].split()[-1])
        assert events >= 20 and f"{2 * events} messages acknowledged, 0 dropped (queue bound 1000)" in summary, summary
        assert "mqtts://device@127.0.0.1" in summary and PASSWORD not in done.stderr
    finally:
        broker.close()


def test_the_web_page_enrols_renames_and_removes_in_the_shared_gallery(database, faces_root, tmp_path, monkeypatch):
    needs_module("fastapi")
    from tests.web_server import call, free_port, running, upload

    _enroll(database, "ann", faces_root / "s1")
    video = tmp_path / "door.mp4"
    _blinking_video(video, faces_root, 20000)
    port = free_port()
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "-m", MODEL, "-i", str(video), "-g", database.uri(),
               "--gallery-copy", str(tmp_path / "door.npz"), "--serve", f"127.0.0.1:{port}"]  # fmt: skip
    with running(command, port):
        url = f"http://127.0.0.1:{port}"
        photo = (faces_root / "s2" / "1.png").read_bytes()
        status, body = upload(f"{url}/api/people", {"file": ("bob.png", photo)}, {"name": "bob"})
        assert status == 201, body
        assert _people(database) == {"ann": 10, "bob": 1}  # in the database: every device gets it
        rename = json.dumps({"name": "rob"}).encode()
        assert call("PATCH", f"{url}/api/people/bob", rename, "application/json")[0] == 200
        assert call("DELETE", f"{url}/api/people/ann")[0] == 200
        assert _people(database) == {"rob": 1}
        assert database.sql("SELECT count(*) FROM removals").strip() == "1"
        assert [p["name"] for p in call("GET", f"{url}/api/people")[1]] == ["rob"]
        assert call("DELETE", f"{url}/api/people/ann")[0] == 404  # refused as for a file, nothing sent


def _one_line_error(done: subprocess.CompletedProcess, words: str) -> None:
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "error:" in last and words in last and "Traceback" not in done.stderr, done.stderr
    assert sum("error" in line for line in done.stderr.splitlines()) == 1, done.stderr


def test_a_gallery_copy_of_something_else_is_refused_and_left_as_it_is(database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    local = tmp_path / "local.npz"  # a local gallery of its own, named as a copy by mistake
    for name, folder in (("zed", "s5"), ("yan", "s6")):
        done = _run("edge-gallery", "enroll", "-m", MODEL, "-g", local, "--name", name, faces_root / folder)
        assert done.returncode == 0, done.stderr
    before = local.read_bytes()
    _one_line_error(_sync(database, local), "no sync record")
    assert local.read_bytes() == before
    database.sql("DROP DATABASE IF EXISTS other")
    database.sql("CREATE DATABASE other")
    other = database.uri().rsplit("/", 1)[0] + "/other"
    try:
        done = _run("edge-gallery", "enroll", "-m", MODEL, "-g", other, "--name", "bob", faces_root / "s2")
        assert done.returncode == 0, done.stderr
        copy = tmp_path / "other.npz"
        assert _run("edge-gallery", "sync", "-m", MODEL, "-g", other, "--gallery-copy", copy).returncode == 0
        held = copy.read_bytes()
        _one_line_error(_sync(database, copy), "the copy of another gallery database")
        assert copy.read_bytes() == held and Gallery.load(copy).counts() == {"bob": 10}
        database.stop()  # and with the database down, nothing is recognised from the other database's copy
        try:
            done = _run("edge-recognize", "--headless", "-m", MODEL, "-g", database.uri(), "--gallery-copy", copy,
                        "-i", faces_root / "s2" / "1.png")  # fmt: skip
            assert done.returncode == 2 and "the copy of another gallery database" in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
        finally:
            database.start()
    finally:
        database.sql("DROP DATABASE IF EXISTS other WITH (FORCE)")
    assert _sync(database, tmp_path / "new.npz").returncode == 0  # a new file, or its own copy, is synced
    assert _sync(database, tmp_path / "new.npz").returncode == 0


def test_a_mistyped_scheme_is_refused_by_every_command_taking_g(faces_root, tmp_path):
    wrong = "postgresq://siamese@127.0.0.1:1/gallery"
    photo = faces_root / "s1"
    for command in (
        ["edge-gallery", "enroll", "-m", MODEL, "-g", wrong, "--name", "ann", str(photo / "1.png")],
        ["edge-gallery", "list", "-g", wrong],
        ["edge-gallery", "remove", "-g", wrong, "ann"],
        ["edge-gallery", "rename", "-g", wrong, "ann", "bob"],
        ["edge-gallery", "sync", "-m", MODEL, "-g", wrong],
        ["edge-gallery", "reembed", "-m", MODEL, "-g", wrong],
        ["edge-gallery", "calibrate", "-m", MODEL, "-g", wrong, "--people", str(photo), "--strangers", str(photo)],
        ["edge-search", "-m", MODEL, "-g", wrong, str(photo / "1.png")],
        ["edge-recognize", "--headless", "-m", MODEL, "-g", wrong, "-i", str(photo)],
        ["edge-serve", "-m", MODEL, "-g", wrong],
    ):
        done = subprocess.run([str(SCRIPTS / command[0]), *command[1:]], capture_output=True, text=True, env=_env(),
                              cwd=tmp_path, timeout=120)  # fmt: skip
        assert done.returncode == 2, (command, done.stderr)
        assert "not postgresq://" in done.stderr.splitlines()[-1] and "Traceback" not in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []  # no ./postgresq: folder, no gallery file


def test_edge_serve_follows_the_shared_gallery_and_enrols_into_it(database, faces_root, tmp_path, monkeypatch):
    needs_module("fastapi")
    from tests.web_server import call, free_port, running, upload

    _enroll(database, "ann", faces_root / "s1")
    port = free_port()
    command = [str(SCRIPTS / "edge-serve"), "-m", MODEL, "-g", database.uri(), "--gallery-copy",
               str(tmp_path / "desk.npz"), "--device", "desk", "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with running(command, port):
        url = f"http://127.0.0.1:{port}"
        assert [p["name"] for p in call("GET", f"{url}/api/people")[1]] == ["ann"]  # loaded at start
        _enroll(database, "bob", faces_root / "s2")  # another device: reaches this one by NOTIFY
        assert _wait_for(lambda: [p["name"] for p in call("GET", f"{url}/api/people")[1]] == ["ann", "bob"])
        photo = (faces_root / "s3" / "1.png").read_bytes()
        status, body = upload(f"{url}/api/people", {"file": ("cat.png", photo)}, {"name": "cat"})
        assert status == 201, body
        assert _people(database) == {"ann": 10, "bob": 10, "cat": 1}  # in the database, for every device


@pytest.mark.parametrize(
    "query, words",
    [
        ("?queue=0", "queue='0'"),
        ("?queue=-1", "queue='-1'"),
        ("?queue=abc", "queue='abc'"),
        ("?snapshot=maybe", "snapshot='maybe'"),
        ("?qeue=10", "unknown option 'qeue'"),
        ("?ca=/nope.pem", "ca=/nope.pem"),
        ("", "/PREFIX"),
    ],
)
def test_bad_events_options_are_refused_before_the_run(broker, database, faces_root, tmp_path, query, words):
    _enroll(database, "ann", faces_root / "s1")
    scheme = "mqtts" if "ca=" in query else "mqtt"
    prefix = "" if not query else "/site"
    done = _run("edge-recognize", "--headless", "-m", MODEL, "-g", database.uri(), "--gallery-copy",
                tmp_path / "copy.npz", "-i", faces_root / "s1",
                "--events", f"{scheme}://device@127.0.0.1:{broker.port}{prefix}{query}")  # fmt: skip
    assert done.returncode == 2 and words in done.stderr.splitlines()[-1], done.stderr
    assert "Traceback" not in done.stderr and "appearances to MQTT" not in done.stderr


def test_wrong_credentials_stop_the_run_and_an_absent_broker_does_not(broker, database, faces_root, tmp_path):
    _enroll(database, "ann", faces_root / "s1")
    copy = tmp_path / "copy.npz"
    assert _sync(database, copy).returncode == 0
    run = ["edge-recognize", "--headless", "-m", MODEL, "-g", database.uri(), "--gallery-copy", copy, "-i",
           faces_root / "s1"]  # fmt: skip
    site = f"127.0.0.1:{broker.port}/site"
    for events, env in ((f"mqtt://device@{site}", _env(SIAMESE_EDGE_MQTT_PASSWORD="wrong")), (f"mqtt://{site}", None)):
        done = _run(*run, "--events", events, env=env)
        _one_line_error(done, "the broker refused the credentials")
        assert "wrong" not in done.stderr
    done = _run(*run, env=_env(PGPASSWORD="wrong"))  # the copy is there: this is no outage to wait out
    _one_line_error(done, "password authentication failed")
    broker.stop()  # merely away: the run goes on, queueing
    done = _run(*run, "--events", f"mqtt://device@{site}")
    assert done.returncode == 0 and "appearances to MQTT" in done.stderr, done.stderr


@pytest.mark.parametrize("device", ["#", "+", "door/1", "front door"])
def test_a_device_name_that_would_change_in_topics_is_refused(database, faces_root, tmp_path, device):
    _enroll(database, "ann", faces_root / "s1")
    done = _run("edge-recognize", "--headless", "-m", MODEL, "-g", database.uri(), "--gallery-copy",
                tmp_path / "copy.npz", "-i", faces_root / "s1", "--device", device, "--events",
                "mqtt://device@127.0.0.1:1/site")  # fmt: skip
    _one_line_error(done, "letters, digits, _ and - only")
