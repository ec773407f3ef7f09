"""`python -m bench`: taskql against the floor it is built on, on PostgreSQL, over loopback.

Seeds a throwaway database (1,000 users × 50 tasks), starts taskql (as `taskql serve` runs it)
and the reference app (bench/reference_app.py), drives both with wrk for a fixed time per
scenario and token algorithm, and prints req/s, latency, server CPU per request, the JWT share
of that CPU, RSS, and taskql's throughput per core as a ratio of the floor's.
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

import httpx

from bench import report, seed
from bench.issuer import ALGORITHMS, Issuer
from bench.operations import OPERATIONS, request_body, write_for_wrk
from bench.processes import OPERATIONS_FILE, RssSampler, Server, run_wrk, start_server, wrk_path
from tests.support.databases import plain_url
from tests.support.paths import REPO

SCENARIOS = tuple(OPERATIONS)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="seconds per server and token")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, pooled (noisy hosts)")
    parser.add_argument("--soak", type=int, default=0, help="then run taskql this long (RSS)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tasks-per-user", type=int, default=50)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
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
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = args.out or REPO / "bench" / "results" / stamp
    out.mkdir(parents=True, exist_ok=True)
    measured = len(args.algorithms) * (
        args.warmup * 2 + args.repeat * len(args.scenarios) * 2 * (args.duration + 2)
    )
    lifetime = measured * 1.5 + args.soak + 180  # generous: a deadline, not a schedule
    with ExitStack() as stack:
        issuer = Issuer()
        issuer.start()
        stack.callback(issuer.stop)
        database_url = stack.enter_context(_database(args.users, args.tasks_per_user, out))
        users_files = _write_users(out, issuer, int(lifetime) + 3600)
        floor, taskql = _start_servers(stack, issuer, database_url, lifetime, out)
        for server in (floor, taskql):
            for algorithm in args.algorithms:
                _probe(server, users_files[algorithm], args.scenarios)
        print(_banner(args), flush=True)
        with RssSampler([floor, taskql]):
            measurements = _measure(args, [floor, taskql], users_files)
            soak = _soak(args, taskql, users_files) if args.soak > 0 else None
        _report(out, args, measurements, soak)


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
    """A users file per algorithm, and the operations file load.lua reads beside them."""
    write_for_wrk(out / OPERATIONS_FILE)
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


def _start_servers(
    stack: ExitStack, issuer: Issuer, database_url: str, lifetime: float, out: Path
) -> tuple[Server, Server]:
    auth = {"BETTER_AUTH_SECRET": issuer.secret, "BETTER_AUTH_URL": issuer.url}
    floor_env = {**auth, "BENCH_ASYNCPG_DSN": plain_url(database_url)}
    floor = start_server("floor", "bench.reference_app", floor_env, lifetime, out)
    stack.callback(floor.stop, 20)
    taskql_env = {**auth, "DATABASE_URL": database_url, "TASKQL_ENV": "production"}
    taskql = start_server("taskql", "bench.taskql_server", taskql_env, lifetime, out)
    stack.callback(taskql.stop, 20)
    return floor, taskql


def _probe(server: Server, users_file: Path, scenarios: list[str]) -> None:
    token, user, task_ids = users_file.read_text().splitlines()[0].split()
    for scenario in scenarios:
        response = httpx.post(
            f"{server.url}/graphql",
            json=request_body(scenario, user, task_ids.split(",")[0]),
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors") or not all(body["data"].values()):
            raise SystemExit(f"bench: {server.name} answered {scenario} with {response.text}")


def _measure(
    args: argparse.Namespace, servers: list[Server], users_files: dict[str, Path]
) -> list[report.Measurement]:
    # Warm every server with every token first (the verifier cache, pools, CPU caches); then
    # measure each scenario with both tokens on both servers back to back, in a snake order
    # (HS256 floor, HS256 taskql, EdDSA taskql, EdDSA floor) so that both comparisons that
    # matter, taskql/floor and taskql's EdDSA/HS256, are between neighbouring runs. Each round
    # swaps which token goes first: a write scenario's later runs find a table its earlier runs
    # grew, and ran measurably slower for it (createTask: whichever token went second).
    for algorithm in args.algorithms:
        for server in servers:
            run_wrk(server.url, users_files[algorithm], "mixed", args.warmup, args.connections)
    runs: dict[tuple[str, str, str], list[report.Measurement]] = {}
    for round_ in range(args.repeat):
        algorithms = args.algorithms if round_ % 2 == 0 else args.algorithms[::-1]
        for scenario in args.scenarios:
            for turn, algorithm in enumerate(algorithms):
                for server in servers if turn % 2 == 0 else servers[::-1]:
                    run = _once(args, server, algorithm, scenario, users_files[algorithm])
                    print(f"  {algorithm:6} {scenario:7} {server.name:7} {run.rps:7.0f} req/s "
                          f"p99 {run.p99_ms:7.2f} ms", flush=True)  # fmt: skip
                    runs.setdefault((scenario, algorithm, server.name), []).append(run)
                    time.sleep(1)  # let the database settle between runs
    measurements = [report.Measurement.pooled(case) for case in runs.values()]
    return measurements


def _once(
    args: argparse.Namespace, server: Server, algorithm: str, scenario: str, users: Path
) -> report.Measurement:
    cpu, jwt = server.cpu_seconds(), server.jwt_stats()["jwt_cpu_seconds"]
    result = run_wrk(server.url, users, scenario, args.duration, args.connections)
    cpu, jwt = server.cpu_seconds() - cpu, server.jwt_stats()["jwt_cpu_seconds"] - jwt
    return report.Measurement(
        algorithm=algorithm,
        scenario=scenario,
        server=server.name,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        cpu_seconds=cpu,
        jwt_cpu_seconds=jwt,
        non_2xx=result["non_2xx"],
        socket_errors=result["socket_errors"],
        rss_mb=server.rss_mb(),
    )


def _soak(args: argparse.Namespace, taskql: Server, users_files: dict[str, Path]) -> report.Soak:
    algorithm = args.algorithms[-1]
    print(f"bench: soak, taskql, mixed operations, {algorithm}, {args.soak:.0f}s", flush=True)
    started = time.monotonic()
    result = run_wrk(taskql.url, users_files[algorithm], "mixed", args.soak, args.connections)
    samples = [(at - started, mb) for at, mb in taskql.rss_samples if at >= started]
    settled = [mb for at, mb in samples if at >= min(30.0, args.soak / 10)]
    return report.Soak(
        seconds=result["duration_us"] / 1e6,
        requests=result["requests"],
        non_2xx=result["non_2xx"] + result["socket_errors"],
        rss_start_mb=settled[0],
        rss_end_mb=settled[-1],
        rss_max_mb=max(mb for _, mb in samples),
        timeline=samples[:: max(1, len(samples) // 20)],
    )


def _banner(args: argparse.Namespace) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"bench: {args.users} users × {args.tasks_per_user} tasks, wrk 1 thread × "
        f"{args.connections} connections, {args.duration:.0f}s per run, "
        f"{len(_cpus())} CPUs ({cpu}), Python {platform.python_version()}"
    )


def _cpus() -> list[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return [line for line in text.splitlines() if line.startswith("processor")]


def _report(
    out: Path,
    args: argparse.Namespace,
    measurements: list[report.Measurement],
    soak: report.Soak | None,
) -> None:
    verdicts = report.verdicts(measurements, soak)
    print()
    print(report.table(measurements))
    print(report.jwt_shares(measurements))
    print()
    print(report.render_verdicts(verdicts))
    if soak is not None:
        print(
            "  RSS timeline (s, MB): " + ", ".join(f"{t:.0f}:{mb:.1f}" for t, mb in soak.timeline)
        )
    results = {
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "measurements": [m.as_dict() for m in measurements],
        "soak": None if soak is None else {**soak.__dict__, "drift": soak.drift},
        "verdicts": [{"target": text, "met": met} for text, met in verdicts],
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nbench: results and server logs in {out}")


if __name__ == "__main__":
    main()
