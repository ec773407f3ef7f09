"""DATABASE_URL forms people paste, turned into the async driver URLs SQLAlchemy needs."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite"}
# libpq's sslmode values that asyncpg's `ssl` argument understands the same way.
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


class DatabaseURLError(ValueError):
    pass


def normalize_database_url(raw: str) -> str:
    """Accept sqlite, postgres:// and postgresql:// URLs; return the async-driver form."""
    try:
        url = make_url(raw.strip())
    except ArgumentError as exc:
        raise DatabaseURLError(
            "DATABASE_URL is not a URL; expected e.g. postgresql://user:pass@host:5432/db "
            "or sqlite+aiosqlite:///./taskql.db"
        ) from exc
    if url.drivername in _SQLITE_SCHEMES:
        return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if url.drivername in _POSTGRES_SCHEMES:
        return _postgres(url).render_as_string(hide_password=False)
    raise DatabaseURLError(
        f"DATABASE_URL scheme {url.drivername!r} is not supported; use postgresql:// "
        "or sqlite+aiosqlite://"
    )


def _postgres(url: URL) -> URL:
    if not url.host and not url.query.get("host"):
        raise DatabaseURLError("DATABASE_URL for PostgreSQL needs a host")
    if not url.database:
        raise DatabaseURLError("DATABASE_URL for PostgreSQL needs a database name")
    query = dict(url.query)
    sslmode = query.pop("sslmode", None)
    if sslmode is not None:
        if not isinstance(sslmode, str) or sslmode not in _SSL_MODES:
            raise DatabaseURLError(
                f"DATABASE_URL sslmode must be one of {', '.join(sorted(_SSL_MODES))}"
            )
        query["ssl"] = sslmode
    return url.set(drivername="postgresql+asyncpg", query=query)


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)
