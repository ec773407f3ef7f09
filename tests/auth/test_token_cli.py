"""`taskql token` mints HS256 tokens the app accepts, and fails clearly when it cannot."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from taskql.cli import main
from tests.support.apps import AppFactory
from tests.support.graphql import unauthenticated
from tests.support.tokens import TEST_SECRET, decode_unverified

AUTH_URL = "https://auth.example.com"
# Every setting the CLI could pick up from the test process is cleared; each test sets its own.
_CLEARED = {name: None for name in os.environ if name.startswith(("BETTER_AUTH_", "JWT_"))}


Runner = Callable[..., Result]


@pytest.fixture
def run_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runner:
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory

    def run(*args: str, **env: str) -> Result:
        return CliRunner().invoke(main, ["token", *args], env={**_CLEARED, **env})

    return run


@pytest.fixture
def mint(run_token: Runner) -> Callable[..., str]:
    def run(*args: str, **env: str) -> str:
        result = run_token(*args, **env)
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    return run


async def test_a_minted_token_is_accepted_with_its_issuer_and_audience(
    build_app: AppFactory, mint: Callable[..., str]
) -> None:
    token = mint(
        "--sub",
        "user-7",
        "--email",
        "ada@example.com",
        "--name",
        "Ada",
        "--ttl",
        "2h",
        BETTER_AUTH_SECRET=TEST_SECRET,
        BETTER_AUTH_URL=AUTH_URL,
    )
    taskql = await build_app(better_auth_url=AUTH_URL)

    response = await taskql.me(token)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"] == {
        "id": "user-7",
        "email": "ada@example.com",
        "name": "Ada",
    }
    header, claims = decode_unverified(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == claims["aud"] == AUTH_URL
    assert claims["exp"] - claims["iat"] == 7200


async def test_a_token_minted_without_the_url_fails_where_the_url_is_configured(
    build_app: AppFactory, mint: Callable[..., str]
) -> None:
    token = mint("--sub", "user-7", BETTER_AUTH_SECRET=TEST_SECRET)
    taskql = await build_app(better_auth_url=AUTH_URL)

    assert unauthenticated(await taskql.me(token)) == ("bad_claims", "Invalid token: wrong issuer")


def test_the_default_lifetime_is_fifteen_minutes(mint: Callable[..., str]) -> None:
    _, claims = decode_unverified(mint("--sub", "user-7", BETTER_AUTH_SECRET=TEST_SECRET))
    assert claims["exp"] - claims["iat"] == 900
    assert "iss" not in claims and "aud" not in claims


def test_without_a_secret_it_fails_with_a_clear_message(run_token: Runner) -> None:
    result = run_token("--sub", "user-7")

    assert result.exit_code == 1
    assert "BETTER_AUTH_SECRET is not set" in result.output
    assert result.stdout == ""


def test_a_short_secret_fails_with_a_clear_message(run_token: Runner) -> None:
    result = run_token("--sub", "user-7", BETTER_AUTH_SECRET="too-short")

    assert result.exit_code == 1
    assert "BETTER_AUTH_SECRET" in result.output
    assert "at least 32 characters" in result.output
    assert "too-short" not in result.output


@pytest.mark.parametrize("ttl", ["abc", "0m", "15x", "-5m", "1.5h", ""])
def test_a_bad_ttl_fails_with_a_clear_message(run_token: Runner, ttl: str) -> None:
    result = run_token("--sub", "user-7", "--ttl", ttl, BETTER_AUTH_SECRET=TEST_SECRET)

    assert result.exit_code == 1
    assert "--ttl must look like 90s, 15m, 2h or 1d" in result.output
    assert result.stdout == ""


def test_an_empty_sub_fails_with_a_clear_message(run_token: Runner) -> None:
    result = run_token("--sub", "  ", BETTER_AUTH_SECRET=TEST_SECRET)

    assert result.exit_code == 1
    assert "--sub must not be empty" in result.output
