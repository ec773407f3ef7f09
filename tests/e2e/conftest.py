"""Fixtures for the browser tests: taskql, the Next.js example and Chromium, on 127.0.0.1."""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.databases import empty_databases, sqlite_url
from tests.support.example_stack import (
    JWT_EXPIRATION_SECONDS,
    JWT_LEEWAY_SECONDS,
    SESSION_CHECK_SECONDS,
    NewContext,
    Shoot,
    Stack,
)
from tests.support.network import free_port
from tests.support.nextjs import NextBuild, nextjs_build
from tests.support.paths import OUTPUT, REPO
from tests.support.processes import ServerProcess, base_env, run_taskql, venv_command
from tests.support.tokens import TEST_SECRET


@pytest.fixture(scope="session")
def e2e_output() -> Path:
    path = OUTPUT / "e2e"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def nextjs(pytestconfig: pytest.Config) -> Iterator[NextBuild]:
    """``npm ci`` and ``next build`` of examples/nextjs (cached in .cache/ between runs)."""
    with nextjs_build() as build:
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(
                f"\nexamples/nextjs: npm ci {build.npm_ci_seconds:.1f}s, next build "
                f"{build.build_seconds:.1f}s (0 = reused), in {build.app_dir.parents[1]}"
            )
        yield build


@pytest.fixture(scope="session")
def stack(
    nextjs: NextBuild, e2e_output: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """taskql and the Next.js app, each with a fresh PostgreSQL database and a free port."""
    app_port, api_port = free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    workdir = tmp_path_factory.mktemp("taskql")  # no stray .env from the repository
    logs = tmp_path_factory.mktemp("logs")  # per session: another session may be running
    with empty_databases("api", "auth") as databases:
        migrated = run_taskql("migrate", cwd=workdir, env=base_env(DATABASE_URL=databases["api"]))
        assert migrated.returncode == 0, migrated.stderr
        app = ServerProcess(
            "nextjs",
            ["node", "node_modules/next/dist/bin/next", "start"]
            + ["--hostname", "127.0.0.1", "--port", str(app_port)],
            port=app_port,
            cwd=nextjs.app_dir,
            env=base_env(
                NODE_ENV="production",
                NEXT_TELEMETRY_DISABLED="1",
                BETTER_AUTH_TELEMETRY="0",
                BETTER_AUTH_URL=app_url,
                BETTER_AUTH_SECRET=secrets.token_urlsafe(32),
                DATABASE_URL=databases["auth"],
                TASKQL_URL=f"{api_url}/graphql",
                JWT_EXPIRATION_TIME=f"{JWT_EXPIRATION_SECONDS}s",
            ),
            log_dir=logs,
            ready_path="/sign-in",
        )
        api = ServerProcess(
            "taskql",
            [sys.executable, "-m", "uvicorn", "taskql.app:create_app", "--factory"]
            + ["--host", "127.0.0.1", "--port", str(api_port)],
            port=api_port,
            cwd=workdir,
            env=base_env(
                DATABASE_URL=databases["api"],
                BETTER_AUTH_URL=app_url,
                CORS_ORIGINS=app_url,
                TASKQL_ENV="development",
                JWT_LEEWAY_SECONDS=str(JWT_LEEWAY_SECONDS),
                # Signed out means signed out: Better Auth's sessions, read from its database.
                BETTER_AUTH_DATABASE_URL=databases["auth"],
                SESSION_CHECK_SECONDS=str(SESSION_CHECK_SECONDS),
                REQUIRE_SESSION_ID="true",
                # The example sends document ids only (SPEC §9): nothing else may run.
                TRUSTED_DOCUMENTS=str(REPO / "trusted-documents.json"),
                TRUSTED_DOCUMENTS_ONLY="true",
            ),
            log_dir=logs,
        )
        try:
            with app, api:
                yield Stack(app_url, f"{api_url}/graphql", e2e_output)
        finally:
            for log in logs.glob("*.log"):
                shutil.copy(log, e2e_output / log.name)


@pytest.fixture(scope="module")
def graphiql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`taskql serve` with GraphiQL on, on SQLite, taking the tests' HS256 tokens: GraphiQL
    needs neither the Next.js app nor PostgreSQL."""
    workdir = tmp_path_factory.mktemp("graphiql")  # no stray .env from the repository
    env = base_env(
        DATABASE_URL=sqlite_url(workdir / "taskql.db"),
        BETTER_AUTH_SECRET=TEST_SECRET,
        TASKQL_ENV="development",
        GRAPHIQL="true",
    )
    migrated = run_taskql("migrate", cwd=workdir, env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    with ServerProcess(
        "taskql-graphiql",
        [venv_command("taskql"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        cwd=workdir,
        env=env,
        log_dir=workdir,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running while it is open, which
    # would stop the async tests of later modules from starting theirs.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Browser, stack: Stack) -> Iterator[NewContext]:
    """``new_context()``: a fresh browser profile (one per user), closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(
            base_url=stack.app_url, viewport={"width": 1000, "height": 760}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    return new_context().new_page()


@pytest.fixture
def shoot(stack: Stack) -> Shoot:
    """``shoot(page, "name")`` saves test-output/e2e/name.png (one per main screen)."""

    def save(page: Page, name: str) -> None:
        page.screenshot(path=stack.output / f"{name}.png", full_page=True)

    return save
