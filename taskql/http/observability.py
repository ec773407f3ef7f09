"""Structured request logs and Prometheus metrics, with label values kept to a bounded set."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol, get_args

from fastapi import FastAPI
from fastapi.responses import Response
from graphql import OperationDefinitionNode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import Scope
from strawberry.extensions import SchemaExtension

from auth.jwks import JWKSClient
from contract.errors import Reason, outcome_of
from db.session import Database
from schema.rate_limits import RateLimiter

access_logger = logging.getLogger("taskql.access")

STATE_KEY = "taskql_observation"  # scope["state"][STATE_KEY]: the request's Observation
_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: DEBUG only
_REASONS = frozenset(get_args(Reason))
MAX_OPERATION_NAME = 64
MAX_OPERATION_LABELS = 50


class Observation:
    """What one request did, filled in as it passes through; read when the response is sent."""

    __slots__ = ("operations", "user_id")

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.user_id: str | None = None


class OperationLabels:
    """Operation names as metric labels: executed, short, and no more than a fixed number."""

    def __init__(self, limit: int = MAX_OPERATION_LABELS) -> None:
        self._limit = limit
        self._known: set[str] = set()

    def label(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        if name in self._known:
            return name
        if len(name) > MAX_OPERATION_NAME or len(self._known) >= self._limit:
            return "other"
        self._known.add(name)
        return name


class Observed(Protocol):
    """The services whose work the metrics count."""

    database: Database
    jwks: JWKSClient | None
    rate_limiter: RateLimiter


class Metrics:
    """One registry per app, so tests and workers never share (or collide on) series."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.operations = OperationLabels()
        # As many as the labels allow: paths, bounded operations, and statuses.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        labels = ("path", "operation", "status")
        self.requests = Counter(
            "taskql_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "taskql_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            labels,
            registry=self.registry,
        )
        self.jwt_failures = Counter(
            "taskql_jwt_failures", "Requests refused with 401, by reason.", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        for reason in sorted(_REASONS):
            self.jwt_failures.labels(reason)
        self.jwks_refreshes = Counter(
            "taskql_jwks_refreshes", "JWKS fetches, by result.", ["result"],
            registry=self.registry,
        )  # fmt: skip
        self.rate_limited = Counter(
            "taskql_rate_limited", "Requests and subscribe messages refused, by limit.",
            ["limit"], registry=self.registry,
        )  # fmt: skip
        self.rate_limit_storage_errors = Counter(
            "taskql_rate_limit_storage_errors",
            "Rate-limit checks that could not reach the storage (and served).",
            registry=self.registry,
        )
        self.pool_in_use = Gauge(
            "taskql_db_connections_in_use",
            "Database connections checked out of the pool.",
            registry=self.registry,
        )

    def limited(self, limit: str) -> None:
        self.rate_limited.labels(limit).inc()

    def watch_pool(self, database: Database) -> None:
        self.pool_in_use.set_function(database.connections_in_use)

    def jwks_refreshed(self, ok: bool) -> None:
        self.jwks_refreshes.labels("ok" if ok else "error").inc()

    def observe(self, path: str, operation: str, status: int, seconds: float) -> None:
        key = (path, operation, status)
        series = self._series.get(key)
        if series is None:  # once per label set: `labels()` validates and locks on every call
            labels = (path, operation, str(status))
            series = self._series[key] = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
            )
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class OperationRecorder(SchemaExtension):
    """Tells the request's Observation which operation ran and for whom."""

    def __init__(self) -> None:
        self._executed = False

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        request = getattr(context, "request", None)
        observation = request.scope.get("state", {}).get(STATE_KEY) if request else None
        if not isinstance(observation, Observation):
            return
        user = getattr(context, "user", None)
        observation.user_id = getattr(user, "user_id", None)
        observation.operations.append(self._name() if self._executed else "other")

    def _name(self) -> str:
        """The executed operation's name; '' when it has none."""
        document = self.execution_context.graphql_document
        name = self.execution_context.operation_name
        named = {
            definition.name.value
            for definition in (document.definitions if document else ())
            if isinstance(definition, OperationDefinitionNode) and definition.name
        }
        return name if name in named else ""


class Observer:
    """One access log line and one metrics sample per HTTP request (the edge calls it)."""

    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics

    def record(
        self, scope: Scope, observation: Observation, request_id: str, status: int, seconds: float
    ) -> None:
        raw_path = scope["path"]
        path = raw_path if raw_path in _PATHS else "other"
        names = observation.operations
        # None: no GraphQL operation ran (refused earlier, or not /graphql).
        operation = (names[0] if len(names) == 1 else "batch") if names else None
        metrics = self.metrics
        if metrics is not None:
            label = _label(metrics, operation)
            metrics.observe(path, label, status, seconds)
            if status == 401:
                metrics.jwt_failures.labels(_refusal_reason(scope)).inc()
        level = logging.DEBUG if raw_path in _QUIET_PATHS else logging.INFO
        if not access_logger.isEnabledFor(level):
            return
        method = scope["method"]
        fields = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "operation": operation,
            "user_id": observation.user_id,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        access_logger.log(
            level,
            "%s %s %s %s %.1fms",
            method,
            path,
            operation or "-",
            status,
            seconds * 1000,
            extra={"fields": fields},
        )


def _label(metrics: Metrics, operation: str | None) -> str:
    if operation is None:
        return "none"
    if operation in ("other", "batch"):
        return operation
    return metrics.operations.label(operation or None)


def _refusal_reason(scope: Scope) -> str:
    """Why a 401 was sent, as the error contract noted it when the refusal was written."""
    outcome = outcome_of(scope)
    reason = outcome.reason if outcome is not None else None
    return reason if reason is not None and reason in _REASONS else "other"


def install_observability(app: FastAPI, metrics: Metrics | None, services: Observed) -> Observer:
    """Serves /metrics when enabled; the edge records each request with what this returns."""
    if metrics is not None:
        metrics.watch_pool(services.database)
        if services.jwks is not None:
            services.jwks.on_refresh = metrics.jwks_refreshed
        services.rate_limiter.on_limited = metrics.limited
        services.rate_limiter.on_storage_error = metrics.rate_limit_storage_errors.inc
        app.add_api_route("/metrics", metrics.render, include_in_schema=False)
    return Observer(metrics)
