"""Service metrics in the Prometheus text exposition format (0.0.4), kept by hand: a few counters and one histogram
need no client library.

Label values are route templates (``/v1/items/{item_id}``), never raw paths, so a client cannot grow the number of
series by requesting made-up URLs.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. A health check takes a millisecond; one ranking pass about a second on 2 CPU cores; a queue of 16 more.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}" if pairs else ""


def _number(x: float) -> str:
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class ServiceMetrics:
    """Counters and a latency histogram for one app; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)      # (method, route, status) -> count
        self._latency_counts: dict[str, list[int]] = {}                           # route -> count per bucket (+Inf last)
        self._latency_sum: dict[str, float] = defaultdict(float)
        self._recommendations = 0
        self._items_recommended = 0
        self._backend_errors: dict[str, int] = defaultdict(int)                  # error type -> count
        self._timeouts = 0
        self._in_flight = 0
        self._model_queue = 0

    # ---- recording ----------------------------------------------------------------------------------------------
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            counts = self._latency_counts.setdefault(route, [0] * (len(LATENCY_BUCKETS) + 1))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self._latency_sum[route] += seconds

    def recommendation_served(self, n_items: int) -> None:
        with self._lock:
            self._recommendations += 1
            self._items_recommended += n_items

    def backend_error(self, kind: str) -> None:
        with self._lock:
            self._backend_errors[kind] += 1

    def timeout(self) -> None:
        with self._lock:
            self._timeouts += 1

    def in_flight(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def model_queue(self, delta: int) -> None:
        with self._lock:
            self._model_queue += delta

    # ---- exposition ---------------------------------------------------------------------------------------------
    def render(self) -> str:
        """The text a Prometheus server scrapes from ``GET /metrics``."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("llmrec_http_requests_total", "counter", "HTTP requests answered, by method, route and status.")
            for (method, route, status), n in sorted(self._requests.items()):
                out.append(f"llmrec_http_requests_total"
                           f"{_labels((('method', method), ('route', route), ('status', status)))} {n}")

            family("llmrec_http_request_duration_seconds", "histogram", "Time to answer an HTTP request, by route.")
            for route in sorted(self._latency_counts):
                cumulative = 0
                for bound, n in zip((*LATENCY_BUCKETS, math.inf), self._latency_counts[route]):
                    cumulative += n
                    out.append(f"llmrec_http_request_duration_seconds_bucket"
                               f"{_labels((('route', route), ('le', _number(bound))))} {cumulative}")
                out.append(f"llmrec_http_request_duration_seconds_sum{_labels((('route', route),))} "
                           f"{_number(round(self._latency_sum[route], 6))}")
                out.append(f"llmrec_http_request_duration_seconds_count{_labels((('route', route),))} {cumulative}")

            family("llmrec_recommendations_served_total", "counter", "Recommendations returned to a client.")
            out.append(f"llmrec_recommendations_served_total {self._recommendations}")
            family("llmrec_items_recommended_total", "counter", "Items in the recommendations returned.")
            out.append(f"llmrec_items_recommended_total {self._items_recommended}")

            family("llmrec_backend_errors_total", "counter", "Requests that failed because a backend was unavailable.")
            for kind, n in sorted(self._backend_errors.items()):
                out.append(f"llmrec_backend_errors_total{_labels((('error', kind),))} {n}")
            if not self._backend_errors:
                out.append('llmrec_backend_errors_total{error="BackendUnavailable"} 0')

            family("llmrec_request_timeouts_total", "counter", "Model calls abandoned at the request time limit (504).")
            out.append(f"llmrec_request_timeouts_total {self._timeouts}")
            family("llmrec_http_requests_in_flight", "gauge", "HTTP requests being answered now.")
            out.append(f"llmrec_http_requests_in_flight {self._in_flight}")
            family("llmrec_model_queue_depth", "gauge", "Model calls running or waiting for the model lock.")
            out.append(f"llmrec_model_queue_depth {self._model_queue}")
        return "\n".join(out) + "\n"
