# `make test` and `make demo` work on a fresh machine: they create .venv (pip, the pinned set in
# requirements-dev.txt: torch 2.13.0 CPU), install tinyreason editable with its extras, then run.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tinyreason-installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
# pip on this machine prints a warning per missing local index folder: keep the log readable.
# (sed, not grep: it never fails, so with pipefail the pipeline's status stays pip's own.)
QUIET_PIP := sed "/^WARNING: Location 'file:/d"

.PHONY: test demo lint format clean venv

venv: $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip 2>&1 | $(QUIET_PIP)
	$(PY) -m pip install -q -r requirements-dev.txt -e ".[dev]" 2>&1 | $(QUIET_PIP)
	$(PY) -c "import tinyreason, torch, trl"  # fail here, not in the first test, if it broke
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m tinyreason demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests benchmarks examples
	$(VENV)/bin/ruff format src tests benchmarks examples

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
