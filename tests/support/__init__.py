"""What the tests and the benchmark share: processes, apps, databases, tokens, waits.

Fixtures live in the conftest.py next to the tests that use them; everything here is plain code
that a conftest, a test module or bench/ imports.
"""
