"""The floor: the smallest honest Starlette + asyncpg endpoint doing what taskql does per request.

It reads the same request bytes (dispatching on operationName instead of parsing GraphQL),
verifies the same token with python-jose (EdDSA through auth/keys.py) on every request, checks
the owner, runs taskql's SQL statement for statement (transaction, NOTIFY on writes included),
and answers the same JSON shape. No GraphQL, no ORM, no middleware, no logs: what is left.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvicorn
from jose import jwk, jwt
from jose.exceptions import JWTError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth import keys
from bench.instrument import JwtMeter, server_arguments

keys.register()

# taskql's statements as SQLAlchemy renders them for asyncpg, written out in full.
LIST = (
    "SELECT tasks.id, tasks.user_id, tasks.title, tasks.description, tasks.completed, "
    "tasks.created_at, tasks.updated_at \nFROM tasks \nWHERE tasks.user_id = $1::VARCHAR "
    "ORDER BY tasks.created_at DESC, tasks.id DESC \n LIMIT $2::INTEGER"
)
COUNT = "SELECT count(*) AS count_1 \nFROM tasks \nWHERE tasks.user_id = $1::VARCHAR"
GET = (
    "SELECT tasks.id, tasks.user_id, tasks.title, tasks.description, tasks.completed, "
    "tasks.created_at, tasks.updated_at \nFROM tasks \n"
    "WHERE tasks.user_id = $1::VARCHAR AND tasks.id = $2::INTEGER"
)
INSERT = (
    "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
    "VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::BOOLEAN, "
    "$5::TIMESTAMP WITH TIME ZONE, $6::TIMESTAMP WITH TIME ZONE) "
    "RETURNING tasks.id, tasks.user_id, tasks.title, tasks.description, tasks.completed, "
    "tasks.created_at, tasks.updated_at"
)
TOGGLE = (
    "UPDATE tasks SET completed=NOT tasks.completed, updated_at=$1::TIMESTAMP WITH TIME ZONE "
    "WHERE tasks.user_id = $2::VARCHAR AND tasks.id = $3::INTEGER "
    "RETURNING tasks.id, tasks.user_id, tasks.title, tasks.description, tasks.completed, "
    "tasks.created_at, tasks.updated_at"
)
NOTIFY = "SELECT pg_notify($1::VARCHAR, $2::VARCHAR) AS pg_notify_1"
CHANNEL = "taskql_task_events"


class Verifier:
    def __init__(self, secret: str, base_url: str) -> None:
        self.issuer = self.audience = base_url
        self.hs256 = jwk.construct(secret, "HS256")
        key_set = httpx.get(f"{base_url}/api/auth/jwks", timeout=5).json()
        self.eddsa = {key["kid"]: jwk.construct(key, "EdDSA") for key in key_set["keys"]}

    def verify(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        key = self.hs256 if alg == "HS256" else self.eddsa.get(header.get("kid"))
        if key is None or alg not in ("HS256", "EdDSA"):
            raise JWTError("no key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=self.audience,
            issuer=self.issuer,
            options={"leeway": 30, "require_exp": True, "require_sub": True},
        )
        return claims


def task_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "userId": row["user_id"],
        "title": row["title"],
        "description": row["description"],
        "completed": row["completed"],
        "createdAt": row["created_at"].isoformat(),
        "updatedAt": row["updated_at"].isoformat(),
    }


def cursor(row: asyncpg.Record) -> str:
    raw = json.dumps(["CREATED_AT_DESC", row["created_at"].isoformat(), row["id"]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def notice(kind: str, row: asyncpg.Record) -> str:
    task = task_json(row)
    body = {"type": kind, "id": row["id"], "user": row["user_id"], "task": task}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


async def tasks(conn: asyncpg.Connection, user: str, variables: dict[str, Any]) -> Any:
    first = int(variables.get("first") or 20)
    rows = await conn.fetch(LIST, user, first + 1)
    total = await conn.fetchval(COUNT, user)
    items = rows[:first]
    page = {"hasNextPage": len(rows) > first, "endCursor": cursor(items[-1]) if items else None}
    return {"tasks": {"items": [task_json(r) for r in items], "total": total, "pageInfo": page}}


async def task(conn: asyncpg.Connection, user: str, variables: dict[str, Any]) -> Any:
    row = await conn.fetchrow(GET, user, int(variables["id"]))
    return {"task": task_json(row) if row else None}


async def create(conn: asyncpg.Connection, user: str, variables: dict[str, Any]) -> Any:
    title = str(variables["input"]["title"]).strip()
    if not 1 <= len(title) <= 200:
        raise ValueError("title")
    now = datetime.now(UTC)
    row = await conn.fetchrow(INSERT, user, title, None, False, now, now)
    await conn.fetchval(NOTIFY, CHANNEL, notice("CREATED", row))
    return {"createTask": task_json(row)}


async def toggle(conn: asyncpg.Connection, user: str, variables: dict[str, Any]) -> Any:
    row = await conn.fetchrow(TOGGLE, datetime.now(UTC), user, int(variables["id"]))
    await conn.fetchval(NOTIFY, CHANNEL, notice("UPDATED", row))
    return {"toggleTaskComplete": task_json(row)}


Handler = Callable[[asyncpg.Connection, str, dict[str, Any]], Awaitable[Any]]
READS: dict[str, Handler] = {"ListTasks": tasks, "GetTask": task}
WRITES: dict[str, Handler] = {"CreateTask": create, "ToggleTaskComplete": toggle}


def build(database_url: str, verifier: Verifier, meter: JwtMeter) -> Starlette:
    verify = meter.measure(verifier.verify)
    pool: asyncpg.Pool | None = None

    async def graphql(request: Request) -> JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = verify(token)
        except JWTError:
            return JSONResponse({"errors": [{"message": "Invalid token"}]}, status_code=401)
        body = await request.json()
        variables = body.get("variables") or {}
        if scheme != "Bearer" or variables.get("userId") != claims["sub"]:
            return JSONResponse({"data": None, "errors": [{"message": "denied"}]}, 403)
        name = body.get("operationName")
        handler = READS.get(name) or WRITES[name]
        assert pool is not None
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                data = await handler(conn, claims["sub"], variables)
            except BaseException:
                await transaction.rollback()
                raise
            if name in WRITES:
                await transaction.commit()
            else:
                await transaction.rollback()  # what SQLAlchemy does when a read session closes
        return JSONResponse({"data": data})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=20)
        try:
            yield
        finally:
            await pool.close()

    routes = [
        Route("/graphql", graphql, methods=["POST"]),
        Route("/bench-stats", meter.endpoint),
        Route("/healthz", lambda _: JSONResponse({"status": "ok"})),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    args = server_arguments()
    verifier = Verifier(os.environ["BETTER_AUTH_SECRET"], os.environ["BETTER_AUTH_URL"])
    app = build(os.environ["BENCH_ASYNCPG_DSN"], verifier, JwtMeter())
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
