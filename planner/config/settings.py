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


class DatabaseSettings(Frozen):
    url: str = "sqlite:///mlreg.db"


class StateSettings(Frozen):
    backend: Literal["local", "postgres"] = "local"
    path: str = ".mlreg/state.json"
    url: str | None = None
    workspace: str = "default"
