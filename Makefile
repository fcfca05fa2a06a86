# Observatorio: the two commands that matter are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo and the tests use synthetic data only, so the public demo pseudonym key is allowed.
export OBSERVATORIO_DEMO ?= 1
export GX_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export XDG_RUNTIME_DIR ?= /tmp/observatorio-runtime-$(shell id -u)

.PHONY: install manifest run test lint lint-types lint-sql indicators airflow bi bi-import bi-stop docs warehouse-stop clean bench-ingest bench-linkage bench-linkage-1m bench-e2e bench-noop bench-celery

$(STAMP): pyproject.toml constraints.txt
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,mysql,celery,fab]'
	@touch $(STAMP)

install: $(STAMP)

## The dbt manifest build_warehouse is rendered from: `dbt parse`, when dbt_project/ changed.
manifest: $(STAMP)
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/python -m observatorio.transform.manifest --if-stale

## The main job, on the embedded warehouse: land exports, run every DAG through Airflow.
run: $(STAMP) manifest
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/observatorio run

## The whole test suite against real PostgreSQL, dbt, Great Expectations and Airflow, in
## TEST_WORKERS pytest-xdist workers (each with its own warehouse and Airflow home; a test
## module, or a folder sharing session fixtures, runs whole in one worker).
# One against an external server: login roles are the server's, shared by every database on it.
TEST_WORKERS ?= $(if $(OBSERVATORIO_WAREHOUSE_URL),1,2)
test: $(STAMP) manifest
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --no-loadscope-reorder

## ruff, then mypy beside sqlfluff (minutes each from a clean clone; sqlfluff in two processes):
## 2m50s on 2 cores, 6 min one after the other.
lint: $(STAMP)
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint-types lint-sql

lint-types: $(STAMP)
	$(BIN)/mypy

## sqlfluff's dbt templater compiles every model with a database connection: on the warehouse.
lint-sql: $(STAMP)
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	cd dbt_project && ../$(BIN)/python -c 'import os; from observatorio.core import warehouse; \
		from observatorio.transform.dbt import dbt_environment; warehouse.ensure_warehouse(); \
		os.environ.update(dbt_environment()); \
		os.execv("../$(BIN)/sqlfluff", ["sqlfluff", "lint", "--processes", "2", "models"])'

## Regenerate what comes from the indicator definitions (dbt_project/indicators/*.yml).
indicators: $(STAMP)
	$(BIN)/python -m observatorio.indicators.generate

## The Airflow UI on 127.0.0.1 (prints the URL and the login; Ctrl-C stops everything).
airflow: $(STAMP)
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/observatorio ui

## Apache Superset on the `bi` schema (own virtualenv, dashboard from bi/superset/dashboard/),
## on 127.0.0.1:8088 as the BI login bi_ministerio_seguridad; needs a built warehouse (`make run`).
bi: $(STAMP)
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/python -m observatorio.bi_client.superset up

## Re-import the dashboard bundle (after editing bi/superset/dashboard/) into a running Superset.
bi-import: $(STAMP)
	$(BIN)/python -m observatorio.bi_client.superset import

bi-stop: $(STAMP)
	$(BIN)/python -m observatorio.bi_client.superset stop

## dbt docs (sources to marts to exposures); prints the page that opens on the lineage graph.
docs: $(STAMP)
	@$(BIN)/python -c 'from observatorio import warehouse, transform; warehouse.ensure_warehouse(); print("dbt docs:", transform.generate_docs())'

warehouse-stop: $(STAMP)
	$(BIN)/observatorio warehouse stop

clean: bi-stop warehouse-stop
	rm -rf .observatorio

bench-ingest: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.ingest

bench-linkage: $(STAMP)
	$(BIN)/python -m bench.linkage --scale small

## Linkage at 1M victim records (a medium simulation stacked over years); ~10 min.
bench-linkage-1m: $(STAMP)
	$(BIN)/python -m bench.linkage --scale medium --out .observatorio/bench/linkage-medium --records 1000000 --results bench/results/linkage_1m.json

## `observatorio run` twice in the current OBSERVATORIO_HOME, the second on an unchanged landing
## folder (a no-op): wall, CPU and each step. Writes bench/results/noop_run.json.
bench-noop: $(STAMP) manifest
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/python -m bench.noop_run --runs 2

## End to end at 1M, 3M and 10M police rows, then the 5,570-municipality country at 1M; hours,
## on demand only (never in CI). Writes bench/results/e2e.json.
bench-e2e: $(STAMP) manifest
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/python -m bench.e2e --rows 1000000 --rows 3000000 --rows 10000000 --partitions
	$(BIN)/python -m bench.e2e --rows 1000000 --municipalities 5570 --departments 27 --partitions

## The pipeline's DAGs (police ingest, build, delivery) through the scheduler on two Celery
## workers (Redis) against an external PostgreSQL: BENCH_PG_SERVER, an administrator's URL
## without a database (its databases observatorio_bench_celery*, dropped after). On demand,
## never in CI; writes bench/results/celery.json.
BENCH_PG_SERVER ?= postgresql://postgres@127.0.0.1:5432
bench-celery: $(STAMP)
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(BIN)/python -m bench.celery_run --server $(BENCH_PG_SERVER) --rows 100000 --rows 1000000
