"""Behaviour behind the schema: owner-scoped reads and writes of tasks."""
