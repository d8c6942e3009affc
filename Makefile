# Wirewatch: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pip keeps downloaded wheels in its cache (~/.cache/pip), so a second install is offline-fast.
PIP := $(BIN)/python -m pip
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check --prefer-binary -c requirements.lock

.PHONY: help run install dev lint test unit clean lock

help:
	@echo "make run    create .venv, install, run the pipeline over seeds/ and search the result"
	@echo "make test   install dev tools, lint, type-check and run the whole test suite"
	@echo "make lint   ruff (format + rules) and mypy --strict only"
	@echo "make clean  remove .venv, the local store and tool caches"
	@echo "make lock   re-pin requirements.lock from the current .venv"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	# Dependency groups (the dev tools) need pip >= 25.1.
	$(PIP) install --quiet --disable-pip-version-check --upgrade "pip>=25.1"

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP_INSTALL) --group dev
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

run: install
	$(BIN)/wirewatch run --seeds seeds
	@echo
	@echo '$$ wirewatch search "Putin satellites"'
	@$(BIN)/wirewatch search "Putin satellites" --limit 3

lint: dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest -m "not integration"

test: lint
	$(BIN)/pytest

lock: install dev
	{ head -2 requirements.lock; $(PIP) freeze --exclude-editable | grep -v '^wirewatch'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .wirewatch .mypy_cache .pytest_cache .ruff_cache *.egg-info build
