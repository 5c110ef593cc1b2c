# The two commands a new user needs:  make demo  |  make test
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install demo test unit lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The main job on the embedded defaults (MLflow sqlite:///mlflow.db, SQLite policy table, local
# state), in a fresh .demo/ folder: the README's walkthrough, run exactly as written (train two
# runs, plan, apply, plan, promote, drift), checked against the output the README shows.
demo: install
	$(PY) examples/demo/walkthrough.py

# Lint, unit tests on plain data, then integration tests against a real PostgreSQL and mlflow server.
test: install lint
	$(PY) -m pytest -p no:cacheprovider

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
