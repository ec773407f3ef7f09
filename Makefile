# One entry point for people and CI: `make serve`, `make test`. Each installs what it needs.
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install serve test test-setup lint typecheck schema

help: ## list what you can do
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Serving needs the runtime only; the tests and linters need the dev extra too.
$(VENV)/.synced-runtime: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --inexact
	touch $@

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev
	touch $@ $(VENV)/.synced-runtime

install: $(VENV)/.synced ## create .venv with the locked dependencies, dev tools included

serve: $(VENV)/.synced-runtime ## serve on 127.0.0.1:8000 (embedded SQLite unless DATABASE_URL is set)
	$(VENV)/bin/taskql serve

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

schema: install ## regenerate schema.graphql from the code and trusted-documents.json from the operations
	$(VENV)/bin/taskql export-schema
	$(VENV)/bin/taskql export-documents

test-setup: ## start PostgreSQL and install the Debian packages the tests need, when missing
	bash scripts/test-setup.sh

test: lint test-setup ## lint, type-check, then the whole suite on SQLite and PostgreSQL
	$(VENV)/bin/pytest
