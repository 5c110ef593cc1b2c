"""The composition root: registry.yaml's backend sections become providers and a state backend,
wired into an engine session. Nothing else constructs them."""

from __future__ import annotations

import os
from pathlib import Path

from mlreg.planner.config.schema import LoadedConfig
from mlreg.planner.workflow import Prefetch, Session


def state_backend(loaded: LoadedConfig):
    cfg = loaded.config
    if cfg.state.backend == "local":
        from mlreg.state.local import LocalState

        path = Path(cfg.state.path)
        return LocalState(path if path.is_absolute() else Path(loaded.base_dir) / path)
    from mlreg.state.postgres import PostgresState

    return PostgresState(cfg.state.url or cfg.database.url, cfg.state.workspace)


def providers(loaded: LoadedConfig, backend_timeout: float | None = None, mlflow=None) -> dict:
    """`mlflow`: a provider already reading (a prefetch), used when it talks to the same server."""
    from mlreg.providers.mlflow import MlflowProvider
    from mlreg.providers.postgres import DatabaseProvider

    cfg = loaded.config
    if mlflow is None or mlflow.tracking_uri != cfg.mlflow.tracking_uri:
        mlflow = MlflowProvider(cfg.mlflow.tracking_uri, backend_timeout)
    found = [mlflow, DatabaseProvider(cfg.database.url, backend_timeout)]
    return {p.name: p for p in found}


def prefetch(file: str, backend_timeout: float | None = None) -> Prefetch | None:
    """Start reading the models a large registry file names before it is validated (a hint: the
    plan reads whatever it missed, and drops it if the file says another server)."""
    from mlreg.planner.config.glance import glance
    from mlreg.planner.kinds.registry import RegistryRequest

    try:
        text = Path(file).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    seen = glance(text, dict(os.environ))
    if seen is None or not seen.tracking_uri.startswith(("http://", "https://")):
        return None
    from mlreg.providers.mlflow import MlflowProvider

    return Prefetch(MlflowProvider(seen.tracking_uri, backend_timeout), RegistryRequest(model_names=seen.model_names))


def session(loaded: LoadedConfig, backend_timeout: float | None = None, early: Prefetch | None = None) -> Session:
    provs = providers(loaded, backend_timeout, early.provider if early is not None else None)
    state = state_backend(loaded)
    backends = {
        "mlflow": provs["mlreg/mlflow"].describe(),
        "database": provs["mlreg/postgres"].describe(),
        "state": state.describe(),
    }
    return Session(loaded, provs, state, backends)
