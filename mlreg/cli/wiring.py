"""The composition root: registry.yaml's backend sections become transports, providers and a
state backend, wired into an engine session. Nothing else constructs them.

It is also where the environment's credentials meet the file's endpoints (planner/endpoints.py):
a file whose endpoints or workspace differ from those the environment pins is refused before
anything is built, and credentials (MLflow's, libpq's implicit ones) go only to servers the
environment names. Transports connect with the parts planner/urls.py parsed, never re-parsing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlreg.planner import endpoints, urls
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.patience import Patience

if TYPE_CHECKING:  # the early read uses this module before the engine (and pydantic) is imported
    from mlreg.planner.config.schema import LoadedConfig
    from mlreg.planner.workflow import Session

# What libpq reads from the environment and its files when a connection does not say: passwords
# (PGPASSWORD, PGPASSFILE / ~/.pgpass, a PGSERVICE entry) and client certificates. For a server
# the environment did not name, the connection says, so none of them is used.
_NOWHERE = "/nonexistent/mlreg-no-implicit-credentials"


_LIBPQ_PASSWORD: list[str | None] = []
_MLFLOW_CREDENTIALS: list = []
# MLflow's credential variables, read by MLflow's own client wherever it makes a request (an
# in-process store's artifact repositories, a `databricks` URI): taken out of the environment
# once, and given explicitly to the REST transport of the tracking URI the environment names
MLFLOW_SECRET_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_TRACKING_AUTH",
)


def mlflow_credentials():
    """MLflow's credentials from the environment (`rest.Credentials`), taken out of this process's
    environment the first time they are asked for, as `libpq_password` does for PGPASSWORD: no
    library running in this process can send them anywhere; the wiring gives them only to the
    server MLFLOW_TRACKING_URI names."""
    if not _MLFLOW_CREDENTIALS:
        from mlreg.providers.mlflow.rest import Credentials

        _MLFLOW_CREDENTIALS.append(Credentials.from_env(os.environ))
        for name in MLFLOW_SECRET_VARIABLES:
            os.environ.pop(name, None)
    return _MLFLOW_CREDENTIALS[0]


def libpq_password() -> str | None:
    """PGPASSWORD, taken out of this process's environment the first time it is asked for: libpq
    reads it for every connection that gives no password, and some of ours are made by libraries
    that cannot be told not to (MLflow's store on a database tracking URI; SQLAlchemy drops an
    empty password). So no connection gets it implicitly; `libpq_args` gives it, explicitly, only
    to databases the environment names."""
    if not _LIBPQ_PASSWORD:
        _LIBPQ_PASSWORD.append(os.environ.pop("PGPASSWORD", None))
    return _LIBPQ_PASSWORD[0]


def libpq_args(url: str, env: Mapping[str, str]) -> dict:
    """Connection arguments for a database: libpq's implicit credentials (PGPASSWORD, a password
    file, client keys) only for one the environment names; none for any other."""
    from mlreg.planner import urls

    password = libpq_password()
    try:
        written = urls.parse_database(url).password
    except urls.UrlRefused:
        written = None
    if endpoints.trusted_database(url, env):
        return {"password": password} if password and written is None else {}
    return {"password": written or "", "passfile": _NOWHERE, "sslcert": _NOWHERE, "sslkey": _NOWHERE}


def mlflow_provider(
    uri: str,
    backend_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    read_only: bool = False,
    base_dir: str | None = None,
    workspace: str | None = None,
):
    from mlreg.providers.mlflow.provider import MlflowProvider
    from mlreg.providers.mlflow.rest import Credentials, RestTransport

    credentials = mlflow_credentials() if env is None or env is os.environ else Credentials.from_env(env)
    env = os.environ if env is None else env
    if urls.family(uri) in ("http", "https"):
        if not endpoints.trusted(uri, env):
            credentials = credentials.without_secrets()
        api = RestTransport(uri, credentials=credentials, workspace=workspace)
        api.patience = Patience(api.target, backend_timeout, "; check the server, then run `mlreg plan` again")
        return MlflowProvider(api)
    from mlreg.planner.errors import UserError
    from mlreg.providers.mlflow.local import LocalTransport

    if workspace:
        raise UserError(
            f"registry.yaml names workspace {workspace!r}, but MLflow is the in-process store {uri}: workspaces "
            "need an MLflow server (`mlflow server --enable-workspaces`)"
        )
    return MlflowProvider(
        LocalTransport(uri, read_only=read_only, backend_timeout=backend_timeout, connect_args=libpq_args(uri, env))
    )


def early_provider(uri: str, backend_timeout: float | None = None):
    """A provider for the early read of the glanced tracking URI, or None where the environment
    names another server (the command then refuses, before any request)."""
    from mlreg.planner import urls
    from mlreg.planner.errors import UserError

    try:
        urls.parse_mlflow(uri)
        endpoints.require_pinned([endpoints.Named("MLflow", uri, "MLFLOW_TRACKING_URI")], os.environ)
    except (UserError, urls.UrlRefused):
        return None
    return mlflow_provider(uri, backend_timeout, read_only=True)


def state_url(loaded: LoadedConfig) -> str:
    """The postgres state backend's URL: the file's, else the policy database's."""
    return loaded.config.state.url or loaded.config.database.url


def used_endpoints(loaded: LoadedConfig) -> list[endpoints.Named]:
    """What the file says about where mlreg goes, each with the variable that pins it."""
    cfg = loaded.config
    used = [
        endpoints.Named("MLflow", cfg.mlflow.tracking_uri, "MLFLOW_TRACKING_URI"),
        endpoints.Named("the policy database", cfg.database.url, "MLREG_DATABASE_URL"),
        endpoints.Named("the MLflow workspace", cfg.workspace or "", "MLFLOW_WORKSPACE"),
    ]
    if cfg.state.backend == "postgres":
        used.append(endpoints.Named("the state database", state_url(loaded), "MLREG_STATE_URL"))
    return used


def check_endpoints(loaded: LoadedConfig, env: Mapping[str, str] | None = None) -> None:
    """Refuse a file naming other servers or another workspace than the environment, before any
    request is sent."""
    endpoints.require_pinned(used_endpoints(loaded), os.environ if env is None else env)


def state_backend(
    loaded: LoadedConfig, read_only: bool = False, state_only: bool = False, backend_timeout: float | None = None
):
    """`state_only`: for commands that read or move state alone (history, state …): only the
    state's endpoint is checked against the environment. `backend_timeout`: `--backend-timeout`,
    which a state database honours as the live systems do."""
    used = used_endpoints(loaded)
    if state_only:
        used = [e for e in used if e.what == "the state database"]
    endpoints.require_pinned(used, os.environ)
    cfg = loaded.config
    if cfg.state.backend == "local":
        from mlreg.state.files import contained
        from mlreg.state.local import LocalState

        return LocalState(contained(loaded.base_dir, cfg.state.path, "state.path"), loaded.base_dir)
    from mlreg.state.postgres import PostgresState

    url = state_url(loaded)
    # kept per MLflow workspace: two files for two workspaces never see each other's state
    workspace = cfg.state.workspace or cfg.workspace or DEFAULT_WORKSPACE
    return PostgresState(url, workspace, connect_args=libpq_args(url, os.environ), backend_timeout=backend_timeout)


def _uri(loaded: LoadedConfig) -> str:
    """The tracking URI, an SQLite file's relative path taken beside the configuration."""
    from mlreg.providers.sqlite import beside

    return beside(loaded.config.mlflow.tracking_uri, loaded.base_dir)


def _database(loaded: LoadedConfig) -> str:
    from mlreg.providers.sqlite import beside

    return beside(loaded.config.database.url, loaded.base_dir)


def session_endpoints(loaded: LoadedConfig) -> dict[str, str]:
    """What state remembers it was recorded against (no credentials)."""
    return {
        "mlflow": str(endpoints.server_of(_uri(loaded), loaded.base_dir)),
        "workspace": loaded.config.workspace or DEFAULT_WORKSPACE,
        "database": str(endpoints.server_of(_database(loaded), loaded.base_dir)),
    }


def providers(loaded: LoadedConfig, backend_timeout: float | None = None, early=None, read_only: bool = False) -> dict:
    """`early`: a read already under way (cli/early.py); its provider is reused when it talks to
    the same server. `read_only`: for plan, drift and validate: embedded stores are opened
    read-only and nothing is created anywhere."""
    from mlreg.providers.postgres.provider import DatabaseProvider

    check_endpoints(loaded)
    uri, db = _uri(loaded), _database(loaded)
    found = [
        early.provider
        if usable(loaded, early)
        else mlflow_provider(
            uri, backend_timeout, read_only=read_only, base_dir=loaded.base_dir, workspace=loaded.config.workspace
        ),
        DatabaseProvider(db, backend_timeout, read_only=read_only, connect_args=libpq_args(db, os.environ)),
    ]
    return {p.name: p for p in found}


def usable(loaded: LoadedConfig, early):
    """The early read (cli/early.py), if the validated file names the server (and the default
    workspace) it reads."""
    same = early is not None and early.tracking_uri == loaded.config.mlflow.tracking_uri
    return early if same and not loaded.config.workspace else None


def session(
    loaded: LoadedConfig,
    backend_timeout: float | None = None,
    early=None,
    read_only: bool = False,
    reconfigure: bool = False,
) -> Session:
    from mlreg.planner.workflow import Session

    provs = providers(loaded, backend_timeout, early, read_only)
    state = state_backend(loaded, read_only, backend_timeout=backend_timeout)
    backends = {
        "mlflow": provs["mlreg/mlflow"].describe(),
        "database": provs["mlreg/postgres"].describe(),
        "state": state.describe(),
    }
    return Session(loaded, provs, state, backends, session_endpoints(loaded), reconfigure)
