"""PostGraphile v4 beside taskql: installed from the committed lock file, given two roles and a
row-level-security policy in the benchmark's database, and started (bench/postgraphile/server.js).

taskql and the floor connect as the database's owner, a superuser, whom the policy does not bind
(RLS is enabled, not forced); PostGraphile connects as a login role of its own and runs every
request as the authenticated role, which the policy limits to the token's `sub`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import make_url

from bench.processes import Server, start_program
from tests.support.databases import plain_url
from tests.support.network import free_port

HERE = Path(__file__).with_name("postgraphile")
_MARKER = HERE / "node_modules" / ".bench-lock-sha256"


def install() -> None:
    """`npm ci` into bench/postgraphile/node_modules unless the lock file's install is there."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("bench: PostGraphile needs Node.js >= 20 and npm on PATH")
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    if _MARKER.exists() and _MARKER.read_text() == digest:
        return
    print("bench: installing PostGraphile (npm ci in bench/postgraphile)", flush=True)
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: npm ci failed in {HERE}:\n{done.stdout}{done.stderr}")
    _MARKER.write_text(digest)


@dataclass(frozen=True)
class Roles:
    login: str  # PostGraphile's connection: no superuser, no BYPASSRLS
    authenticated: str  # what every request runs as (pgDefaultRole); the policy's subject
    password: str

    def dsn(self, database_url: str) -> str:
        url = make_url(plain_url(database_url))
        return url.set(username=self.login, password=self.password).render_as_string(False)


@contextmanager
def roles(database_url: str, server_url: str) -> Iterator[Roles]:
    """The roles and policy in `database_url`'s database; the roles dropped afterwards."""
    prefix = make_url(database_url).database
    made = Roles(f"{prefix}_pg_login", f"{prefix}_pg_user", secrets.token_hex(16))
    asyncio.run(_setup(database_url, made))
    try:
        yield made
    finally:
        asyncio.run(_teardown(database_url, server_url, made))


# Identifiers cannot be bound parameters; these are made here from the database's generated
# name (letters, digits, underscores) and a hex password.
async def _setup(database_url: str, roles: Roles) -> None:
    login, user = f'"{roles.login}"', f'"{roles.authenticated}"'
    sub = "current_setting('jwt.claims.sub', true)"
    statements = [
        f"CREATE ROLE {user} NOLOGIN",
        f"CREATE ROLE {login} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{roles.password}'",
        f"GRANT {user} TO {login}",
        f"GRANT USAGE ON SCHEMA public TO {user}",
        f"GRANT SELECT, INSERT, UPDATE ON tasks TO {user}",
        f"GRANT USAGE ON SEQUENCE tasks_id_seq TO {user}",
        # taskql always writes both itself; PostGraphile's createTask needs the database to.
        "ALTER TABLE tasks ALTER COLUMN created_at SET DEFAULT now(), "
        "ALTER COLUMN updated_at SET DEFAULT now()",
        "ALTER TABLE tasks ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY tasks_owner ON tasks TO {user} USING (user_id = {sub}) "
        f"WITH CHECK (user_id = {sub})",
    ]
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _teardown(database_url: str, server_url: str, roles: Roles) -> None:
    login, user = f'"{roles.login}"', f'"{roles.authenticated}"'
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        await connection.execute(f"DROP OWNED BY {login}, {user}")
    finally:
        await connection.close()
    connection = await asyncpg.connect(plain_url(server_url))
    try:
        await connection.execute(f"DROP ROLE IF EXISTS {login}, {user}")
    finally:
        await connection.close()


def start(
    roles: Roles,
    database_url: str,
    auth: dict[str, str],
    lifetime: float,
    out: Path,
    wrapper: tuple[str, ...],
) -> Server:
    port = free_port()
    argv = [*wrapper, "node", str(HERE / "server.js"), "--port", str(port)]
    argv += ["--max-seconds", str(lifetime)]
    env = {
        "BENCH_PG_DSN": roles.dsn(database_url),
        "BENCH_PG_ROLE": roles.authenticated,
        "BETTER_AUTH_SECRET": auth["BETTER_AUTH_SECRET"],
        "BETTER_AUTH_URL": auth["BETTER_AUTH_URL"],
        "NODE_ENV": "production",
    }
    return start_program("postgraphile", argv, env, out, port=port, dialect="postgraphile")
