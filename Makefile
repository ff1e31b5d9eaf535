# Quick start: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.dev-installed
LINTED := src tests benchmarks
PORT ?= 8000

.PHONY: install install-dev test-tools demo test lint typecheck bench docs clean

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

## test-tools: install what the tests drive (Chromium, curl, ...; as root, from Debian);
## report loudly what is missing (those tests are skipped, and fail under CI=true)
test-tools: install-dev
	VENV=$(VENV) scripts/ensure-test-tools

## test: install the dev dependencies and test tools, lint, type-check, run the whole suite
test: test-tools lint typecheck
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

## typecheck: mypy over the packages configured in pyproject.toml (skyarchive, benchmarks)
typecheck: install-dev
	$(BIN)/mypy

## bench: measure ingest and API figures; writes benchmarks/out/report.md
bench: install-dev
	$(BIN)/python -m benchmarks.run

## docs: regenerate docs/cli.md from the commands' --help
docs: install-dev
	$(BIN)/python -m typer skyarchive.cli utils docs --name skyarchive --output docs/cli.md

clean:
	rm -rf $(VENV) demo-archive benchmarks/out
