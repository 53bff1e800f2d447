"""Real servers for the several-devices tests and benchmarks: a PostgreSQL cluster (initdb, pg_ctl) and a
Mosquitto broker, each in a temporary folder on a free loopback port, stopped and restarted at will,
removed after; and the video they run a device on.

Where the binaries are missing, `ServerMissing` says which (the tests skip, or fail under CI=true).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

PASSWORD = "s3cret-Of-the-test"  # the test cluster's and broker's own, given as a user would: PGPASSWORD


class ServerMissing(Exception):
    """A server's binaries are not installed here."""


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    """A PostgreSQL cluster of its own: superuser `siamese` (password `PASSWORD`), database `gallery`."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        if self.bin is None:
            raise ServerMissing("PostgreSQL's initdb and pg_ctl (apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="siamese-pg-"))
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:  # initdb refuses root: the cluster belongs to the postgres user
            shutil.chown(self.folder, "postgres")
        (self.folder / "pw").write_text(PASSWORD)
        if self.as_root:
            shutil.chown(self.folder / "pw", "postgres")
        self._run(
            f"{self.bin}/initdb -D {self.folder}/data -U siamese --pwfile={self.folder}/pw "
            "--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8"
        )
        self.start()
        self._run(f"{self.bin}/createdb -h {self.folder} -p {self.port} -U siamese gallery")

    def _run(self, command: str) -> str:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", command] if self.as_root else ["sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        return done.stdout

    def uri(self, user: str = "siamese") -> str:
        """The database's URI, as a device is given it (no password: that is in PGPASSWORD)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/gallery"

    def start(self) -> None:
        """Start the server (again) on its port."""
        self._run(
            f"{self.bin}/pg_ctl -D {self.folder}/data -l {self.folder}/log -w -t 60 start "
            f"-o '-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1'"
        )

    def stop(self) -> None:
        """Stop it (fast: clients are disconnected)."""
        self._run(f"{self.bin}/pg_ctl -D {self.folder}/data -w -m fast stop")

    def sql(self, statement: str) -> str:
        """Run SQL as the superuser through psql, over the socket; its output."""
        return self._run(
            f"{self.bin}/psql -h {self.folder} -p {self.port} -U siamese -d gallery -At -v "
            f'ON_ERROR_STOP=1 -c "{statement}"'
        )

    def close(self) -> None:
        """Stop it and remove its folder."""
        with contextlib.suppress(AssertionError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Mosquitto:
    """A Mosquitto broker of its own on loopback: user `device` (password `PASSWORD`), persistence on; with
    `tls`, the listener speaks TLS only, with a certificate for 127.0.0.1 signed by a CA made here (`ca`)."""

    def __init__(self, tls: bool = False) -> None:
        self.binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        self.passwd = shutil.which("mosquitto_passwd")
        if self.binary is None or self.passwd is None:
            raise ServerMissing("the Mosquitto broker (apt-get install mosquitto)")
        self.folder = Path(tempfile.mkdtemp(prefix="siamese-mqtt-"))
        self.port = free_port()
        subprocess.run(
            [self.passwd, "-b", "-c", str(self.folder / "users"), "device", PASSWORD], check=True, capture_output=True
        )
        user = "user root\n" if os.geteuid() == 0 else ""
        self.ca = self.folder / "ca.crt"
        certificates = self._certificates() if tls else ""
        (self.folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n{certificates}allow_anonymous false\npassword_file {self.folder}/users\n"
            f"persistence true\npersistence_location {self.folder}/\n{user}log_dest file {self.folder}/log\n"
        )
        self.process: subprocess.Popen | None = None
        self.start()

    def _certificates(self) -> str:
        """A CA and a server certificate for 127.0.0.1 signed by it (openssl); the listener's TLS lines."""
        if shutil.which("openssl") is None:
            raise ServerMissing("openssl, to make the test broker's TLS certificate")
        f = self.folder
        for command in (
            f"openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout {f}/ca.key -out {f}/ca.crt",
            f"openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout {f}/server.key -out {f}/server.csr",
            f"openssl x509 -req -in {f}/server.csr -CA {f}/ca.crt -CAkey {f}/ca.key -CAcreateserial -days 2 "
            f"-extfile {f}/san -out {f}/server.crt",
        ):
            (f / "san").write_text("subjectAltName=IP:127.0.0.1\n")
            subprocess.run(command.split(), check=True, capture_output=True)
        return f"cafile {f}/ca.crt\ncertfile {f}/server.crt\nkeyfile {f}/server.key\n"

    def start(self) -> None:
        """Start the broker (again) on its port; returns once it accepts connections."""
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise AssertionError(f"mosquitto did not start: {(self.folder / 'log').read_text(errors='replace')}")

    def stop(self) -> None:
        """Stop it (SIGTERM: it saves its persistent sessions)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)

    def close(self) -> None:
        """Stop it and remove its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def blinking_video(path: Path, face: Path, frames: int, period: int = 12) -> None:
    """A 92×112 video: the photo `face` for `period` frames, a grey frame for as many, over and over, so the
    one track's name keeps changing (the person, unknown, the person, …): an appearance every `period` frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (92, 112))
    image, grey = cv2.resize(cv2.imread(str(face)), (92, 112)), np.full((112, 92, 3), 128, np.uint8)
    for index in range(frames):
        writer.write(image if (index // period) % 2 == 0 else grey)
    writer.release()
