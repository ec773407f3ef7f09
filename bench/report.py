"""Turns measurements into the tables the benchmark prints: per run, ratios, paced, workers."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

LABELS = {
    "tasks": "tasks(first: 20)",
    "task": "task(id)",
    "create": "createTask",
    "createKeyed": "createTask+key",
    "toggle": "toggleTaskComplete",
}


@dataclass(frozen=True)
class Measurement:
    algorithm: str
    scenario: str
    server: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float
    jwt_cpu_seconds: float
    non_2xx: int
    socket_errors: int
    rss_mb: float
    phase: str = "load"  # "load": as fast as answered; "paced": a fixed rate; "workers"
    rate: float = 0.0  # the rate asked for, if paced

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def per_core(self) -> float:
        """Requests per second of server CPU: throughput if the server had one core to itself."""
        return self.requests / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def per_core_without_jwt(self) -> float:
        """Throughput per core had token verification cost nothing (the meter's CPU removed)."""
        cpu = self.cpu_seconds - self.jwt_cpu_seconds
        return self.requests / cpu if cpu > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.requests * 1e6 if self.requests else 0.0

    @property
    def cores(self) -> float:
        """How many cores the server kept busy on average."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def jwt_share(self) -> float:
        return self.jwt_cpu_seconds / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    @classmethod
    def pooled(cls, runs: list[Measurement]) -> Measurement:
        """Repeated runs of one case as one: counts and CPU added up, latencies their median."""
        first = runs[0]
        return cls(
            algorithm=first.algorithm,
            scenario=first.scenario,
            server=first.server,
            requests=sum(run.requests for run in runs),
            seconds=sum(run.seconds for run in runs),
            p50_ms=statistics.median(run.p50_ms for run in runs),
            p99_ms=statistics.median(run.p99_ms for run in runs),
            cpu_seconds=sum(run.cpu_seconds for run in runs),
            jwt_cpu_seconds=sum(run.jwt_cpu_seconds for run in runs),
            non_2xx=sum(run.non_2xx for run in runs),
            socket_errors=sum(run.socket_errors for run in runs),
            rss_mb=runs[-1].rss_mb,
            phase=first.phase,
            rate=first.rate,
        )

    def as_dict(self) -> dict[str, Any]:
        extra = {"rps": self.rps, "per_core": self.per_core, "cpu_us_per_request": self.cpu_us}
        return {**asdict(self), **extra, "jwt_cpu_share": self.jwt_share}


@dataclass(frozen=True)
class Soak:
    seconds: float
    requests: int
    non_2xx: int
    rss_start_mb: float
    rss_end_mb: float
    rss_max_mb: float
    timeline: list[tuple[float, float]]

    @property
    def drift(self) -> float:
        return (self.rss_end_mb - self.rss_start_mb) / self.rss_start_mb


def find(
    measurements: list[Measurement], phase: str, scenario: str, algorithm: str, server: str
) -> Measurement | None:
    for m in measurements:
        if (m.phase, m.scenario, m.algorithm, m.server) == (phase, scenario, algorithm, server):
            return m
    return None


def table(measurements: list[Measurement]) -> str:
    head = (
        f"{'alg':6} {'scenario':24} {'server':12} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU µs/req':>10} {'req/s/core':>10} {'cores':>5} {'JWT CPU':>7} {'RSS MB':>6} "
        f"{'errors':>6}"
    )
    lines = [head, "-" * len(head)]
    for m in measurements:
        scenario = LABELS[m.scenario] + (f" @{m.rate:.0f}/s" if m.phase == "paced" else "")
        lines.append(
            f"{m.algorithm:6} {scenario:24} {m.server:12} {m.rps:7.0f} {m.p50_ms:7.1f} "
            f"{m.p99_ms:7.1f} {m.cpu_us:10.0f} {m.per_core:10.0f} {m.cores:5.2f} "
            f"{m.jwt_share:7.1%} {m.rss_mb:6.0f} {m.errors:6d}"
        )
    return "\n".join(lines)


def ratios(measurements: list[Measurement]) -> str:
    """taskql's throughput per core over PostGraphile's and over the floor's, per scenario.

    The middle column is over PostGraphile's with its metered JWT CPU taken out: jsonwebtoken 9
    first tries a string secret as a PEM public key (createPublicKey, slow on OpenSSL 3) on every
    request, which PostGraphile's option types leave no way around.
    """
    head = (
        f"{'scenario':18} {'alg':6} {'taskql ÷ PostGraphile':>21} {'(PG without JWT)':>16} "
        f"{'taskql ÷ floor':>14}"
    )
    lines = ["Throughput per core (requests per server-CPU-second), same run:", head]
    for m in measurements:
        if m.phase != "load" or m.server != "taskql":
            continue
        graphile = find(measurements, "load", m.scenario, m.algorithm, "postgraphile")
        floor = find(measurements, "load", m.scenario, m.algorithm, "floor")
        cells = [
            _ratio(m.per_core, graphile.per_core if graphile else 0),
            _ratio(m.per_core, graphile.per_core_without_jwt if graphile else 0),
            _ratio(m.per_core, floor.per_core if floor else 0),
        ]
        lines.append(
            f"{LABELS[m.scenario]:18} {m.algorithm:6} {cells[0]:>21} {cells[1]:>16} {cells[2]:>14}"
        )
    return "\n".join(lines)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def jwt_shares(measurements: list[Measurement]) -> str:
    """The JWT share of request CPU per server and algorithm, over every scenario."""
    parts = []
    for server in ("floor", "taskql", "postgraphile"):
        for algorithm in sorted({m.algorithm for m in measurements}):
            runs = _load_runs(measurements, server, algorithm)
            share = jwt_share(measurements, server, algorithm)
            if share is not None:
                per_request = sum(m.jwt_cpu_seconds for m in runs) / sum(m.requests for m in runs)
                parts.append(f"{server} {algorithm} {share:.1%} ({per_request * 1e6:.0f} µs/req)")
    return "JWT share of server CPU: " + ", ".join(parts)


def jwt_share(measurements: list[Measurement], server: str, algorithm: str) -> float | None:
    """JWT verification's share of `server`'s CPU over every load scenario with `algorithm`."""
    runs = _load_runs(measurements, server, algorithm)
    cpu = sum(m.cpu_seconds for m in runs)
    return sum(m.jwt_cpu_seconds for m in runs) / cpu if cpu else None


def _load_runs(measurements: list[Measurement], server: str, algorithm: str) -> list[Measurement]:
    return [
        m for m in measurements if (m.server, m.algorithm, m.phase) == (server, algorithm, "load")
    ]
