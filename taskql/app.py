"""The application factory: wires settings, database, verifier and the GraphQL router together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from auth.errors import AuthError, AuthUnavailable
from auth.jwks import JWKSClient
from auth.sessions import SessionCheck
from auth.verify import TokenVerifier
from contract.errors import RULES, Code
from db.better_auth import BetterAuthSessions, SessionTable
from db.session import Database, PoolOptions
from resolvers import event_log
from resolvers.events import EventBus, EventHub
from resolvers.housekeeping import Periodic
from resolvers.idempotency import KeyStore, sweeper
from schema import build_schema
from schema.context import context_loader
from schema.rate_limits import RateLimiter, parse_policy, trusted_networks
from schema.rate_limits import extension as rate_limits
from taskql.documents import TrustedDocuments, read_manifest
from taskql.http.cors import Cors
from taskql.http.edge import Edge, EdgedFastAPI
from taskql.http.graphiql import mount_graphiql_static
from taskql.http.graphql import TaskqlGraphQLRouter
from taskql.http.idempotency import IdempotencyKeys
from taskql.http.observability import Metrics, OperationRecorder, install_observability
from taskql.http.refusals import (
    auth_error_response,
    auth_unavailable_response,
    http_error_response,
)
from taskql.live.polling import PollingEventHub
from taskql.live.postgres import PostgresEventHub
from taskql.live.websocket import LiveConnections
from taskql.settings import Settings

logger = logging.getLogger("taskql")


@dataclass
class Services:
    settings: Settings
    database: Database
    verifier: TokenVerifier
    jwks: JWKSClient | None
    events: EventHub
    rate_limiter: RateLimiter
    better_auth_sessions: BetterAuthSessions | None = None


def build_services(settings: Settings) -> Services:
    pool = PoolOptions(
        size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        timeout=settings.db_pool_timeout_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
        ping_after_idle=settings.db_ping_after_idle_seconds,
        pooler=settings.db_pooler,
    )
    config = settings.auth_config
    jwks = (
        JWKSClient(
            config.jwks_url,
            cooldown=settings.jwks_cooldown_seconds,
            refresh_interval=settings.jwks_refresh_seconds,
        )
        if config.jwks_url
        else None
    )
    database = Database(settings.database_url, pool)
    hub = _event_hub(settings, database)
    limiter = RateLimiter(
        {
            "operations": parse_policy(settings.rate_limit),
            "mutations": parse_policy(settings.rate_limit_mutations),
            "anonymous": parse_policy(settings.rate_limit_anonymous),
        },
        settings.rate_limit_storage,
    )
    sessions = _better_auth_sessions(settings)
    check = (
        SessionCheck(sessions.fetch, max_age=settings.session_check_seconds)
        if sessions is not None
        else None
    )
    verifier = TokenVerifier(config, jwks, sessions=check)
    return Services(settings, database, verifier, jwks, hub, limiter, sessions)


def _better_auth_sessions(settings: Settings) -> BetterAuthSessions | None:
    """Better Auth's session table, when its database is named (SPEC §4)."""
    if settings.better_auth_database_url is None:
        return None
    return BetterAuthSessions(
        settings.better_auth_database_url.get_secret_value(),
        SessionTable(
            name=settings.better_auth_session_table,
            id=settings.better_auth_session_id_column,
            user_id=settings.better_auth_session_user_id_column,
            expires_at=settings.better_auth_session_expires_at_column,
        ),
        timeout=settings.db_connect_timeout_seconds,
    )


def _event_hub(settings: Settings, database: Database) -> EventHub:
    """In-process on SQLite (one process serves it); LISTEN/NOTIFY across replicas on PostgreSQL;
    the event log, polled, behind a transaction pooler with no direct connection to LISTEN on."""
    bus = EventBus(queue_size=settings.ws_event_queue_size)
    if settings.is_sqlite:
        return EventHub(bus)
    if settings.db_pooler is not None and settings.database_listen_url is None:
        return PollingEventHub(database.engine, bus, interval=settings.events_poll_seconds)
    return PostgresEventHub(
        settings.listen_url, bus, connect_timeout=settings.db_connect_timeout_seconds
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    services = build_services(settings)
    keys = KeyStore(services.database.engine, settings.idempotency_ttl_seconds)
    sweep = sweeper(keys)  # expired Idempotency-Keys go off the request path
    retention = settings.events_retention_seconds
    engine = services.database.engine
    pruner = Periodic(  # events past retention, likewise
        "events-retention",
        partial(event_log.prune_expired, engine, retention),
        interval=min(60.0, retention / 10),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not settings.auth_configured:
            logger.warning("no BETTER_AUTH_SECRET or BETTER_AUTH_URL: every token will be refused")
        await services.events.start()
        sweep.start()
        pruner.start()
        try:
            yield
        finally:
            await pruner.aclose()
            await sweep.aclose()
            await services.events.aclose()
            if services.jwks is not None:
                await services.jwks.aclose()
            if services.verifier.sessions is not None:
                await services.verifier.sessions.aclose()
            if services.better_auth_sessions is not None:
                await services.better_auth_sessions.dispose()
            await services.database.dispose()

    documents = trusted_documents(settings)
    trusted = trusted_networks(settings.trusted_proxies)
    # No extension at all when every limit is off: a hook per request costs even doing nothing.
    limiter = services.rate_limiter
    limited = [rate_limits(limiter, trusted)] if limiter.policies else []
    app = EdgedFastAPI(title="taskql", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.add_exception_handler(HTTPException, http_error_response)
    app.add_exception_handler(AuthError, auth_error_response)
    app.add_exception_handler(AuthUnavailable, auth_unavailable_response)
    router = TaskqlGraphQLRouter(
        build_schema(
            settings.graphql_limits(),
            [OperationRecorder, *limited],
            plans=settings.compiled_plans,
        ),
        path="/graphql",
        context_getter=context_loader(services.database, services.verifier, services.events),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allowed_origins=settings.cors_origins,
        graphiql_development=settings.taskql_env == "development",
        graphiql_persist_headers=settings.graphiql_persist_headers,
        live=LiveConnections(
            max_per_user=settings.ws_max_connections_per_user,
            max_subscriptions=settings.ws_max_subscriptions_per_connection,
            limiter=services.rate_limiter,
        ),
        ws_init_timeout=settings.ws_init_timeout_seconds,
        idempotency=IdempotencyKeys(keys, settings.graphql_max_tokens, documents),
        documents=documents,
    )
    app.router.routes.append(router.http_route)  # GET/POST; the router holds the rest
    app.include_router(router)
    if settings.graphiql_enabled:
        mount_graphiql_static(app)
    _add_health(app, services)
    metrics = Metrics() if settings.metrics_enabled else None
    observer = install_observability(app, metrics, services)
    cors = Cors(
        allow_origins=settings.cors_origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Accept",
            "X-Request-ID",
            "Idempotency-Key",
        ],
        expose_headers=["X-Request-ID", "WWW-Authenticate", "Retry-After", "Idempotent-Replayed"],
        max_age=600,
    )
    # Last, once every route is in: the edge looks the direct ones up now, not per request.
    app.edge = Edge(
        app,
        cors=cors,
        observer=observer,
        max_bytes=settings.max_request_bytes,
        body_timeout=settings.http_body_timeout_seconds,
    )
    return app


def trusted_documents(settings: Settings) -> TrustedDocuments:
    """The manifest TRUSTED_DOCUMENTS names, read and checked at startup (SPEC §9)."""
    path = settings.trusted_documents
    return TrustedDocuments(
        read_manifest(Path(path)) if path is not None else None,
        only=settings.only_trusted_documents,
        introspection=settings.graphiql_enabled,
        max_tokens=settings.graphql_max_tokens,
    )


def _add_health(app: FastAPI, services: Services) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = {"database": await _reachable(services.database, "database")}
        if services.better_auth_sessions is not None:  # the session check needs it
            sessions = services.better_auth_sessions.database
            checks["sessions"] = await _reachable(sessions, "session database")
        if services.jwks is not None:
            if not services.jwks.loaded:
                await services.jwks.prime()
            checks["jwks"] = "ok" if services.jwks.loaded else "unavailable"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers={} if ready else dict(RULES[Code.SERVICE_UNAVAILABLE].headers),
        )


async def _reachable(database: Database, name: str) -> str:
    try:
        await database.ping()
    except Exception as exc:  # any failure means not ready
        logger.warning("readiness: %s unreachable (%s)", name, type(exc).__name__)
        return "unavailable"
    return "ok"
