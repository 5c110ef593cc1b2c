"""The backend sections: `mlflow`, `database`, `state`.

Omitted values take the defaults every MLflow tool uses, environment references included: with no
`mlflow:` section the tracking URI is ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}, so a user who
exported MLFLOW_TRACKING_URI is never planned against a local file by surprise.
"""

from __future__ import annotations

from typing import Literal

from mlreg.planner.config.base import Frozen

DEFAULT_TRACKING_URI = "${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"
DEFAULT_DATABASE_URL = "${MLREG_DATABASE_URL:-sqlite:///mlreg.db}"
# Raw defaults, expanded like values written in the file.
RAW_DEFAULTS = {"mlflow": {"tracking_uri": DEFAULT_TRACKING_URI}, "database": {"url": DEFAULT_DATABASE_URL}}


class MlflowSettings(Frozen):
    tracking_uri: str = "sqlite:///mlflow.db"


class DatabaseSettings(Frozen):
    url: str = "sqlite:///mlreg.db"


class StateSettings(Frozen):
    backend: Literal["local", "postgres"] = "local"
    path: str = ".mlreg/state.json"
    url: str | None = None
    workspace: str = "default"
