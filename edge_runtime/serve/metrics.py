"""Prometheus metrics at /metrics: each stream's rate, latency, frames, faces, unknowns and dropped
frames, read from the live hub when scraped (nothing is counted twice), and the API's own latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from edge_runtime.serve.live import LiveHub

PREFIX = "siamese_edge"


class StreamCollector:
    """The hub's per-stream figures as Prometheus metrics, labelled by stream."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    def collect(self):
        """The metrics as they are now."""
        families = {
            "fps": GaugeMetricFamily(f"{PREFIX}_stream_fps", "Frames per second of the stream", labels=["stream"]),
            "latency_ms": GaugeMetricFamily(
                f"{PREFIX}_stream_latency_ms", "Mean latency from read to written, ms", labels=["stream"]
            ),  # fmt: skip
            "frames": CounterMetricFamily(f"{PREFIX}_stream_frames", "Frames processed", labels=["stream"]),
            "faces": CounterMetricFamily(
                f"{PREFIX}_stream_faces", "Faces recognised (named or unknown)", labels=["stream"]
            ),  # fmt: skip
            "unknowns": CounterMetricFamily(
                f"{PREFIX}_stream_unknown_faces", "Faces nobody enrolled matched", labels=["stream"]
            ),  # fmt: skip
            "dropped": CounterMetricFamily(
                f"{PREFIX}_stream_dropped_frames", "Frames left for newer ones", labels=["stream"]
            ),  # fmt: skip
            "viewers": GaugeMetricFamily(f"{PREFIX}_stream_viewers", "Live view watchers", labels=["stream"]),
        }
        for view in list(self.hub.views.values()):
            figures = view.to_dict()
            for key, family in families.items():
                family.add_metric([view.name], figures[key])
        yield from families.values()


def make_registry(hub: LiveHub) -> tuple[CollectorRegistry, Histogram]:
    """A registry of the hub's stream metrics, and the API requests' latency histogram in it."""
    registry = CollectorRegistry()
    registry.register(StreamCollector(hub))
    requests = Histogram(f"{PREFIX}_api_request_seconds", "Time to answer an API request", ["endpoint"],
                         registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))  # fmt: skip
    return registry, requests
