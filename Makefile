# MIM Desk. `make run` starts everything on embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

# The environment's SECRET_KEY (or SECRET_KEY_FILE) if it has one; otherwise a random key generated
# once into the var folder (mode 600) and read from there by every command `make` runs.
VAR_DIR := $(or $(MIM_VAR_DIR),var)
ifeq ($(strip $(SECRET_KEY)$(SECRET_KEY_FILE)),)
KEY_FILE := $(abspath $(VAR_DIR))/secret_key
endif

.PHONY: install run test lint migrate seed schedules clean secret-key

install: $(STAMP)

# Reinstall only when a lock changes; a rerun of `make install` is a no-op. Development installs
# the dev lock (runtime lock + test and lint tools); production installs requirements.lock alone.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@touch $(STAMP)

secret-key:
ifdef KEY_FILE
	@$(PY) config/keyfile.py $(KEY_FILE)
endif

# Commands that start the app read the key; `make test` sets its own (config/test_settings.py).
ifdef KEY_FILE
migrate seed run lint: export SECRET_KEY_FILE := $(KEY_FILE)
endif

migrate: install secret-key
	$(PY) manage.py migrate --noinput

seed: migrate
	MIM_BASE_URL="$${MIM_BASE_URL:-http://localhost:$(PORT)}" $(PY) manage.py seed_demo

run: seed
	@PORT=$(PORT) bash scripts/run.sh

# Two pytest processes (pytest-xdist), one per core: the suite outgrew one process's share of
# CI's 30 minutes. Each has its own test database; the real-Celery-worker tests share one
# process (an xdist group), so one worker serves the broker. `PYTEST_WORKERS=0` runs in one.
PYTEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install secret-key
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

clean:
	rm -rf var/ $(VENV)
