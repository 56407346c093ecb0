# HazChem Safety Platform. `make help` lists the targets.
SHELL := /bin/bash
PY_BOOT ?= python3
UV_VERSION := 0.13.8
UV := .cache/bootstrap/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export UV_CACHE_DIR ?= $(CURDIR)/.cache/uv

.DEFAULT_GOAL := help
.PHONY: help install jars up down status demo test test-unit test-integration lint format bench bench-docs docs clean

help: ## List every target with a one-line description
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	@mkdir -p .cache/bootstrap
	$(PY_BOOT) -m pip install --quiet --disable-pip-version-check --target .cache/bootstrap uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev
	@touch $@

install: $(VENV)/.installed ## Create .venv from the lock file (uv) with the `hazchem` command

jars: install ## Fetch the JVM artifacts (Kafka broker, Flink Kafka connector) from Maven Central
	$(BIN)/python -c "from pipelines.settings import get_settings as g; from pipelines.services import kafka, flink; s=g(); kafka.fetch_jars(s); flink.fetch_jars(s); print('jars ready')"

up: install ## Start the local Kafka broker and create the declared topics
	$(BIN)/hazchem up

down: install ## Stop streaming jobs and Kafka
	$(BIN)/hazchem down

status: install ## Broker/job health, records per topic, ingest reconciliation
	$(BIN)/hazchem status

demo: install ## The main job: simulated plant -> Kafka -> Flink alarm job -> summary (~3 min)
	$(BIN)/hazchem demo

test: install jars ## Unit + integration tests on real engines (Kafka, Flink, Spark, Trino, dbt)
	$(BIN)/hazchem secrets init
	$(BIN)/pytest -q -p no:cacheprovider --durations=15 tests

test-unit: install ## Unit tests only (no services)
	$(BIN)/pytest -q -m "not integration and not e2e" tests

lint: install ## ruff lint + format check
	$(BIN)/ruff check pipelines streaming_jobs batch_jobs dags tests bench
	$(BIN)/ruff format --check pipelines streaming_jobs batch_jobs dags tests bench

format: install ## Apply ruff formatting and fixes
	$(BIN)/ruff check --fix pipelines streaming_jobs batch_jobs dags tests bench
	$(BIN)/ruff format pipelines streaming_jobs batch_jobs dags tests bench

docs: install ## Regenerate docs/schema_catalog.md from the schema files
	$(BIN)/hazchem schemas docs

bench: install jars ## Benchmarks (simulator, alarm job, risk latency, lakehouse, bronze + gold freshness, auth): bench/results/*.json, then the docs' tables
	@mkdir -p bench/results
	$(BIN)/python bench/simulator_bench.py > /dev/null && cat bench/results/simulator.json
	$(BIN)/python bench/alarms_bench.py > /dev/null && cat bench/results/alarms.json
	$(BIN)/python bench/risk_latency_bench.py > /dev/null && cat bench/results/risk_latency.json
	HAZCHEM_TRINO__HEAP=4g HAZCHEM_TRINO__QUERY_MEMORY=2560MB \
		$(BIN)/python bench/lakehouse_bench.py > /dev/null && cat bench/results/lakehouse.json
	$(BIN)/python bench/lake_freshness_bench.py > /dev/null && cat bench/results/lake_freshness.json
	$(BIN)/python bench/auth_bench.py > /dev/null && cat bench/results/auth.json
	$(MAKE) bench-docs

bench-docs: ## Regenerate the docs' benchmark tables from bench/results/*.json (README, docs/lakehouse.md, docs/alarms.md, docs/security.md)
	$(BIN)/python bench/report.py

clean: ## Stop services and remove run state (keeps downloaded caches)
	-$(BIN)/hazchem down
	rm -rf .cache/run
