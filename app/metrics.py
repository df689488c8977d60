"""Prometheus metrics, one registry per app so that several apps (tests, benchmarks) never collide."""
from __future__ import annotations

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)

# `*_created` series double the scrape size and no dashboard of this service reads them.
disable_created_metrics()

# Request latency of a sub-millisecond model: fine buckets at the low end, a tail up to 2.5 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
INFERENCE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, n_classes: int = 10):
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests by route, method and status code.",
                                ["route", "method", "code"], registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency by route and code.",
                                 ["route", "code"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("http_requests_in_flight", "Requests being served now.", registry=self.registry)
        self.inference = Histogram("inference_duration_seconds", "Model evaluation time per request.",
                                   ["endpoint"], buckets=INFERENCE_BUCKETS, registry=self.registry)
        self.images = Counter("inference_images_total", "Images classified.", ["endpoint"], registry=self.registry)
        predictions = Counter("predictions_total", "Predictions by predicted label.", ["label"],
                              registry=self.registry)
        self._by_label = [predictions.labels(str(label)) for label in range(n_classes)]
        self.model_info = Gauge("model_info", "The loaded model (value 1).", ["name", "version", "accuracy"],
                                registry=self.registry)
        # labels() takes a lock and hashes its arguments; the hot path reuses the children.
        self._request_children: dict[tuple[str, str, int], tuple] = {}
        self._inference_children: dict[str, tuple] = {}

    def observe_request(self, route: str, method: str, code: int, seconds: float) -> None:
        key = (route, method, code)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(code)), self.latency.labels(route, str(code)))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_inference(self, endpoint: str, seconds: float, labels) -> None:
        children = self._inference_children.get(endpoint)
        if children is None:
            children = self._inference_children[endpoint] = (self.inference.labels(endpoint),
                                                             self.images.labels(endpoint))
        children[0].observe(seconds)
        children[1].inc(len(labels))
        for label in labels:
            self._by_label[label].inc()

    def set_model(self, name: str, version: str, accuracy: float) -> None:
        self.model_info.labels(name, version, f"{accuracy:.4f}").set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
