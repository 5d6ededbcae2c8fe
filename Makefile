# Tsunagu: `make run` (app with demo data on SQLite) and `make test` (the whole suite on PostgreSQL and SQLite).
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Django 6.1 needs Python >= 3.12: take the first interpreter that is new enough.
PYTHON ?= $(shell for c in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.13*/bin/python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	$$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$c; break; }; done)
PG_URL ?= postgres://postgres@127.0.0.1:5432/tsunagu
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock run demo test test-postgres test-sqlite lint typecheck check-deploy format services clean bench

# The virtual environment, from the lock: every package at the version and with the hash that requirements-dev.lock
# names (pip refuses anything else). The lock is the runtime's (requirements.lock, what production installs) plus the
# test and development tools.
install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.lock
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (python3.13 / python3.12 not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# The locks, from pyproject.toml's dependencies (runtime) and requirements-dev.in (tools), by pip-tools in a venv of
# its own. Versions already locked stay unless their range excludes them; to move one:
# `make lock LOCK_ARGS="--upgrade-package django"`, or `LOCK_ARGS=--upgrade` for all. Then `make test`.
LOCK_VENV ?= .venv-lock
PIP_TOOLS ?= pip-tools==7.6.2
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

lock: $(LOCK_VENV)/bin/pip-compile
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --output-file requirements-dev.lock pyproject.toml requirements-dev.in

$(LOCK_VENV)/bin/pip-compile:
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (python3.13 / python3.12 not found)"; exit 1; }
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet "$(PIP_TOOLS)"

run: install demo
	@echo "Tsunagu: http://$(HOST):$(PORT)/  (demo logins: see README.md)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The quick start's database with the demo data, and a local .env (DEBUG=true) that every command run in this
# clone reads (manage.py, celery, the README's commands): the settings take it only where the environment is silent.
demo: .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo

.env:
	printf '%s\n' '# Local development settings, written by make run (git-ignored). The environment wins.' 'DEBUG=true' > $@

services:
	scripts/ensure-services

test: install services lint typecheck check-deploy test-postgres test-sqlite

# Both passes run on pytest-xdist workers (each with its own test database); the browser tests share one worker and
# the tests that start processes of their own another (see tests/conftest.py). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
PARALLEL = -n $(PYTEST_WORKERS) --dist loadgroup

# The PostgreSQL pass runs everything. The SQLite pass (the quick start's database) runs what can differ there:
# every test that uses the database (the ORM, migrations, triggers, transactions); --db-tests-only leaves out the
# tests that cannot reach it, which are the same on either engine and ran in the PostgreSQL pass. Tests marked
# postgres (browser, processes, schemathesis) are PostgreSQL's alone.
test-postgres: install
	DATABASE_URL=$(PG_URL) $(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS)

test-sqlite: install
	$(BIN)/pytest $(PARALLEL) --db-tests-only $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with the Django and REST framework plugins (configured in pyproject.toml; strict on the core). The plugin
# imports the settings, which need nothing from the environment under DEBUG=true. Incremental: .mypy_cache/.
typecheck: install
	DEBUG=true $(BIN)/mypy

# Production settings pass Django's deployment checks with no warning. Production needs exactly these variables
# (a 50-character SECRET_KEY, ALLOWED_HOSTS, AUDIT_HMAC_KEYS, AUDIT_SIGNING_KEYS, ATTACHMENT_KEYS, AUDIT_ANCHOR_DIR); everything
# else has a production default.
RANDOM_SECRET = $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(40))'
check-deploy: install
	DEBUG=false SECRET_KEY="$$($(RANDOM_SECRET))" ALLOWED_HOSTS=tsunagu.example.jp \
	AUDIT_HMAC_KEYS="k1:$$($(RANDOM_SECRET))" AUDIT_SIGNING_KEYS="k1:$$($(RANDOM_SECRET))" ATTACHMENT_KEYS="k1:$$($(RANDOM_SECRET))" \
	AUDIT_ANCHOR_DIR="$$(mktemp -d)" TSUNAGU_VAR_DIR="$$(mktemp -d)" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmark of record (bench/run.py; BENCH_SCALE=smoke|default|full). django-auditlog, for one comparison only,
# goes to var/bench/deps, never into the application's environment.
bench: install services
	$(BIN)/pip install --quiet --upgrade --no-deps --target var/bench/deps -r bench/requirements.txt
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) var staticfiles test-artifacts .env
