"""Session fixtures: one real PostgreSQL and one real `mlflow server` for all integration tests."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from tests.support.faultproxy import HttpFaultProxy
from tests.support.services import MlflowServer, Postgres, start_mlflow, start_postgres
from tests.support.workspace import Workspace

# The tests run mlreg as a user on a workstation would; a CI runner's own variables (CI=true
# refuses embedded defaults, GITHUB_ACTIONS / GITLAB_CI name a forge) are set by the tests that
# mean them, never inherited from the machine running the suite.
for _name in (
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TOKEN",
    "MLREG_FORGE_TOKEN",
    "MLREG_FILE",
):
    os.environ.pop(_name, None)


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


def _extra_server(services, tmp_path_factory, name: str, **kind):
    db = services.postgres.create_database(f"mlreg_test_{name}", drop=True)
    folder = tmp_path_factory.mktemp(name)
    return start_mlflow(db, str(folder / "artifacts"), log_path=str(folder / "server.log"), **kind)


@pytest.fixture(scope="session")
def auth_server(services, tmp_path_factory):
    """A second `mlflow server`, with MLflow's users and roles (`--app-name basic-auth`)."""
    server = _extra_server(services, tmp_path_factory, "auth", basic_auth=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def workspace_server(services, tmp_path_factory):
    """A third `mlflow server`, with workspaces (`--enable-workspaces`)."""
    server = _extra_server(services, tmp_path_factory, "workspaces", workspaces=True)
    yield server
    server.stop()


@pytest.fixture
def ws(services, tmp_path) -> Workspace:
    """A fresh working folder against the shared servers, with names unique to the test."""
    return Workspace(tmp_path, services.mlflow.url, services.database_url)


@pytest.fixture
def proxy(services):
    """A fault-injecting proxy in front of the session's MLflow."""
    p = HttpFaultProxy(services.mlflow.url)
    yield p
    p.stop()


@pytest.fixture
def pws(services, tmp_path, proxy) -> Workspace:
    """A workspace whose CLI talks to MLflow through the proxy; the test itself talks directly."""
    return Workspace(tmp_path, proxy.url, services.database_url, direct_uri=services.mlflow.url)
