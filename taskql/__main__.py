"""`python -m taskql` is the `taskql` command."""

from taskql.cli import main

main()
