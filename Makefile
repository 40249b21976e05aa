# kflow: `make run` to try it, `make test` to check it. `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEV_ENV := KFLOW_CONFIG=config/development.toml
HOST ?= 127.0.0.1
PORT ?= 5000

.DEFAULT_GOAL := help

# Running kflow needs kflow and its dependencies only; the test and lint tools (Playwright,
# schemathesis, ruff, mypy, ...) are installed by the targets that use them.
$(BIN)/kflow: setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $(BIN)/kflow

DEV_STAMP := $(VENV)/.dev-installed

$(DEV_STAMP): $(BIN)/kflow setup.cfg
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	@touch $@

.PHONY: venv
venv: $(BIN)/kflow ## Create the virtual environment and install kflow (what running it needs)

.PHONY: dev
dev: venv $(DEV_STAMP) ## Also install the test and lint tools (make test and make lint do it)

##@ Use

.PHONY: run
run: venv ## Migrate and seed a local SQLite database, then serve the UI (PORT=5000, HOST=127.0.0.1)
	$(DEV_ENV) $(BIN)/kflow db upgrade
	$(DEV_ENV) $(BIN)/kflow demo
	@echo
	@echo "kflow is starting at http://$(HOST):$(PORT)/  (Ctrl-C stops it; mail goes to instance/outbox/)"
	@echo "Try the API:  curl -s -H \"Authorization: Bearer \$$($(DEV_ENV) $(BIN)/kflow token create samordnare.vgr@demo.kflow.se 2>/dev/null | tail -1)\" http://$(HOST):$(PORT)/api/v1/inbox"
	@$(DEV_ENV) $(BIN)/kflow scheduler & scheduler=$$!; \
	  trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	  $(DEV_ENV) $(BIN)/kflow serve --host $(HOST) --port $(PORT)

.PHONY: migrate
migrate: venv ## Migrate the configured database to the newest schema
	$(BIN)/kflow db upgrade

.PHONY: checkdb
checkdb: venv ## Migrate, then fail if the models and the migrations differ
	$(BIN)/kflow db upgrade
	$(BIN)/kflow db check

##@ Measure

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(BIN)/kflow setup.cfg
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bench]'
	@touch $@

.PHONY: bench
bench: venv $(BENCH_STAMP) ## Full benchmarks (~5 min): benchmarks/results.json, docs/benchmarks.md
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

.PHONY: bench-scale
bench-scale: venv $(BENCH_STAMP) ## PostgreSQL to 3.1M cases and pages through HTTP (~17 min once its data sets are kept; first build ~15 min more)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; } || \
	  { echo "bench-scale needs wrk (Debian: apt-get install wrk)"; exit 1; }
	$(BIN)/python -m benchmarks.scale $(BENCH_ARGS)

.PHONY: bench-quick
bench-quick: venv $(BENCH_STAMP) ## Benchmark smoke run (tiny counts; BENCH_OUT=dir keeps the output)
	$(BIN)/python -m benchmarks --quick $(if $(BENCH_OUT),--out $(BENCH_OUT)/results.json --md $(BENCH_OUT)/benchmarks.md) $(BENCH_ARGS)

##@ Develop

# The OpenID Connect provider the single sign-on tests start (tests/oidc: oidc-provider on
# Node.js). Without npm those tests are skipped, and say so.
OIDC_STAMP := tests/oidc/node_modules/.package-lock.json

$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests/oidc --no-audit --no-fund; \
	else \
	  echo "npm not found: the OpenID Connect tests will be skipped (install nodejs and npm)"; \
	fi

.PHONY: test
test: dev $(OIDC_STAMP) ## Run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: lint
lint: dev ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: fmt
fmt: dev ## Format and auto-fix the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)
