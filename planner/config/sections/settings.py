"""The backend sections: `mlflow`, `database`, `state`.

Omitted values take the defaults every MLflow tool uses, environment references included: with no
`mlflow:` section the tracking URI is ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}, so a user who
exported MLFLOW_TRACKING_URI is never planned against a local file by surprise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from mlreg.planner import urls
from mlreg.planner.config.base import Frozen


def _accepted(url: str, mlflow: bool) -> str:
    """A URL in a shape every parser reads the same way (planner/urls.py), or a ValueError that
    says why, without its password."""
    try:
        (urls.parse_mlflow if mlflow else urls.parse_database)(url)
    except urls.UrlRefused as e:
        raise ValueError(str(e)) from None
    return url


class MlflowSettings(Frozen):
    tracking_uri: str = "sqlite:///mlflow.db"
    """MLflow's tracking URI: http(s)://server, or sqlite:///FILE for the embedded store.
    Default ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}."""

    @field_validator("tracking_uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        return _accepted(v, mlflow=True)


class DatabaseSettings(Frozen):
    url: str = "sqlite:///mlreg.db"
    """SQLAlchemy URL of the database holding exp.policy_versions (postgresql+psycopg://…, or
    sqlite:///FILE). Default ${MLREG_DATABASE_URL:-sqlite:///mlreg.db}."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _accepted(v, mlflow=False)


class StateSettings(Frozen):
    backend: Literal["local", "postgres"] = "local"
    """Where state is kept: local (a JSON file beside registry.yaml) or postgres (a table, with a
    lock and a journal, for teams and CI)."""
    path: str = ".mlreg/state.json"
    """local: the state file, relative to registry.yaml."""
    url: str | None = None
    """postgres: the database URL (default: ${MLREG_STATE_URL:-}, and when that is empty the
    database section's)."""
    workspace: str | None = None
    """postgres: the row state is kept in (default: the file's MLflow workspace, else default)."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _accepted(v, mlflow=False) if v else v
