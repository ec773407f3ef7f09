"""Settings are validated at startup with messages a person can act on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from taskql.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_defaults_serve_embedded_sqlite_in_development() -> None:
    plain = settings()
    assert plain.database_url == "sqlite+aiosqlite:///./taskql.db"
    assert plain.taskql_env == "development"
    assert plain.graphiql_enabled is True
    assert plain.cors_origins == ["http://localhost:3000"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_url_forms_are_normalised_for_async_drivers(given: str, expected: str) -> None:
    assert settings(database_url=given).database_url == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("not a url", "DATABASE_URL is not a URL"),
        ("mysql://u@db/app", "scheme 'mysql' is not supported"),
        ("postgresql://u@db/app?sslmode=maybe", "sslmode must be one of"),
        ("postgresql:///app", "needs a host"),
    ],
)
def test_malformed_database_url_is_refused_clearly(given: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(database_url=given)


def test_short_secret_is_refused_and_not_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        settings(better_auth_secret="too-short-secret")
    assert "at least 32 characters" in str(caught.value)
    assert "too-short-secret" not in str(caught.value)


def test_production_requires_auth_settings() -> None:
    with pytest.raises(ValidationError, match="TASKQL_ENV=production needs"):
        settings(taskql_env="production")
    prod = settings(taskql_env="production", better_auth_url="https://auth.example.com")
    assert prod.graphiql_enabled is False


def test_better_auth_url_derives_jwks_issuer_and_audience() -> None:
    config = settings(better_auth_url="https://app.example.com/").auth_config
    assert config.jwks_url == "https://app.example.com/api/auth/jwks"
    assert config.issuer == "https://app.example.com"
    assert config.audience == ("https://app.example.com",)
    assert config.algorithms == {"EdDSA", "Ed25519", "ES256", "ES512", "RS256", "PS256"}


def test_overrides_and_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETTER_AUTH_URL", "https://app.example.com")
    monkeypatch.setenv("JWT_AUDIENCE", "api, mobile")
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example.com")
    monkeypatch.setenv("JWT_ALGORITHMS", "EdDSA,ES256")
    monkeypatch.setenv("CORS_ORIGINS", "http://a.test, http://b.test")
    loaded = settings()
    config = loaded.auth_config
    assert config.audience == ("api", "mobile")
    assert config.issuer == "https://issuer.example.com"
    assert config.algorithms == {"EdDSA", "Ed25519", "ES256"}  # one algorithm, two names
    assert loaded.cors_origins == ["http://a.test", "http://b.test"]


def test_algorithm_allow_list_must_fit_the_key_sources() -> None:
    with pytest.raises(ValidationError, match="unsupported algorithm"):
        settings(better_auth_url="https://a.example.com", jwt_algorithms="none")
    with pytest.raises(ValidationError, match="allows none of the algorithms"):
        settings(better_auth_secret="s" * 40, jwt_algorithms="EdDSA")


def test_secret_mode_allows_hmac_only() -> None:
    config = settings(better_auth_secret="s" * 40).auth_config
    assert config.algorithms == {"HS256"}
    assert config.jwks_url is None


@pytest.mark.parametrize(
    ("field", "given", "message"),
    [
        ("rate_limit", "lots", "must look like 600/minute;10000/hour"),
        ("rate_limit_mutations", "10 per fortnight", "must look like 600/minute;10000/hour"),
        ("rate_limit_storage", "memcached://x", "must be memory:// or redis://"),
        ("trusted_proxies", "10.0.0.0/8,proxy.internal", "'proxy.internal' is not an IP"),
    ],
)
def test_malformed_rate_limit_settings_are_refused_clearly(
    field: str, given: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**{field: given})


def test_rate_limits_have_defaults_and_an_empty_one_is_off() -> None:
    loaded = settings(rate_limit="", trusted_proxies="10.0.0.0/8, 192.0.2.1")
    assert loaded.rate_limit == ""
    assert loaded.rate_limit_mutations == "120/minute;3000/hour"
    assert loaded.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]
