#!/bin/sh
# One command for the benchmark: `bench/run.sh [--duration 10] [--soak 300] ...` (see --help).
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench "$@"
