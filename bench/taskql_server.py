"""taskql as `taskql serve` runs it (its app factory, one worker, the same uvicorn options),
plus a meter of the CPU spent verifying tokens."""

from __future__ import annotations

import uvicorn

from bench.instrument import JwtMeter, server_arguments
from taskql.cli import server_options, serving_app
from taskql.settings import Settings


def main() -> None:
    args = server_arguments()

    settings = Settings()
    app = serving_app()
    meter = JwtMeter()
    verifier = app.state.services.verifier
    # The context loader holds this object and calls its `verify`; an instance attribute wins.
    verifier.verify = meter.measure_async(verifier.verify)
    app.add_route("/bench-stats", meter.endpoint)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        timeout_graceful_shutdown=10,
        **server_options(settings),
    )


if __name__ == "__main__":
    main()
