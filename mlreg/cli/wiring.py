"""The composition root: registry.yaml's backend sections become providers and a state backend,
wired into an engine session. Nothing else constructs them."""

from __future__ import annotations

from pathlib import Path

from mlreg.cli.early import EarlyRead
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


def providers(loaded: LoadedConfig, backend_timeout: float | None = None, early: EarlyRead | None = None) -> dict:
    """`early`: a read already under way; its connection is reused when it talks to the same server."""
    from mlreg.providers.mlflow.provider import MlflowProvider
    from mlreg.providers.postgres import DatabaseProvider

    uri = loaded.config.mlflow.tracking_uri
    api = early.api if usable(loaded, early) else None
    found = [
        MlflowProvider(uri, backend_timeout, api=api),
        DatabaseProvider(loaded.config.database.url, backend_timeout),
    ]
    return {p.name: p for p in found}


def usable(loaded: LoadedConfig, early: EarlyRead | None) -> EarlyRead | None:
    """The early read, if the validated file names the server it reads."""
    return early if early is not None and early.tracking_uri == loaded.config.mlflow.tracking_uri else None


def session(loaded: LoadedConfig, backend_timeout: float | None = None, early: EarlyRead | None = None) -> Session:
    provs = providers(loaded, backend_timeout, early)
    state = state_backend(loaded)
    backends = {
        "mlflow": provs["mlreg/mlflow"].describe(),
        "database": provs["mlreg/postgres"].describe(),
        "state": state.describe(),
    }
    return Session(loaded, provs, state, backends)
