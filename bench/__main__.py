"""`python -m bench`: taskql against the floor it is built on and against PostGraphile v4, on
PostgreSQL, over loopback.

Seeds a throwaway database (1,000 users × 50 tasks), starts taskql (as `taskql serve` runs it),
the floor (bench/reference_app.py) and PostGraphile (bench/postgraphile/), each alone on one
pinned core with wrk and PostgreSQL on the other, drives them with wrk for a fixed time per
scenario and token algorithm, then at a fixed rate, then taskql with one and two workers, and
prints req/s, latency, server CPU per request, the JWT share of that CPU, RSS, taskql's
throughput per core over PostGraphile's and the floor's, and each target met or missed.
Every process it starts stops by itself; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import measure, postgraphile_server, report, seed, targets
from bench.issuer import ALGORITHMS, Issuer
from bench.measure import Run
from bench.operations import OPERATIONS, write_for_wrk
from bench.pinning import Layout
from bench.probe import probe
from bench.processes import RssSampler, Server, bounded, start_program, start_server
from bench.wrk import wrk_path
from tests.support.databases import plain_url
from tests.support.network import free_port
from tests.support.paths import REPO
from tests.support.processes import ServerError, venv_command

SCENARIOS = tuple(OPERATIONS)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="seconds per server and token")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, pooled (noisy hosts)")
    parser.add_argument("--soak", type=int, default=0, help="then run taskql this long (RSS)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tasks-per-user", type=int, default=50)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--no-postgraphile", action="store_true", help="taskql and floor only")
    parser.add_argument("--no-paced", action="store_true", help="skip the paced p99 runs")
    parser.add_argument("--no-workers", action="store_true", help="skip --workers 1 vs 2")
    parser.add_argument("--no-pin", action="store_true", help="let the OS place every process")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/<time>")
    args = parser.parse_args()
    args.algorithms = [a for a in args.algorithms.split(",") if a]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.algorithms) - set(ALGORITHMS) | set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown algorithm or scenario: {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = parse_args()
    wrk_path()
    if not args.no_postgraphile:
        postgraphile_server.install()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = args.out or REPO / "bench" / "results" / stamp
    out.mkdir(parents=True, exist_ok=True)
    lifetime = _lifetime(args)
    layout = Layout.choose(not args.no_pin)
    with ExitStack() as stack:
        issuer = Issuer()
        issuer.start()
        stack.callback(issuer.stop)
        database_url = stack.enter_context(_database(args.users, args.tasks_per_user, out))
        users = _write_users(out, issuer, int(lifetime) + 3600)
        auth = {"BETTER_AUTH_SECRET": issuer.secret, "BETTER_AUTH_URL": issuer.url}
        servers = _start_servers(stack, args, auth, database_url, lifetime, layout, out)
        for server in servers:
            for algorithm in args.algorithms:
                probe(server, algorithm, users[algorithm], args.scenarios)
        print(_banner(args, layout), flush=True)
        run = Run(args, users, layout, database_url)
        taskql = next(s for s in servers if s.name == "taskql")
        with RssSampler(servers):
            measurements = measure.under_load(run, servers)
            if not args.no_paced:
                measurements += measure.paced(run, servers)
            soak = measure.soak(run, taskql) if args.soak > 0 else None
        if not args.no_workers:
            measurements += _workers(run, auth, database_url, lifetime, out)
        _report(out, args, measurements, soak)


def _lifetime(args: argparse.Namespace) -> float:
    runs = len(args.algorithms) * len(args.scenarios) * 3 + 3 + 4  # load, paced, workers
    warms = len(args.algorithms) * 3 + 2  # each may be followed by one of up to 60 s
    measured = warms * (args.warmup + 60) + args.repeat * runs * (args.duration + 3)
    lifetime: float = measured * 1.5 + args.soak + 240  # generous: a deadline, not a schedule
    return lifetime


@contextmanager
def _database(users: int, tasks_per_user: int, out: Path) -> Iterator[str]:
    started = time.monotonic()
    url = asyncio.run(seed.create_database())
    try:
        ids = asyncio.run(seed.seed(url, users, tasks_per_user))
        (out / "task-ids.json").write_text(json.dumps(ids))
        print(f"bench: seeded {users} users × {tasks_per_user} tasks in "
              f"{time.monotonic() - started:.1f}s", flush=True)  # fmt: skip
        yield url
    finally:
        asyncio.run(seed.drop_database(url))


def _write_users(out: Path, issuer: Issuer, ttl: int) -> dict[str, Path]:
    """A users file per algorithm, and the operations files load.lua reads beside them."""
    write_for_wrk(out)
    ids: dict[str, list[int]] = json.loads((out / "task-ids.json").read_text())
    files = {}
    for algorithm in ALGORITHMS:
        path = out / f"users-{algorithm}.txt"
        lines = [
            f"{issuer.token(algorithm, user, ttl)} {user} {','.join(map(str, task_ids[:10]))}"
            for user, task_ids in sorted(ids.items())
        ]
        path.write_text("\n".join(lines) + "\n")
        files[algorithm] = path
    return files


def _taskql_env(auth: dict[str, str], database_url: str) -> dict[str, str]:
    return {**auth, "DATABASE_URL": database_url, "TASKQL_ENV": "production"}


def _start_servers(
    stack: ExitStack,
    args: argparse.Namespace,
    auth: dict[str, str],
    database_url: str,
    lifetime: float,
    layout: Layout,
    out: Path,
) -> list[Server]:
    """floor, taskql and PostGraphile, each on the server core, in the order measured."""
    pin = layout.taskset()
    floor_env = {**auth, "BENCH_ASYNCPG_DSN": plain_url(database_url)}
    floor = start_server("floor", "bench.reference_app", floor_env, lifetime, out, wrapper=pin)
    stack.callback(floor.stop, 20)
    taskql_env = _taskql_env(auth, database_url)
    taskql = start_server("taskql", "bench.taskql_server", taskql_env, lifetime, out, wrapper=pin)
    stack.callback(taskql.stop, 20)
    if args.no_postgraphile:
        return [floor, taskql]
    roles = stack.enter_context(postgraphile_server.roles(database_url, seed.SERVER_URL))
    graphile = postgraphile_server.start(roles, database_url, auth, lifetime, out, pin)
    stack.callback(graphile.stop, 20)
    return [floor, taskql, graphile]


def _workers(
    run: Run, auth: dict[str, str], database_url: str, lifetime: float, out: Path
) -> list[report.Measurement]:
    """`taskql serve --workers 1` and `--workers 2`, as shipped (no JWT meter), on every core."""
    with ExitStack() as stack:
        servers = []
        for count in (1, 2):
            port = free_port()
            command = [venv_command("taskql"), "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv = bounded([*command, "--workers", str(count)], lifetime)
            env = _taskql_env(auth, database_url)
            try:
                server = start_program(
                    f"serve-{count}w", argv, env, out, port=port, metered=False, startup_seconds=90
                )
            except ServerError as error:
                # uvicorn kills a worker that does not answer its health check within 5 s
                # (timeout_worker_healthcheck), which a busy host's imports can take.
                first_line = str(error).splitlines()[0]
                print(f"bench: taskql serve --workers {count} did not start, so no workers "
                      f"verdict: {first_line} (see its log)", flush=True)  # fmt: skip
                return []
            stack.callback(server.stop, 20)
            servers.append(server)
        return measure.workers(run, *servers)


def _banner(args: argparse.Namespace, layout: Layout) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"bench: {args.users} users × {args.tasks_per_user} tasks, wrk 1 thread × "
        f"{args.connections} connections, {args.duration:.0f}s per run, "
        f"{len(layout.all)} CPUs ({cpu}), {layout.describe()}, "
        f"Python {platform.python_version()}"
    )


def _report(
    out: Path,
    args: argparse.Namespace,
    measurements: list[report.Measurement],
    soak: report.Soak | None,
) -> None:
    verdicts = targets.verdicts(measurements, soak)
    print()
    print(report.table(measurements))
    print()
    print(report.ratios(measurements))
    print()
    print(report.jwt_shares(measurements))
    print("PostGraphile runs with HS256 only: its jsonwebtoken has no EdDSA.")
    print()
    print("Targets:")
    print("\n".join(verdict.render() for verdict in verdicts))
    if soak is not None:
        print(
            "  RSS timeline (s, MB): " + ", ".join(f"{t:.0f}:{mb:.1f}" for t, mb in soak.timeline)
        )
    results = {
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "measurements": [m.as_dict() for m in measurements],
        "soak": None if soak is None else {**soak.__dict__, "drift": soak.drift},
        "verdicts": [verdict.__dict__ for verdict in verdicts],
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nbench: results and server logs in {out}")


if __name__ == "__main__":
    main()
