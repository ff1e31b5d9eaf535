# Quick start: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.dev-installed
LINTED := src tests benchmarks
PORT ?= 8000
# two pytest processes: most tests wait on a server, a browser or a subprocess, so two
# processes on two cores take about 60% of one's time; TEST_PROCESSES=1 runs plain pytest
TEST_PROCESSES ?= 2

.PHONY: install install-dev test-tools demo test lint typecheck bench docs clean

# uv (from PyPI, into the venv) installs the same releases as pip in seconds where pip takes
# minutes; where no uv wheel installs, pip does the work
venv_install = if test -x $(BIN)/uv; then $(BIN)/uv pip install -q --python $(BIN)/python $(1); \
	else $(BIN)/python -m pip install -q $(1); fi

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv || echo "uv did not install: installing with pip (slower)"
	$(call venv_install,-e .)
	touch $@

$(DEV_INSTALLED): $(INSTALLED)
	$(call venv_install,-e '.[dev]')
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
## (in TEST_PROCESSES pytest-xdist processes, one test file to a process at a time)
test: test-tools lint typecheck
	if [ "$(TEST_PROCESSES)" = 1 ]; then $(BIN)/pytest; \
	else $(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder; fi

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
