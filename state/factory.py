"""Pick the state backend that registry.yaml names."""

from __future__ import annotations

from pathlib import Path

from planner.config import Config


def make_backend(cfg: Config, base_dir: str):
    if cfg.state.backend == "local":
        from state.local import LocalState

        path = Path(cfg.state.path)
        return LocalState(path if path.is_absolute() else Path(base_dir) / path)
    from state.postgres import PostgresState

    return PostgresState(cfg.state.url or cfg.database.url, cfg.state.workspace)
