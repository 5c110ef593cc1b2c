"""The backend sections: `mlflow`, `database`, `state`.

Omitted values take the defaults every MLflow tool uses, environment references included: with no
`mlflow:` section the tracking URI is ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}, so a user who
exported MLFLOW_TRACKING_URI is never planned against a local file by surprise.
"""

from __future__ import annotations

from typing import Literal

from mlreg.planner.config.base import Frozen


class MlflowSettings(Frozen):
    tracking_uri: str = "sqlite:///mlflow.db"
    """MLflow's tracking URI: http(s)://server, or sqlite:///FILE for the embedded store.
    Default ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}."""


class DatabaseSettings(Frozen):
    url: str = "sqlite:///mlreg.db"
    """SQLAlchemy URL of the database holding exp.policy_versions (postgresql+psycopg://…, or
    sqlite:///FILE). Default ${MLREG_DATABASE_URL:-sqlite:///mlreg.db}."""


class StateSettings(Frozen):
    backend: Literal["local", "postgres"] = "local"
    """Where state is kept: local (a JSON file beside registry.yaml) or postgres (a table, with a
    lock and a journal, for teams and CI)."""
    path: str = ".mlreg/state.json"
    """local: the state file, relative to registry.yaml."""
    url: str | None = None
    """postgres: the database URL (default: the database section's)."""
    workspace: str | None = None
    """postgres: the row state is kept in (default: the file's MLflow workspace, else default)."""
