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
# state), in a fresh .demo/ folder: log two training runs, then plan, apply, plan again.
# The demo's (disabled) webhook points at this machine, which MLflow allows only when told so.
demo: export MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS = true
demo: install
	rm -rf .demo && mkdir .demo && cp registry.yaml .demo/
	cd .demo && ../$(PY) ../examples/demo/train.py planner-2025-01-03:artifact planner-2025-01-10:logged
	cd .demo && ../$(VENV)/bin/mlreg db init
	cd .demo && ../$(VENV)/bin/mlreg plan
	cd .demo && ../$(VENV)/bin/mlreg apply --auto-approve
	cd .demo && ../$(VENV)/bin/mlreg plan --detailed-exitcode

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
