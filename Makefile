# One entry point for people and CI: `make serve`, `make test`. Each installs what it needs.
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install serve test lint typecheck schema

help: ## list what you can do
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev
	touch $@

install: $(VENV)/.synced ## create .venv with the locked dependencies

serve: install ## serve on 127.0.0.1:8000 (embedded SQLite unless DATABASE_URL is set)
	$(VENV)/bin/taskql serve

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

schema: install ## regenerate schema.graphql from the code
	$(VENV)/bin/taskql export-schema

test: lint ## lint, type-check, then the whole suite on SQLite and PostgreSQL
	$(VENV)/bin/pytest
