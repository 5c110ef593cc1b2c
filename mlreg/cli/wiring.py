"""The composition root: registry.yaml's backend sections become providers and a state backend,
wired into an engine session. Nothing else constructs them."""

from __future__ import annotations

from pathlib import Path

from mlreg.planner.config.schema import LoadedConfig
from mlreg.planner.workflow import Session


def state_backend(loaded: LoadedConfig):
    cfg = loaded.config
    if cfg.state.backend == "local":
        from mlreg.state.local import LocalState

        path = Path(cfg.state.path)
        return LocalState(path if path.is_absolute() else Path(loaded.base_dir) / path)
    from mlreg.state.postgres import PostgresState

    return PostgresState(cfg.state.url or cfg.database.url, cfg.state.workspace)


def providers(loaded: LoadedConfig, backend_timeout: float | None = None) -> dict:
    from mlreg.providers.mlflow import MlflowProvider
    from mlreg.providers.postgres import DatabaseProvider

    cfg = loaded.config
    found = [
        MlflowProvider(cfg.mlflow.tracking_uri, backend_timeout),
        DatabaseProvider(cfg.database.url, backend_timeout),
    ]
    return {p.name: p for p in found}


def session(loaded: LoadedConfig, backend_timeout: float | None = None) -> Session:
    provs = providers(loaded, backend_timeout)
    state = state_backend(loaded)
    backends = {
        "mlflow": provs["mlreg/mlflow"].describe(),
        "database": provs["mlreg/postgres"].describe(),
        "state": state.describe(),
    }
    return Session(loaded, provs, state, backends)
