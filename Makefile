# The two commands a new user needs:  make demo  |  make test
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install demo test unit lint bench checkov clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Checkov (a scanner of Terraform plans) reads mlreg's JSON plan in the test suite. Its pins clash
# with ours, so it lives in a venv of its own, inside .venv so that tools walking the project skip
# it. CI (.ci/run) makes it; locally the test is skipped, saying so, until `make checkov`.
CHECKOV_VENV ?= $(VENV)/checkov
CHECKOV_VERSION ?= 3.3.30

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

checkov: $(CHECKOV_VENV)/.installed

# The main job on the embedded defaults (MLflow sqlite:///mlflow.db, SQLite policy table, local
# state), in a fresh .demo/ folder: the README's walkthrough, run exactly as written (train two
# runs, plan, apply, plan, promote, drift), checked against the output the README shows.
demo: install
	$(PY) examples/demo/walkthrough.py

# Lint, unit tests on plain data, then integration tests against a real PostgreSQL and mlflow server.
# The tests wait on servers more than they compute: TEST_WORKERS processes (pytest-xdist), each
# with its own PostgreSQL and mlflow server, take the suite from ~27 to ~16 min on 2 cores.
TEST_WORKERS ?= 3
test: install lint
	$(PY) -m pytest -p no:cacheprovider -n $(TEST_WORKERS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: install
	$(PY) -m pytest tests/unit

# Plan vs the raw-REST floor, apply vs the raw-REST write floor, the engine at 100k versions (README: Performance).
bench: install
	$(PY) bench/run.py

clean:
	rm -rf .demo $(VENV)
