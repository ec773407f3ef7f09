"""The measured runs: every server under full load, a paced load, taskql's workers, the soak."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from bench import report
from bench.operations import supported
from bench.pinning import Layout, pin_backends
from bench.processes import Server
from bench.targets import PACED_RATE
from bench.wrk import run_wrk


@dataclass(frozen=True)
class Run:
    """What every measurement of one benchmark run shares."""

    args: argparse.Namespace
    users: dict[str, Path]  # algorithm -> users file
    layout: Layout
    database_url: str

    def once(
        self,
        server: Server,
        algorithm: str,
        scenario: str,
        *,
        phase: str = "load",
        rate: float = 0,
        pinned: bool = True,
    ) -> report.Measurement:
        cpus = self.layout.load if pinned else self.layout.all
        pin_backends(self.database_url, cpus)
        cpu, jwt = server.cpu_seconds(), server.jwt_stats()["jwt_cpu_seconds"]
        result = run_wrk(
            server.url, self.users[algorithm], scenario, self.args.duration,
            self.args.connections, dialect=server.dialect, rate=rate, cpus=cpus,
        )  # fmt: skip
        cpu, jwt = server.cpu_seconds() - cpu, server.jwt_stats()["jwt_cpu_seconds"] - jwt
        run = report.Measurement(
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
            phase=phase,
            rate=rate,
        )
        print(f"  {algorithm:6} {scenario:7} {server.name:12} {phase:7} {run.rps:7.0f} req/s "
              f"p99 {run.p99_ms:7.2f} ms", flush=True)  # fmt: skip
        time.sleep(1)  # let the database settle between runs
        return run

    def warm(
        self, server: Server, algorithm: str, pinned: bool = True, rounds_of_users: int = 1
    ) -> None:
        """--warmup seconds of mixed requests; again, longer, if that did not reach every user
        `rounds_of_users` times (each run starts from the first user, a token's first use is a
        cache miss, and each of several workers has a cache of its own)."""
        cpus = self.layout.load if pinned else self.layout.all
        args, users = self.args, self.users[algorithm]
        seconds: float = args.warmup
        for _ in range(2):
            result = run_wrk(server.url, users, "mixed", seconds, args.connections,
                             dialect=server.dialect, cpus=cpus)  # fmt: skip
            needed = args.users * rounds_of_users
            if result["requests"] >= needed:
                return
            rate = max(result["requests"] / seconds, 1.0)
            seconds = min(needed / rate * 1.3, 60.0)


def under_load(run: Run, servers: list[Server]) -> list[report.Measurement]:
    """Each scenario with each token on each server that supports it, back to back.

    Every server is warmed with every token first (the verifier cache, pools, JIT, CPU caches);
    then a snake order (HS256 floor, taskql, PostGraphile; EdDSA taskql, floor) keeps each
    comparison that matters between neighbouring runs. Each round swaps which token goes first:
    a write scenario's later runs find a table its earlier runs grew.
    """
    args = run.args
    for algorithm in args.algorithms:
        for server in _serving(servers, algorithm, "tasks"):
            run.warm(server, algorithm)
    runs: dict[tuple[str, str, str], list[report.Measurement]] = {}
    for round_ in range(args.repeat):
        algorithms = args.algorithms if round_ % 2 == 0 else args.algorithms[::-1]
        for scenario in args.scenarios:
            for turn, algorithm in enumerate(algorithms):
                order = servers if turn % 2 == 0 else servers[::-1]
                for server in _serving(order, algorithm, scenario):
                    measured = run.once(server, algorithm, scenario)
                    runs.setdefault((scenario, algorithm, server.name), []).append(measured)
    return [report.Measurement.pooled(case) for case in runs.values()]


def _serving(servers: list[Server], algorithm: str, scenario: str) -> list[Server]:
    return [s for s in servers if supported(s.dialect, algorithm, scenario)]


def paced(run: Run, servers: list[Server]) -> list[report.Measurement]:
    """tasks(first: 20) at PACED_RATE requests per second over all connections, HS256."""
    results = []
    for server in servers:
        results.append(run.once(server, "HS256", "tasks", phase="paced", rate=PACED_RATE))
    return results


def workers(run: Run, one: Server, two: Server) -> list[report.Measurement]:
    """`taskql serve` with one worker and with two, neither pinned: the scaling over cores."""
    runs: dict[str, list[report.Measurement]] = {}
    for server, rounds_of_users in ((one, 1), (two, 3)):
        run.warm(server, "HS256", pinned=False, rounds_of_users=rounds_of_users)
    for round_ in range(run.args.repeat):
        for server in (one, two) if round_ % 2 == 0 else (two, one):
            measured = run.once(server, "HS256", "tasks", phase="workers", pinned=False)
            runs.setdefault(server.name, []).append(measured)
    return [report.Measurement.pooled(case) for case in runs.values()]


def soak(run: Run, taskql: Server) -> report.Soak:
    args = run.args
    algorithm = args.algorithms[-1]
    print(f"bench: soak, taskql, mixed operations, {algorithm}, {args.soak:.0f}s", flush=True)
    pin_backends(run.database_url, run.layout.load)
    started = time.monotonic()
    result = run_wrk(taskql.url, run.users[algorithm], "mixed", args.soak, args.connections,
                     cpus=run.layout.load)  # fmt: skip
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
