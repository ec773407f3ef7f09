"""`python -m bench.instructions`: machine instructions per request, counted by callgrind.

CPU time on a shared machine moves by ±15 % from one minute to the next; an instruction count of
the same server, code and requests does not (the same count twice over, whatever else the machine
does). So this is the number to steer optimisations by; `python -m bench` gives the time-based
report. It seeds a throwaway PostgreSQL database, starts taskql (bench/taskql_server.py) under
`valgrind --tool=callgrind`, sends warm-up requests, zeroes the counters, sends the measured
requests, and divides the instructions the server executed meanwhile by their number.
Needs valgrind (Debian: apt-get install -y valgrind). Loopback only; everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench import seed
from bench.issuer import ALGORITHMS, Issuer
from bench.operations import request_body, request_headers
from bench.processes import start_server
from bench.sessions import seed_sessions

# Reads, and creates with and without an Idempotency-Key (the key's cost): a create grows the
# table between the two counts, which the cost of an INSERT on taskql's side does not depend on.
SCENARIOS = ("tasks", "task", "create", "createKeyed", "toggle")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--scenario", choices=SCENARIOS, default="tasks")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="HS256")
    parser.add_argument("--requests", type=int, default=300, help="measured requests")
    parser.add_argument("--warmup", type=int, default=200, help="users, one request each")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="turn the limiter off, to see its cost"
    )
    parser.add_argument(
        "--no-plans",
        action="store_true",
        help="COMPILED_PLANS=false: every operation takes graphql-core's general path",
    )
    parser.add_argument(
        "--sessions",
        choices=("none", "sid", "checked"),
        default="none",
        help="sid: tokens name a Better Auth session; checked: and taskql checks it (SPEC §4)",
    )
    parser.add_argument(
        "--session-check-seconds",
        type=float,
        default=5.0,
        help="SESSION_CHECK_SECONDS for --sessions checked. Under callgrind taskql runs ~50x "
        "slower, so its background refresh (every half of this) comes ~50x as often per "
        "request as at full speed: scale it to see the cost a real server pays",
    )
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is not installed (apt-get install -y valgrind)")
    with ExitStack() as stack:
        out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="taskql-callgrind-")))
        issuer = Issuer()
        issuer.start()
        stack.callback(issuer.stop)
        url = asyncio.run(seed.create_database())
        stack.callback(lambda: asyncio.run(seed.drop_database(url)))
        ids = asyncio.run(seed.seed(url, 1000, 50))
        sids = asyncio.run(seed_sessions(url, ids)) if args.sessions != "none" else {}
        users = [
            (issuer.token(args.algorithm, user, 3600, **_sid(sids, user)), user, task_ids[0])
            for user, task_ids in sorted(ids.items())
        ]
        env = {
            "BETTER_AUTH_SECRET": issuer.secret,
            "BETTER_AUTH_URL": issuer.url,
            "DATABASE_URL": url,
            "TASKQL_ENV": "production",
        }
        if args.no_rate_limits:
            env.update(RATE_LIMIT="", RATE_LIMIT_MUTATIONS="", RATE_LIMIT_ANONYMOUS="")
        if args.no_plans:
            env.update(COMPILED_PLANS="false")
        if args.sessions == "checked":
            env.update(
                BETTER_AUTH_DATABASE_URL=url,
                REQUIRE_SESSION_ID="true",
                SESSION_CHECK_SECONDS=str(args.session_check_seconds),
            )
        wrapper = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p")
        server = start_server("taskql", "bench.taskql_server", env, 1800, out, wrapper=wrapper,
                              startup_seconds=600)  # fmt: skip
        stack.callback(server.stop, 20)
        # The measured requests come from the users of the warm-up, whose tokens are verified
        # by then: taskql verifies a token once in its lifetime, not once a request.
        send = (server.url, users[: args.warmup], args.scenario, args.concurrency)
        asyncio.run(_send(*send, range(args.warmup)))
        _callgrind_control("--zero", server.process.pid)
        asyncio.run(_send(*send, range(args.requests)))
        _callgrind_control("--dump", server.process.pid)
        total = _dumped_instructions(out)
    print(
        f"bench: {args.scenario} with {args.algorithm} tokens (sessions: {args.sessions}), "
        f"{args.requests} requests "
        f"({args.concurrency} at a time) after {args.warmup}: "
        f"{total / args.requests / 1000:,.0f} k instructions per request"
    )


def _sid(sids: dict[str, str], user: str) -> dict[str, str]:
    return {"sid": sids[user]} if user in sids else {}


async def _send(
    base_url: str, users: list[tuple[str, str, int]], scenario: str, concurrency: int,
    numbers: range,
) -> None:  # fmt: skip
    pending = iter(numbers)
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:

        async def worker() -> None:
            for number in pending:
                token, user, task_id = users[number % len(users)]
                response = await http.post(
                    "/graphql",
                    json=request_body(scenario, user, str(task_id)),
                    headers={"authorization": f"Bearer {token}"}
                    | request_headers(scenario, number),
                )
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise SystemExit(f"bench: taskql answered {scenario} with {response.text}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _callgrind_control(action: str, pid: int) -> None:
    subprocess.run(["callgrind_control", action, str(pid)], check=True, capture_output=True)


def _dumped_instructions(out: Path) -> int:
    """The instruction total of the dump taken by --dump (the one since --zero)."""
    for path in out.glob("callgrind.*"):
        text = path.read_text(errors="replace")
        if "Trigger: dump" in text.split("\nfn=", 1)[0]:
            for line in text.splitlines():
                if line.startswith("summary:"):
                    return int(line.split()[1])
    raise SystemExit(f"bench: no callgrind dump in {out}")


if __name__ == "__main__":
    main()
