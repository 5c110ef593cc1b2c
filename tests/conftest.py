"""Session fixtures: one real PostgreSQL and one real `mlflow server` for all integration tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.services import MlflowServer, Postgres, start_mlflow, start_postgres
from tests.support.workspace import Workspace


@dataclass
class Services:
    postgres: Postgres
    mlflow: MlflowServer
    database_url: str  # where exp.policy_versions lives


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    pg = start_postgres()
    try:
        mlflow_db = pg.create_database("mlreg_test_mlflow", drop=True)
        exp_db = pg.create_database("mlreg_test_exp", drop=True)
        server = start_mlflow(
            mlflow_db,
            str(tmp_path_factory.mktemp("artifacts")),
            log_path=str(tmp_path_factory.mktemp("logs") / "mlflow-server.log"),
        )
    except BaseException:
        pg.stop()
        raise
    ws = Workspace(tmp_path_factory.mktemp("init"), server.url, exp_db)
    ws.write({})
    ws.run("db", "init", check=0)
    yield Services(pg, server, exp_db)
    server.stop()
    pg.stop()


@pytest.fixture
def ws(services, tmp_path) -> Workspace:
    """A fresh working folder against the shared servers, with names unique to the test."""
    return Workspace(tmp_path, services.mlflow.url, services.database_url)
