# htc: two commands do everything — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Tests: one torch/BLAS thread (two cores; oversubscription made small fits ~50x slower).
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/htc
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run install migrate setup serve test test-sqlite test-pg bench lint format clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

setup: migrate
	$(PY) manage.py htc_setup

## make run: venv, install, migrate, admin + demo project, web server, worker and local LLM.
run: setup
	$(PY) manage.py htc_serve

## make test: the whole suite on SQLite, then the database-backed tests again on PostgreSQL + RQ/Redis.
test: install
	$(MAKE) test-sqlite
	$(MAKE) test-pg

test-sqlite: install
	$(TEST_ENV) HTC_DATA_DIR=$$(mktemp -d) DATABASE_URL= REDIS_URL= $(PY) -m pytest $(PYTEST_ARGS)

test-pg: install
	$(TEST_ENV) HTC_DATA_DIR=$$(mktemp -d) DATABASE_URL=$(TEST_PG_URL) REDIS_URL=$(TEST_REDIS_URL) HTC_TASKS_BACKEND=rq \
		$(PY) -m pytest --ignore=tests/engine $(PYTEST_ARGS)

## make bench: writes Markdown tables to benchmarks/results/.
bench: install
	$(PY) -m benchmarks.run $(BENCH_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
