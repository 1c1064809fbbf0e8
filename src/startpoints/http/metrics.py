"""Prometheus metrics (`GET /metrics`): requests by route and status, latency, and this
node's language images by pull state, through prometheus-client."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("present", "pulling", "checking", "waiting", "failed")


class Metrics:
    def __init__(self, image_states: Callable[[], Mapping[str, str]]) -> None:
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
        self.registry.register(_Images(image_states))
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
    def __init__(self, image_states: Callable[[], Mapping[str, str]]) -> None:
        self.image_states = image_states

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "startpoints_images", "language images on this node by pull state", labels=["state"]
        )
        states = list(self.image_states().values())
        for state in STATES:
            family.add_metric([state], states.count(state))
        yield family
