PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The floor is the product's (bot/, rules/) line and branch coverage when it was set, rounded
# down: raise it when coverage rises, never lower it to make a change pass.
COVERAGE_FLOOR := 93

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q --cov --cov-report= --cov-fail-under=$(COVERAGE_FLOOR)

demo: $(STAMP)
	$(BIN)/python -m bot demo

bench: $(STAMP)
	$(BIN)/python -m bench

serve: $(STAMP)
	$(BIN)/python -m bot

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .coverage *.egg-info
