"""Prometheus metrics with bounded labels: requests by method, route template and status, latency
by route template; jobs by status read from the database at scrape time.

Labels never carry a raw path or a client value: an id in a path is counted under its route's
template (``/v1/models/{model_id}``), a path no route matches under ``unmatched``, an unusual method
under ``OTHER``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.store.models import JOB_STATUSES, Job

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """One process's request metrics (each API process keeps its own registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reassembly_http_requests",
            "HTTP requests served by this process.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reassembly_http_request_seconds",
            "Time to the end of the response, by route.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def render(self, session: Session) -> bytes:
        """The process's request metrics and the jobs table's counts by status."""
        jobs = CollectorRegistry()
        gauge = Gauge("reassembly_jobs", "Jobs by status.", ["status"], registry=jobs)
        counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        for status in JOB_STATUSES:
            gauge.labels(status).set(int(counts.get(status, 0)))
        return generate_latest(self.registry) + generate_latest(jobs)


class RequestMetrics:
    """Pure ASGI middleware (no request or response buffering) feeding ``Metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = _template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


def _template(scope: Scope) -> str:
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")
