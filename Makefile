# The two commands: `make demo` runs a review from needed to closed on the real stack (add
# ARGS=--keep to leave it up afterwards), `make test` runs the tests.
# Both create .venv and install xbr with its test dependencies when needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install diagram clean

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

test: lint
	$(BIN)/python -m pytest

diagram: install
	$(BIN)/python -m states.lifecycle.diagram README.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
