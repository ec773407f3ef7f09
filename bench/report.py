"""Turns measurements into the table, ratios and target verdicts the benchmark prints."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

TASKS_PER_CORE_TARGET = 0.25
EDDSA_TARGET = 0.90
RSS_DRIFT_TARGET = 0.10


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

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def per_core(self) -> float:
        """Requests per second of server CPU: throughput if the server had one core to itself."""
        return self.requests / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.requests * 1e6 if self.requests else 0.0

    @property
    def jwt_share(self) -> float:
        return self.jwt_cpu_seconds / self.cpu_seconds if self.cpu_seconds else 0.0

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


def table(measurements: list[Measurement]) -> str:
    head = (
        f"{'alg':6} {'scenario':8} {'server':7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU µs/req':>10} {'req/s/core':>10} {'JWT CPU':>8} {'vs floor/core':>13} "
        f"{'non-2xx':>7}"
    )
    lines = [head, "-" * len(head)]
    floors = {(m.algorithm, m.scenario): m for m in measurements if m.server == "floor"}
    for m in measurements:
        floor = floors.get((m.algorithm, m.scenario))
        ratio = f"{m.per_core / floor.per_core:.2f}x" if floor and m.server != "floor" else ""
        lines.append(
            f"{m.algorithm:6} {m.scenario:8} {m.server:7} {m.rps:8.0f} {m.p50_ms:7.2f} "
            f"{m.p99_ms:7.2f} {m.cpu_us:10.0f} {m.per_core:10.0f} {m.jwt_share:8.1%} "
            f"{ratio:>13} {m.non_2xx + m.socket_errors:7d}"
        )
    return "\n".join(lines)


def jwt_shares(measurements: list[Measurement]) -> str:
    """The JWT share of request CPU per server and algorithm, over every scenario."""
    parts = []
    for server in ("floor", "taskql"):
        for algorithm in sorted({m.algorithm for m in measurements}):
            runs = [m for m in measurements if (m.server, m.algorithm) == (server, algorithm)]
            cpu = sum(m.cpu_seconds for m in runs)
            if runs and cpu:
                share = sum(m.jwt_cpu_seconds for m in runs) / cpu
                per_request = sum(m.jwt_cpu_seconds for m in runs) / sum(m.requests for m in runs)
                parts.append(f"{server} {algorithm} {share:.1%} ({per_request * 1e6:.0f} µs/req)")
    return "JWT share of server CPU: " + ", ".join(parts)


def verdicts(measurements: list[Measurement], soak: Soak | None) -> list[tuple[str, bool | None]]:
    """(statement, met?) for each target; None when this run could not tell."""
    results: list[tuple[str, bool | None]] = []
    by_key = {(m.algorithm, m.scenario, m.server): m for m in measurements}
    for algorithm in sorted({m.algorithm for m in measurements}):
        taskql = by_key.get((algorithm, "tasks", "taskql"))
        floor = by_key.get((algorithm, "tasks", "floor"))
        if taskql and floor:
            ratio = taskql.per_core / floor.per_core
            target = f"(target >= {TASKS_PER_CORE_TARGET}x)"
            statement = f"tasks(first: 20) per core, {algorithm}: {ratio:.2f}x the floor {target}"
            results.append((statement, ratio >= TASKS_PER_CORE_TARGET))
    for scenario in sorted({m.scenario for m in measurements}):
        hs = by_key.get(("HS256", scenario, "taskql"))
        ed = by_key.get(("EdDSA", scenario, "taskql"))
        if hs and ed:
            # Per core (requests per server-CPU-second) is what the token cache decides; raw req/s
            # also moves with whatever else the machine runs, so it is shown but not judged.
            ratio = ed.per_core / hs.per_core
            raw = f"raw req/s {ed.rps / hs.rps:.2f}; target >= {EDDSA_TARGET}"
            statement = f"taskql EdDSA/HS256 throughput per core, {scenario}: {ratio:.2f} ({raw})"
            results.append((statement, ratio >= EDDSA_TARGET))
    if soak is None:
        results.append(("RSS flat over a soak: not run (use --soak 300)", None))
    else:
        results.append(
            (
                f"taskql RSS over a {soak.seconds:.0f}s soak: {soak.rss_start_mb:.1f} -> "
                f"{soak.rss_end_mb:.1f} MB (max {soak.rss_max_mb:.1f}), drift {soak.drift:+.1%} "
                f"(target within ±{RSS_DRIFT_TARGET:.0%})",
                abs(soak.drift) <= RSS_DRIFT_TARGET and soak.non_2xx == 0,
            )
        )
    errors = sum(m.non_2xx + m.socket_errors for m in measurements)
    results.append((f"non-2xx responses and socket errors: {errors}", errors == 0))
    return results


def render_verdicts(results: list[tuple[str, bool | None]]) -> str:
    marks = {True: "PASS", False: "FAIL", None: "----"}
    return "\n".join(f"  [{marks[met]}] {statement}" for statement, met in results)
