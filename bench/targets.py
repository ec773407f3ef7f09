"""The targets a run is judged by, each "met" or "missed by" how much (from one run's numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.report import LABELS, Measurement, Soak, find, jwt_share

# taskql's throughput per core at least this many times PostGraphile's / the floor's.
OVER_POSTGRAPHILE = {"tasks": 1.5, "task": 1.0, "create": 1.0}
OVER_FLOOR = {"tasks": 0.5, "task": 0.4, "create": 0.4, "toggle": 0.4}
PACED_RATE = 300  # requests per second, all connections together
PACED_ACHIEVED = 0.95  # a paced run that fell this far short of its rate judges nothing
WORKERS_SCALING = 1.7  # two workers' req/s over one's
RSS_DRIFT = 0.10
JWT_SHARE = 0.01
EDDSA_OVER_HS256 = 0.90


@dataclass(frozen=True)
class Verdict:
    target: str
    value: str
    met: bool | None  # None: this run could not tell
    missed_by: str = ""

    def render(self) -> str:
        mark = {True: "met", False: "MISSED", None: "n/a"}[self.met]
        tail = f", missed by {self.missed_by}" if self.met is False else ""
        return f"  [{mark:6}] {self.target}: {self.value}{tail}"


def at_least(target: str, value: float, floor: float) -> Verdict:
    shortfall = f"{floor - value:.2f}x ({1 - value / floor:.0%} short)"
    return Verdict(f"{target} >= {floor:.2f}x", f"{value:.2f}x", value >= floor, shortfall)


def not_run(target: str, why: str) -> Verdict:
    return Verdict(target, why, None)


def verdicts(measurements: list[Measurement], soak: Soak | None) -> list[Verdict]:
    return [
        *_per_core(measurements),
        *_paced(measurements),
        _workers(measurements),
        _rss(soak),
        *_jwt(measurements),
        *_eddsa(measurements),
        _errors(measurements, soak),
    ]


def _per_core(measurements: list[Measurement]) -> list[Verdict]:
    results = []
    cases = {(m.scenario, m.algorithm) for m in measurements}
    for scenario, algorithm in sorted(
        cases, key=lambda case: (list(LABELS).index(case[0]), case[1] != "HS256")
    ):
        taskql = find(measurements, "load", scenario, algorithm, "taskql")
        for server, wanted in (("postgraphile", OVER_POSTGRAPHILE), ("floor", OVER_FLOOR)):
            them = find(measurements, "load", scenario, algorithm, server)
            if taskql and them and scenario in wanted:
                target = f"{LABELS[scenario]} {algorithm}: taskql ÷ {server} per core"
                results.append(at_least(target, taskql.per_core / them.per_core, wanted[scenario]))
    return results


def _paced(measurements: list[Measurement]) -> list[Verdict]:
    results = []
    for algorithm in sorted({m.algorithm for m in measurements if m.phase == "paced"}):
        taskql = find(measurements, "paced", "tasks", algorithm, "taskql")
        them = find(measurements, "paced", "tasks", algorithm, "postgraphile")
        target = f"paced {PACED_RATE}/s tasks(first: 20) {algorithm}: taskql p99 <= PostGraphile's"
        if taskql is None or them is None:
            continue
        short = [m.server for m in (taskql, them) if m.rps < m.rate * PACED_ACHIEVED]
        value = f"{taskql.p99_ms:.1f} ms vs {them.p99_ms:.1f} ms"
        if short:
            results.append(not_run(target, f"{value}, but {', '.join(short)} fell behind the rate"))
            continue
        over = f"{taskql.p99_ms - them.p99_ms:.1f} ms ({taskql.p99_ms / them.p99_ms - 1:.0%})"
        results.append(Verdict(target, value, taskql.p99_ms <= them.p99_ms, over))
    if not results:
        results.append(not_run(f"paced {PACED_RATE}/s p99", "not run (needs PostGraphile)"))
    return results


def _workers(measurements: list[Measurement]) -> Verdict:
    one = next((m for m in measurements if m.phase == "workers" and m.server == "serve-1w"), None)
    two = next((m for m in measurements if m.phase == "workers" and m.server == "serve-2w"), None)
    target = "taskql serve --workers 2 ÷ --workers 1, req/s"
    if one is None or two is None:
        return not_run(target, "not run")
    verdict = at_least(target, two.rps / one.rps, WORKERS_SCALING)
    cores = f" (server cores busy: {one.cores:.2f} and {two.cores:.2f})"
    return Verdict(verdict.target, verdict.value + cores, verdict.met, verdict.missed_by)


def _rss(soak: Soak | None) -> Verdict:
    target = f"taskql RSS flat over a soak (within ±{RSS_DRIFT:.0%})"
    if soak is None:
        return not_run(target, "not run (use --soak 300)")
    value = (
        f"{soak.rss_start_mb:.1f} -> {soak.rss_end_mb:.1f} MB (max {soak.rss_max_mb:.1f}) over "
        f"{soak.seconds:.0f}s, drift {soak.drift:+.1%}"
    )
    missed = f"{abs(soak.drift) - RSS_DRIFT:.1%} points"
    return Verdict(target, value, abs(soak.drift) <= RSS_DRIFT, missed)


def _jwt(measurements: list[Measurement]) -> list[Verdict]:
    results = []
    for algorithm in sorted({m.algorithm for m in measurements}):
        share = jwt_share(measurements, "taskql", algorithm)
        if share is not None:
            target = f"JWT share of taskql's request CPU, {algorithm}, <= {JWT_SHARE:.0%}"
            missed = f"{share - JWT_SHARE:.2%} points"
            results.append(Verdict(target, f"{share:.2%}", share <= JWT_SHARE, missed))
    return results


def _eddsa(measurements: list[Measurement]) -> list[Verdict]:
    results = []
    for scenario in LABELS:
        hs = find(measurements, "load", scenario, "HS256", "taskql")
        ed = find(measurements, "load", scenario, "EdDSA", "taskql")
        if hs and ed:
            target = f"{LABELS[scenario]}: taskql EdDSA ÷ HS256 per core"
            results.append(at_least(target, ed.per_core / hs.per_core, EDDSA_OVER_HS256))
    return results


def _errors(measurements: list[Measurement], soak: Soak | None) -> Verdict:
    errors = sum(m.errors for m in measurements) + (soak.non_2xx if soak else 0)
    return Verdict("non-2xx responses and socket errors", str(errors), errors == 0, str(errors))
