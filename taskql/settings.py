"""Settings (SPEC §5): one object read from the environment and `.env`, validated at startup."""

from __future__ import annotations

import re
from functools import cached_property
from ipaddress import ip_network
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from auth.verify import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, AuthConfig
from db.url import normalize_database_url

if TYPE_CHECKING:  # the schema package is heavy to import; `taskql token` needs none of it
    from schema.limits import Limits

MIN_SECRET_LENGTH = 32
# A table or column name as Better Auth's adapters make them (the table may be schema.table).
_SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")
CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _another_database_url(raw: str, setting: str) -> str:
    """A database URL other than DATABASE_URL, normalised the same way; its errors name
    `setting` (and, like DATABASE_URL's, name the scheme or part, never the password)."""
    try:
        return normalize_database_url(raw)
    except ValueError as exc:
        raise ValueError(str(exc).replace("DATABASE_URL", setting)) from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # a rejected value may be a secret or a password
    )

    database_url: str = "sqlite+aiosqlite:///./taskql.db"
    better_auth_secret: SecretStr | None = None
    better_auth_url: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: CommaList = Field(default_factory=list)
    jwt_algorithms: CommaList = Field(default_factory=list)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=600)
    jwks_cooldown_seconds: float = Field(default=30.0, gt=0)
    jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    cors_origins: CommaList = Field(default_factory=lambda: ["http://localhost:3000"])
    cors_allow_credentials: bool = False
    taskql_env: Literal["development", "production"] = "development"
    graphiql: bool | None = None
    graphiql_persist_headers: bool = False
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=15.0, gt=0)
    db_ping_after_idle_seconds: float = Field(default=5.0, ge=0)
    # Scale-out (SPEC §5): PgBouncer in transaction mode in front of PostgreSQL, and a direct
    # connection for LISTEN, which cannot work through transaction pooling.
    db_pooler: Literal["pgbouncer"] | None = None
    database_listen_url: str | None = None
    # The durable event log (SPEC §7): how long events stay for resuming subscriptions, and
    # how often it is read for new events where LISTEN cannot work (a pooler, no listen URL).
    events_retention_seconds: int = Field(default=86_400, ge=60)
    events_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    log_level: str = "INFO"
    # Production hardening: abuse limits, request logs and metrics (README "Operating taskql").
    log_format: Literal["json", "text"] = "json"
    metrics_enabled: bool = True
    max_request_bytes: int = Field(default=65_536, ge=1024)
    http_keepalive_seconds: int = Field(default=75, ge=1)
    # Slow or silent clients (taskql.http.protocol, taskql.http.body_limit): a request's head must
    # arrive within this long, and its body must never stall for longer than this.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    graphql_max_depth: int = Field(default=10, ge=1)
    graphql_max_aliases: int = Field(default=20, ge=0)
    graphql_max_tokens: int = Field(default=1000, ge=100)
    graphql_max_operations: int = Field(default=1, ge=1, le=100)
    graphql_document_cache_size: int = Field(default=256, ge=0)
    # Subscriptions over WebSocket (SPEC §7); the limits hold per process.
    ws_init_timeout_seconds: float = Field(default=10.0, gt=0)
    ws_max_connections_per_user: int = Field(default=10, ge=1)
    ws_max_subscriptions_per_connection: int = Field(default=20, ge=1)
    ws_event_queue_size: int = Field(default=256, ge=1)
    # Fair use (SPEC §8), in the `limits` syntax; "" turns one off. A person using the Next.js
    # example sends a request or two a second at most; these are ten times that and more.
    rate_limit: str = "600/minute;10000/hour"
    rate_limit_mutations: str = "120/minute;3000/hour"
    rate_limit_anonymous: str = "300/minute"
    rate_limit_storage: str = "memory://"
    trusted_proxies: CommaList = Field(default_factory=list)
    # Safe retries (SPEC §8): how long a mutation's response is kept for its Idempotency-Key.
    idempotency_ttl_seconds: int = Field(default=86_400, ge=1)
    # Signed out means signed out (SPEC §4): Better Auth's own database, where its `session`
    # table says which sessions are alive; table and column names as Better Auth's default
    # schema has them (`session.modelName` / `session.fields` there rename them).
    better_auth_database_url: SecretStr | None = None  # may hold a password
    session_check_seconds: float = Field(default=5.0, gt=0, le=3600)
    require_session_id: bool = False
    better_auth_session_table: str = "session"
    better_auth_session_id_column: str = "id"
    better_auth_session_user_id_column: str = "userId"
    better_auth_session_expires_at_column: str = "expiresAt"
    # Trusted documents (SPEC §9): the manifest of the front end's operations, by id; whether
    # only those may run (unset: yes in production when a manifest is named, else no).
    trusted_documents: str | None = None
    trusted_documents_only: bool | None = None
    # Documents compiled once into plans that skip graphql-core's per-field execution; off, every
    # operation takes the general path (an escape hatch, and the differential test's reference).
    compiled_plans: bool = True

    _split = field_validator(
        "jwt_audience", "jwt_algorithms", "cors_origins", "trusted_proxies", mode="before"
    )(_split_commas)

    @field_validator("rate_limit", "rate_limit_mutations", "rate_limit_anonymous")
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError("must look like 600/minute;10000/hour (or be empty)") from None
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory:// or redis://host:6379/0")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("database_listen_url")
    @classmethod
    def _listen_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = _another_database_url(value, "DATABASE_LISTEN_URL")
        if url.startswith("sqlite"):
            raise ValueError("must be a PostgreSQL URL (LISTEN is PostgreSQL's)")
        return url

    @field_validator("better_auth_database_url")
    @classmethod
    def _better_auth_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(
            _another_database_url(value.get_secret_value(), "BETTER_AUTH_DATABASE_URL")
        )

    @field_validator(
        "better_auth_session_table",
        "better_auth_session_id_column",
        "better_auth_session_user_id_column",
        "better_auth_session_expires_at_column",
    )
    @classmethod
    def _sql_name(cls, value: str, info: ValidationInfo) -> str:
        # Quoted by SQLAlchemy, never pasted; still, a name is a name, not a statement.
        is_table = info.field_name == "better_auth_session_table"
        parts = value.split(".", 1) if is_table else [value]
        if not all(_SQL_NAME.fullmatch(part) for part in parts):
            raise ValueError(f"{value!r} is not a table or column name")
        return value

    @field_validator("better_auth_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} characters "
                "(generate one with: openssl rand -base64 32)"
            )
        return value

    @field_validator(
        "better_auth_url",
        "jwt_jwks_url",
        "jwt_issuer",
        "db_pooler",
        "database_listen_url",
        "trusted_documents",
        "trusted_documents_only",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("better_auth_url", "jwt_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        known = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS
        unknown = [alg for alg in value if alg not in known]
        if unknown:
            raise ValueError(
                f"unsupported algorithm(s) {', '.join(unknown)}; choose from "
                f"{', '.join(sorted(known))}"
            )
        return value

    @model_validator(mode="after")
    def _pooler_needs_postgres(self) -> Settings:
        if self.db_pooler is not None and self.is_sqlite:
            raise ValueError("DB_POOLER=pgbouncer needs a PostgreSQL DATABASE_URL (PgBouncer's)")
        return self

    @model_validator(mode="after")
    def _only_needs_a_manifest(self) -> Settings:
        if self.trusted_documents_only and self.trusted_documents is None:
            raise ValueError(
                "TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS (the manifest's path)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_auth(self) -> Settings:
        if self.taskql_env == "production" and not self.auth_configured:
            raise ValueError(
                "TASKQL_ENV=production needs BETTER_AUTH_URL (JWKS mode) or BETTER_AUTH_SECRET"
            )
        if self.jwt_algorithms and self.auth_configured:
            _ = self.auth_config  # raises when the allow-list leaves no usable source
        return self

    @property
    def auth_configured(self) -> bool:
        return self.better_auth_secret is not None or self.jwks_url is not None

    @property
    def jwks_url(self) -> str | None:
        if self.jwt_jwks_url:
            return self.jwt_jwks_url
        if self.better_auth_url:
            return f"{self.better_auth_url}/api/auth/jwks"
        return None

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.taskql_env == "development"

    @property
    def only_trusted_documents(self) -> bool:
        if self.trusted_documents_only is not None:
            return self.trusted_documents_only
        return self.taskql_env == "production" and self.trusted_documents is not None

    @property
    def listen_url(self) -> str:
        return self.database_listen_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def auth_config(self) -> AuthConfig:
        secret = self.better_auth_secret.get_secret_value() if self.better_auth_secret else None
        return AuthConfig.build(
            secret=secret,
            jwks_url=self.jwks_url,
            issuer=self.jwt_issuer or self.better_auth_url,
            audience=tuple(self.jwt_audience)
            or ((self.better_auth_url,) if self.better_auth_url else ()),
            algorithms=tuple(self.jwt_algorithms),
            leeway=self.jwt_leeway_seconds,
            require_session_id=self.require_session_id,
        )

    def graphql_limits(self) -> Limits:
        from schema.limits import Limits

        return Limits(
            max_depth=self.graphql_max_depth,
            max_aliases=self.graphql_max_aliases,
            max_tokens=self.graphql_max_tokens,
            max_operations=self.graphql_max_operations,
            document_cache_size=self.graphql_document_cache_size,
        )
