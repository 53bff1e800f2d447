"""Appearances on MQTT (`--events mqtt://host:port/prefix`, `mqtts://` for TLS), for Home Assistant and
access systems.

Topics, under `PREFIX/DEVICE/`:

| topic | what | QoS, retained |
| --- | --- | --- |
| `availability` | `online`; `offline` on a clean stop, and as the last will when the device dies | 1, retained |
| `STREAM/appearance` | one JSON message per appearance (a track confirming a name, or unknown) | 1 |
| `STREAM/last_person` | the same message, without the snapshot: the camera's last person seen | 1, retained |

and a Home Assistant discovery config per camera (`homeassistant/sensor/siamese_edge_DEVICE/STREAM/config`,
retained), so each camera appears as a sensor of the last person seen. Query parameters of the URI:
`snapshot=1` adds a JPEG of the face (base64) to each appearance, `discovery=PREFIX` changes the
discovery prefix (`discovery=` turns discovery off), `ca=FILE` names the TLS CA bundle, `queue=N` the bound.

The camera loop never waits for the broker: `publish` puts messages on a bounded queue that a thread
sends while the broker is connected (QoS 1: paho resends what was not acknowledged after a
reconnect). With the broker away the queue fills; beyond its bound the oldest message is dropped,
counted, and said in the log and in the run's summary. The user name may be in the URI; the password
comes from the environment (`SIAMESE_EDGE_MQTT_PASSWORD`, or a file named by
`SIAMESE_EDGE_MQTT_PASSWORD_FILE`), never from the command line.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import re
import socket
import threading
import time
from urllib.parse import parse_qs, unquote

import cv2
import numpy as np

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command
from edge_runtime.core.version import package_version
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.tracker import NAMED, TrackedRecognition
from edge_runtime.io.sources import hide_password, url_parts

log = logging.getLogger(__name__)
QUEUE_BOUND = 1000  # messages waiting for the broker; beyond it the oldest is dropped
IN_FLIGHT = 50  # messages handed to the client and not yet acknowledged, at most
PASSWORD_VARIABLE, PASSWORD_FILE_VARIABLE = "SIAMESE_EDGE_MQTT_PASSWORD", "SIAMESE_EDGE_MQTT_PASSWORD_FILE"
FIRST_SEEN_KEPT = 10_000  # tracks whose first sighting is remembered
OPTIONS = ("snapshot", "discovery", "ca", "queue")  # the URI's query options
TRUE, FALSE = ("1", "true"), ("0", "false")
CONNECT_SECONDS = 5.0  # how long start waits to learn whether the broker takes the credentials
REFUSED = (134, 135)  # CONNACK: bad user name or password, not authorized (MQTT 3's 4 and 5)


class EventsError(SiameseEdgeError):
    """An --events URI cannot be used."""


def topic_part(text: str) -> str:
    """`text` as one MQTT topic level (and a Home Assistant object id): letters, digits, _ and - only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "_"


def _options(shown: str, query: str) -> dict[str, str]:
    """The URI's query options, each checked (an EventsError for an unknown one or a bad value)."""
    try:
        options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True, strict_parsing=bool(query)).items()}
    except ValueError:
        raise EventsError(f"--events {shown}: cannot read the options after ?: give NAME=VALUE&…") from None
    if unknown := sorted(set(options) - set(OPTIONS)):
        raise EventsError(f"--events {shown}: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    if options.get("snapshot", "0") not in (*TRUE, *FALSE):
        raise EventsError(f"--events {shown}: snapshot={options['snapshot']!r}: give 1, 0, true or false")
    queue = options.get("queue", str(QUEUE_BOUND))
    if not queue.isdigit() or int(queue) < 1:
        raise EventsError(f"--events {shown}: queue={queue!r}: give a whole number of messages, 1 or more")
    if "ca" in options and not (os.path.isfile(options["ca"]) and os.access(options["ca"], os.R_OK)):
        raise EventsError(f"--events {shown}: ca={options['ca']}: no readable CA file there")
    return options


def _password() -> str | None:
    if path := os.environ.get(PASSWORD_FILE_VARIABLE):
        try:
            return open(path, encoding="utf-8").read().strip()
        except OSError as error:
            raise EventsError(f"cannot read the MQTT password file {path}: {error.strerror or error}") from None
    return os.environ.get(PASSWORD_VARIABLE)


class EventPublisher:
    """Publish appearances to an MQTT broker from a bounded queue in a thread of its own."""

    def __init__(self, uri: str, device: str = "") -> None:
        parts = url_parts(uri)
        if (
            parts is None
            or parts[0] not in ("mqtt://", "mqtts://")
            or not parts[2]
            or not parts[3].split("?")[0].strip("/")
        ):
            raise EventsError(f"--events {hide_password(uri)}: give mqtt://HOST[:PORT]/PREFIX (mqtts:// for TLS)")
        scheme, credentials, address, rest = parts
        if ":" in credentials:
            raise EventsError(
                f"--events {hide_password(uri)}: a password on the command line is visible to every "
                f"user (ps); give it in {PASSWORD_VARIABLE} or a file named by "
                f"{PASSWORD_FILE_VARIABLE}"
            )
        path, _, query = rest.partition("?")
        options = _options(hide_password(uri), query)
        if device and topic_part(device) != device:
            raise EventsError(
                f"--device {device!r}: in MQTT topics it would be {topic_part(device)!r}, which another device "
                "may have too; give letters, digits, _ and - only"
            )
        self.tls = scheme == "mqtts://"
        host, _, port = address.rpartition(":") if ":" in address.lstrip("[").split("]")[-1] else (address, "", "")
        if port and not port.isdigit():
            raise EventsError(f"--events {hide_password(uri)}: the port {port!r} is not a number")
        self.host, self.port = host.strip("[]"), int(port) if port else (8883 if self.tls else 1883)
        self.shown = hide_password(uri)
        self.device = topic_part(device or socket.gethostname())
        self.prefix = "/".join(topic_part(p) for p in path.strip("/").split("/") if p)
        self.base = f"{self.prefix}/{self.device}"
        self.snapshots = options.get("snapshot", "0") in TRUE
        self.discovery = options.get("discovery", "homeassistant")
        self.bound = int(options.get("queue", QUEUE_BOUND))
        self.queue: collections.deque = collections.deque()
        self.condition = threading.Condition()
        self.streams: list[str] = []
        self.first_seen: dict = {}
        self.connected = False
        self.acked = self.dropped = self.dropped_said = self.events = 0
        self.waiting: set[int] = set()  # message ids of queued messages sent and not yet acknowledged
        self.handing = 0  # messages taken off the queue and not yet handed to the client (not yet in `waiting`)
        self.early: set[int] = set()  # acknowledged before their sender noted them (and availability's own)
        self.closing = False
        self.answered = threading.Event()  # the broker's first answer (or a failed first connection)
        self.refusal = ""  # the broker's reason when it refused the credentials at start
        self.client = self._client(
            unquote(credentials) if credentials else os.environ.get("SIAMESE_EDGE_MQTT_USER"), options.get("ca")
        )
        self.thread = threading.Thread(target=self._send, name="mqtt-events", daemon=True)

    def _client(self, user: str | None, ca: str | None):
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError:
            raise EventsError(
                f"--events on MQTT needs the [fleet] extra (paho-mqtt is not installed): {install_command('fleet')}"
            ) from None
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"siamese-edge-{self.device}-{os.getpid()}")
        if user:
            client.username_pw_set(user, _password())
        if self.tls:
            client.tls_set(ca_certs=ca)
        client.will_set(f"{self.base}/availability", "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 10)
        client.max_inflight_messages_set(IN_FLIGHT)
        client.on_connect, client.on_disconnect, client.on_publish = self._connected, self._disconnected, self._acked
        client.on_connect_fail = lambda client, userdata: self.answered.set()
        return client

    def start(self, streams: list[str]) -> None:
        """Connect in the background (a broker that is down is retried) and announce `streams`; an
        EventsError when the broker answers within CONNECT_SECONDS that it refuses the credentials."""
        self.streams = streams
        log.info("events: MQTT %s, topics %s/…", self.shown, self.base)
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self.answered.wait(CONNECT_SECONDS)
        if self.refusal:
            self.client.loop_stop()
            raise EventsError(
                f"--events {self.shown}: the broker refused the credentials ({self.refusal}); check the user "
                f"name and {PASSWORD_VARIABLE} or {PASSWORD_FILE_VARIABLE}"
            )
        self.thread.start()

    def _connected(self, client, userdata, flags, reason, properties=None) -> None:
        if reason.is_failure:
            if reason.value in REFUSED and not self.answered.is_set():
                self.refusal = str(reason)
                self.answered.set()
                return
            log.warning("events: MQTT %s refused the connection: %s", self.shown, reason)
            return
        client.publish(f"{self.base}/availability", "online", qos=1, retain=True)
        if self.discovery:
            for stream in self.streams:
                config = self._discovery_config(stream)
                client.publish(self._discovery_topic(stream), json.dumps(config), qos=1, retain=True)
        self.answered.set()
        with self.condition:
            self.connected = True
            lost = self.dropped - self.dropped_said
            self.dropped_said = self.dropped
            self.condition.notify_all()
        log.info(
            "events: connected to MQTT %s%s",
            self.shown,
            f"; {lost} events were dropped while it was away (queue bound {self.bound})" if lost else "",
        )

    def _disconnected(self, client, userdata, flags, reason, properties=None) -> None:
        with self.condition:
            was, self.connected = self.connected, False
        if was and not self.closing:
            log.warning(
                "events: lost MQTT %s (%s); up to %d events wait for it, then the oldest are dropped",
                self.shown,
                reason,
                self.bound,
            )

    def _acked(self, client, userdata, mid, reason=None, properties=None) -> None:
        with self.condition:
            if mid in self.waiting:
                self.waiting.discard(mid)
                self.acked += 1
            else:
                self.early.add(mid)
            if self.closing or len(self.waiting) == IN_FLIGHT - 1:  # someone waits for it: close(), or a full window
                self.condition.notify_all()

    def _discovery_topic(self, stream: str) -> str:
        return f"{self.discovery}/sensor/siamese_edge_{self.device}/{topic_part(stream)}/config"

    def _discovery_config(self, stream: str) -> dict:
        """Home Assistant's MQTT discovery config of one camera's "last person seen" sensor."""
        state = f"{self.base}/{topic_part(stream)}/last_person"
        return {
            "name": f"{stream} last person",
            "unique_id": f"siamese_edge_{self.device}_{topic_part(stream)}_last_person",
            "state_topic": state,
            "value_template": "{{ value_json.name }}",
            "json_attributes_topic": state,
            "availability_topic": f"{self.base}/availability",
            "icon": "mdi:face-recognition",
            "device": {
                "identifiers": [f"siamese_edge_{self.device}"],
                "name": f"siamese-edge {self.device}",
                "model": "siamese-edge",
                "manufacturer": "siamese-edge",
                "sw_version": package_version(),
            },
        }

    def publish(
        self, stream: str, timestamp: float, results: list[TrackedRecognition], image: np.ndarray | None = None
    ) -> None:
        """Queue one message per appearance among a frame's results (never waits; one wake-up of the
        sender for the whole frame: each wake-up costs the camera loop a hand-over of Python's lock)."""
        messages = []
        for result in results:
            key = (stream, result.track_id)
            if result.track_id is not None and key not in self.first_seen:
                self.first_seen[key] = timestamp
                if len(self.first_seen) > FIRST_SEEN_KEPT:
                    self.first_seen.pop(next(iter(self.first_seen)))
            if not result.is_new or result.skipped is not None or result.name is None:
                continue
            self.events += 1
            message = {
                "device": self.device,
                "stream": stream,
                "event": self.events,
                "track": result.track_id,
                "name": result.name if result.status == NAMED else UNKNOWN,
                "score": round(result.score, 4),
                "box": [int(v) for v in result.box],
                "first_seen": round(self.first_seen.get(key, timestamp), 3),
                "last_seen": round(timestamp, 3),
                "time": round(timestamp, 3),
            }
            topic = f"{self.base}/{topic_part(stream)}"
            messages.append((f"{topic}/last_person", json.dumps(message), True))
            if self.snapshots and image is not None:
                message["snapshot"] = _jpeg(image, result.box)
            messages.append((f"{topic}/appearance", json.dumps(message), False))
        if messages:
            self._put(messages)

    def _put(self, messages: list[tuple[str, str, bool]]) -> None:
        with self.condition:
            for message in messages:
                if len(self.queue) >= self.bound:
                    self.queue.popleft()
                    self.dropped += 1
                    if self.dropped - self.dropped_said == 1:
                        log.warning(
                            "events: MQTT %s is away and %d events wait; dropping the oldest", self.shown, self.bound
                        )
                self.queue.append(message)
            self.condition.notify_all()

    def _send(self) -> None:
        """The sender thread: hand queued messages to the client while connected, IN_FLIGHT at most unacknowledged."""
        while True:
            with self.condition:
                while not (self.connected and self.queue and len(self.waiting) < IN_FLIGHT):
                    if self.closing and not self.queue:
                        return
                    self.condition.wait(0.5)
                room = min(len(self.queue), IN_FLIGHT - len(self.waiting))
                batch = [self.queue.popleft() for _ in range(room)]  # all that may go: one wake-up for them
                self.handing += len(batch)  # neither queued nor waiting meanwhile: close() must still wait for them
            mids = [self.client.publish(topic, payload, qos=1, retain=retain).mid for topic, payload, retain in batch]
            with self.condition:
                self.handing -= len(batch)
                self.condition.notify_all()
                for mid in mids:
                    if mid in self.early:
                        self.early.discard(mid)
                        self.acked += 1
                    else:
                        self.waiting.add(mid)

    def close(self, seconds: float = 5.0) -> None:
        """Send what is queued (`seconds` at most), say `offline`, disconnect."""
        deadline = time.monotonic() + seconds
        with self.condition:
            self.closing = True
            self.condition.notify_all()
            while (self.queue or self.waiting or self.handing) and self.connected and time.monotonic() < deadline:
                self.condition.wait(0.1)
        if self.connected:
            self.client.publish(f"{self.base}/availability", "offline", qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    def describe(self) -> str:
        """One line for the run's summary: events published, dropped and left unsent."""
        unsent = len(self.queue) + len(self.waiting) + self.handing
        return (
            f"events: {self.events} appearances to MQTT {self.shown}, {self.acked} messages acknowledged, "
            f"{self.dropped} dropped (queue bound {self.bound}), {unsent} unsent"
        )


def _jpeg(image: np.ndarray, box) -> str:
    """The face in `box` (with a margin) as a base64 JPEG."""
    x, y, w, h = (int(v) for v in box)
    margin = max(w, h) // 4
    crop = image[max(0, y - margin) : y + h + margin, max(0, x - margin) : x + w + margin]
    ok, data = cv2.imencode(".jpg", crop if crop.size else image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(data.tobytes()).decode() if ok else ""
