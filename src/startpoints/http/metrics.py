"""Prometheus metrics (`GET /metrics`): requests by route and status, latency, and this
node's pre-pull (images by state, bytes in all and done, the last error's kind, tags found
moved), through
prometheus-client. The pre-pull gauges carry a `node` label when NODE_NAME is set (`k8s`
sets it from the downward API), so a dashboard shows which node lacks what."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from startpoints.core import failure

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("present", "pulling", "checking", "waiting", "failed", "no room")


# (name, documentation, label, the progress key whose entries each count 1)
_ONES = (
    ("startpoints_rate_limited",
     "1 for each registry that rate-limits this node's pulls, until its hold ends",
     "registry", "rate_limited"),
    ("startpoints_registry_denied",
     "1 for each registry that refuses this node's pulls for want of credentials (or refuses "
     "the ones given), until its hold ends", "registry", "denied"),
    ("startpoints_tag_moved",
     "1 for each language image whose tag names other content than the catalog recorded "
     "(this node keeps the recorded content)", "image", "moved"),
)  # fmt: skip

States = Callable[[], Mapping[str, Mapping[str, Any]]]
Progress = Callable[[], Mapping[str, Any]]


class Metrics:
    def __init__(self, image_states: States, progress: Progress = dict) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "startpoints_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "startpoints_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
            registry=self.registry,
        )
        self.registry.register(_Images(image_states, progress, os.environ.get("NODE_NAME")))
        self._counters: dict[tuple[str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        # the labelled children are looked up once: labels() takes a lock and builds a key
        counter = self._counters.get((route, status))
        if counter is None:
            counter = self._counters[(route, status)] = self.requests.labels(route, str(status))
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        counter.inc()
        histogram.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Images(Collector):
    def __init__(self, image_states: States, progress: Progress, node: str | None) -> None:
        self.image_states = image_states
        self.progress = progress
        self.node = [node] if node else []
        self.labels = ["node"] if node else []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        states = self.image_states()
        images = self._family(
            "startpoints_images", "language images on this node by state", "state"
        )
        found = [str(s.get("state")) for s in states.values()]
        for state in STATES:
            images.add_metric([*self.node, state], found.count(state))
        yield images
        progress = self.progress()  # empty when not pre-pulling: zeros, so every series stays
        sizes = self._family(
            "startpoints_image_bytes",
            "compressed bytes of this node's language images, where sizes are known",
            "of",
        )
        sizes.add_metric([*self.node, "total"], progress.get("bytes_total", 0))
        sizes.add_metric([*self.node, "done"], progress.get("bytes_done", 0))
        yield sizes
        # a 1 for each registry or image a condition holds for
        for name, documentation, label, key in _ONES:
            family = self._family(name, documentation, label)
            for each in progress.get(key, {}):
                family.add_metric([*self.node, each], 1)
            yield family
        last = self._family(
            "startpoints_pull_errors",
            "language images whose last pull failed on this node, by the kind of failure",
            "kind",
        )
        kinds = [failure.kind(str(s["error"])) for s in states.values() if s.get("error")]
        for kind in failure.KINDS:
            last.add_metric([*self.node, kind], kinds.count(kind))
        yield last

    def _family(self, name: str, documentation: str, label: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=[*self.labels, label])
