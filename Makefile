# The two commands: `make demo` runs a review from needed to closed on the real stack (add
# ARGS=--keep to leave it up afterwards), `make test` runs the tests.
# Both create .venv and install xbr with its test dependencies when needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install diagram migration clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "xbr needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m deploy.demo $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# two workers: the unit and integration tests spread over both, the end-to-end tests in two
# groups, each on one worker (tests/e2e/conftest.py)
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

diagram: install
	$(BIN)/python -m states.lifecycle.diagram README.md

# A new migration from the models' changes: `make migration MESSAGE="what it changes"`.
# Alembic compares the models with a scratch database brought to the newest schema.
SCRATCH := $(VENV)/migration.db
NEXT_REVISION = $(shell printf '%04d' $$(( $$(ls states/store/migrations/versions | grep -c '^[0-9]') + 1 )))
migration: install
	@test -n "$(MESSAGE)" || { echo 'give MESSAGE="what it changes"' >&2; exit 2; }
	rm -f $(SCRATCH)
	XBR_DATABASE_URL=sqlite:///$(CURDIR)/$(SCRATCH) $(BIN)/xbr init --json > /dev/null
	XBR_DATABASE_URL=sqlite:///$(CURDIR)/$(SCRATCH) $(BIN)/alembic revision --autogenerate \
		--rev-id $(NEXT_REVISION) -m "$(MESSAGE)"
	rm -f $(SCRATCH)
	$(BIN)/ruff format states/store/migrations/versions

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
