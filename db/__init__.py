"""Persistence: the task table, engines and sessions, and Alembic migrations."""
