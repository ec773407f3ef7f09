"""The `taskql` command: serve, migrate, token, export-schema (SPEC §6), and watch."""

from __future__ import annotations

import asyncio
import difflib
import gc
import signal
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import uvicorn
from pydantic import ValidationError

from db.migrate import upgrade
from db.session import create_engine
from db.url import redacted
from taskql.dev_secret import ensure_dev_secret
from taskql.settings import Settings

if TYPE_CHECKING:  # the app's imports are heavy; only `serve` needs them
    from fastapi import FastAPI


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(part) for part in error['loc']).upper() or 'settings'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from None


def _migrate(settings: Settings) -> None:
    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach the database at {redacted(settings.database_url)}: {exc}"
        ) from None


YOUNG_GENERATION_THRESHOLD = 10_000


@click.group(help="taskql: a GraphQL task API for Better Auth front ends.")
def main() -> None:
    pass


@main.command(help="Migrate the embedded SQLite database if needed, then serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--graceful-timeout",
    default=10,
    show_default=True,
    type=click.IntRange(0, 300),
    help="Seconds in-flight requests get to finish after SIGTERM.",
)
def serve(host: str, port: int, workers: int, graceful_timeout: int) -> None:
    settings = load_settings()
    if settings.taskql_env == "development" and not settings.auth_configured:
        if ensure_dev_secret(Path(".env")):
            click.echo(
                "taskql: wrote a random BETTER_AUTH_SECRET to .env (mode 0600) for development; "
                "mint a token with: taskql token --sub <user-id>",
                err=True,
            )
        settings = load_settings()
    _check_manifest(settings)
    if settings.is_sqlite:
        _migrate(settings)
    # uvicorn re-raises SIGTERM once its graceful shutdown is done, which would end the process
    # "killed by SIGTERM"; a shutdown that completed is a success, so it exits 0 instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "taskql.cli:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=graceful_timeout,
        **server_options(settings),
    )


def _check_manifest(settings: Settings) -> None:
    """A bad TRUSTED_DOCUMENTS fails here, once and plainly, not in every worker."""
    if settings.trusted_documents is None:
        return
    from taskql.documents import read_manifest

    try:
        read_manifest(Path(settings.trusted_documents))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for taskql (`serve` and the benchmark run the same server)."""
    from taskql.http.protocol import HeadTimeoutProtocol
    from taskql.logs import log_config

    return {
        # uvicorn closes only idle connections, never one whose request head does not come; a
        # partial (not a class made here) so that `--workers` can pickle it to its processes.
        "http": partial(HeadTimeoutProtocol, header_timeout=settings.http_header_timeout_seconds),
        "proxy_headers": False,
        # One JSON line per request comes from taskql.http.observability; uvicorn's would repeat it.
        "access_log": False,
        "log_config": log_config(settings.log_level, settings.log_format),
        "ws_max_size": settings.max_request_bytes,
        # The client, not the server, should be the side that drops an idle connection: a
        # request sent just as the server closes is reset, unanswered (uvicorn's default of 5 s
        # raced httpx's own 5 s under load). HTTP client libraries drop idle connections after
        # a few seconds (httpx: 5), load balancers after about 60 (nginx upstreams, AWS ALB).
        "timeout_keep_alive": settings.http_keepalive_seconds,
        # With --workers, uvicorn kills a worker that has not started within this many seconds
        # (its default: 5) and starts another, which on a busy host is killed the same way: a
        # worker building the schema on a loaded core took longer than 5 s.
        "timeout_worker_healthcheck": 30,
    }


def serving_app() -> FastAPI:
    """The app `serve` runs (in each worker): built, then frozen out of the garbage collector.

    Schema, routes and modules live as long as the process; with them frozen, a collection no
    longer walks them all, which was about a fifth of a request's CPU under load. A request
    allocates thousands of objects that reference counting frees; collecting the young
    generation every 700 net allocations (CPython's default) did so several times a request.
    """
    from taskql.app import create_app

    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD)
    return app


@main.command(help="Apply database migrations to DATABASE_URL.")
def migrate() -> None:
    settings = load_settings()
    _migrate(settings)
    click.echo(f"taskql: {redacted(settings.database_url)} is at the latest schema", err=True)


@main.command(help="Print an HS256 token signed with BETTER_AUTH_SECRET (for development).")
@click.option("--sub", required=True, help="User id (the token's subject).")
@click.option("--email", default=None)
@click.option("--name", default=None)
@click.option("--ttl", default="15m", show_default=True, help="Lifetime: 90s, 15m, 2h, 1d.")
def token(sub: str, email: str | None, name: str | None, ttl: str) -> None:
    from taskql.dev_tokens import DevTokenError, lifetime_seconds, mint

    settings = load_settings()
    try:
        click.echo(mint(settings, sub, lifetime_seconds(ttl), email=email, name=name))
    except DevTokenError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("export-schema", help="Write schema.graphql from the code, or --check it is current.")
@click.option("--check", is_flag=True, help="Fail if schema.graphql differs from the code.")
@click.option(
    "--path", default="schema.graphql", show_default=True, type=click.Path(path_type=Path)
)
def export_schema(check: bool, path: Path) -> None:
    from schema.sdl import schema_sdl

    _write_or_check(path, schema_sdl(), check, "taskql export-schema")


def _write_or_check(path: Path, text: str, check: bool, command: str) -> None:
    """Write a generated contract file, or fail (showing the diff) unless it is current."""
    if not check:
        path.write_text(text, encoding="utf-8")
        click.echo(f"taskql: wrote {path}", err=True)
        return
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != text:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), text.splitlines(keepends=True), str(path), "code"
        )
        sys.stderr.writelines(diff)
        raise click.ClickException(f"{path} is out of date: run `{command}`")
    click.echo(f"taskql: {path} is current", err=True)


@main.command(
    "export-documents",
    help="Write the trusted-documents manifest from the front end's operations, or --check it.",
)
@click.option("--check", is_flag=True, help="Fail if the manifest differs from the operations.")
@click.option(
    "--operations",
    default="tests/contract/operations",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
)
@click.option(
    "--path", default="trusted-documents.json", show_default=True, type=click.Path(path_type=Path)
)
def export_documents(check: bool, operations: Path, path: Path) -> None:
    from graphql import GraphQLError

    from taskql.documents import build_manifest, manifest_json

    try:
        manifest = manifest_json(build_manifest(operations))
    except (ValueError, GraphQLError) as exc:
        raise click.ClickException(str(exc)) from None
    _write_or_check(path, manifest, check, "taskql export-documents")


@main.command(help="Print a user's task events as JSON lines, with a development token.")
@click.option("--sub", required=True, help="User id whose tasks to watch (the token's subject).")
@click.option("--url", default="ws://127.0.0.1:8000/graphql", show_default=True)
@click.option("--ttl", default="15m", show_default=True, help="Token lifetime; renewed at expiry.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after N events.")
@click.option("--after", default=None, help="Resume after this event's cursor (printed with each).")
def watch(sub: str, url: str, ttl: str, count: int | None, after: str | None) -> None:
    from taskql.dev_tokens import DevTokenError, lifetime_seconds, mint
    from taskql.watch import WatchError
    from taskql.watch import watch as run_watch

    settings = load_settings()
    try:
        lifetime = lifetime_seconds(ttl)
        asyncio.run(
            run_watch(
                url,
                sub,
                lambda: mint(settings, sub, lifetime),
                emit=click.echo,
                note=lambda text: click.echo(f"taskql: {text}", err=True),
                count=count,
                after=after,
            )
        )
    except (WatchError, DevTokenError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from None
    except KeyboardInterrupt:
        pass
