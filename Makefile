# cadence: `make demo` runs the product on embedded defaults; `make test` runs every check.
# Both set up what they need on a fresh machine: a virtualenv with the package and its tools,
# and (for the tests) the local servers they talk to.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help install system-deps postgres lint typecheck test demo clean

help:
	@echo "make demo   - set up and run cadence on sample data (SQLite, local SMTP sink, simulated clock)"
	@echo "make test   - set up and run ruff, mypy and the whole test suite"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "cadence needs Python 3.11 or newer"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Debian packages the tests use (a real IMAP server); needs root, does nothing when present.
system-deps:
	bash scripts/install-system-packages.sh

# The tests use the local PostgreSQL server; start it when it is installed but stopped.
postgres:
	bash scripts/ensure-postgres.sh

LINT_PATHS := $(wildcard src tests flows benchmarks deployments)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs on TEST_WORKERS processes (pytest-xdist); each has its own PostgreSQL database,
# Prefect server, IMAP server and ports. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2

# The system packages first: on a fresh Debian machine the virtualenv needs python3-venv.
test: system-deps postgres $(STAMP) lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

demo: $(STAMP)
	$(BIN)/cadence demo

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
