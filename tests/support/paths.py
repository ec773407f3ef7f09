"""Where things are in the repository, for code that runs from anywhere."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema.graphql"
OPERATIONS = REPO / "tests" / "contract" / "operations"  # the front end's documents
OUTPUT = REPO / "test-output"  # screenshots and logs worth keeping after a run
