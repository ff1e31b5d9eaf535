# Quick start: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.dev-installed
LINTED := src tests benchmarks
PORT ?= 8000

.PHONY: install install-dev demo test lint bench docs clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEV_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## install: create .venv and install skyarchive into it
install: $(INSTALLED)

install-dev: $(DEV_INSTALLED)

## demo: build the demo archive in ./demo-archive (once) and serve it on http://127.0.0.1:$(PORT)
## (port 8000 unless given: `make demo PORT=8010`)
demo: install
	$(BIN)/skyarchive --home demo-archive demo --port $(PORT)

## test: install the dev dependencies and run the whole suite (lint included)
test: install-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

## bench: measure ingest and API figures; writes benchmarks/out/report.md
bench: install-dev
	$(BIN)/python -m benchmarks.run

## docs: regenerate docs/cli.md from the commands' --help
docs: install-dev
	$(BIN)/python -m typer skyarchive.cli utils docs --name skyarchive --output docs/cli.md

clean:
	rm -rf $(VENV) demo-archive benchmarks/out
