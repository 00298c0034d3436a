# cadbusi_assets — the two commands: `make demo` then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export CADBUSI_HOME ?= $(CURDIR)/.demo
export DAGSTER_HOME ?= $(CADBUSI_HOME)/dagster_home
export CADBUSI_PSEUDONYM_KEY_FILE ?= $(CADBUSI_HOME)/secrets/pseudonym.key

.PHONY: install demo dev test test-fast bench lint check-defs clean-demo help system-deps-demo system-deps-test

help:
	@echo "make demo   - install into $(VENV) if needed, build the synthetic cohort, run the whole graph"
	@echo "make dev    - open the Dagster UI on the demo data (http://127.0.0.1:3000)"
	@echo "make test   - run the test suite (starts its own PostgreSQL, Orthanc, storage emulators)"
	@echo "make bench  - run the benchmarks and print the figures"
	@echo "make lint   - ruff and mypy"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

# Debian packages (tesseract for the demo; PostgreSQL, Orthanc, DCMTK, GDCM, Redis for the tests):
# installed with apt-get as root or with passwordless sudo, else the one command to run is printed.
system-deps-demo:
	@scripts/system-deps.sh demo

system-deps-test:
	@scripts/system-deps.sh test

demo: system-deps-demo install
	$(BIN)/cadbusi demo

dev: install
	@test -d "$(DAGSTER_HOME)" || (echo "Run 'make demo' first: it creates the demo data in $(CADBUSI_HOME)." && exit 1)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${PORT:-3000}

test: system-deps-test install
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: system-deps-test install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not integration" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check cadbusi_assets cadbusi_demo cadbusi_assets_tests benchmarks tools
	$(BIN)/ruff format --check cadbusi_assets cadbusi_demo cadbusi_assets_tests benchmarks tools
	$(BIN)/mypy cadbusi_assets cadbusi_demo benchmarks tools

check-defs: install
	$(BIN)/dagster definitions validate -m cadbusi_assets.definitions

clean-demo:
	rm -rf "$(CADBUSI_HOME)"
