"""The in-process transport for tracking URIs that are not `http(s)://` (the embedded
`sqlite:///mlflow.db` default, a database MLflow keeps its registry in, `databricks`, …): each
endpoint's local form, run on MLflow's own client and stores.

Read-only commands never create or migrate anything:
- an SQLite store is opened read-only (any driver suffix, `mode=ro`), and one that does not exist
  yet is an empty registry (`exists()` is False) until an apply writes to it;
- a server database (`postgresql://…`) is first looked at by mlreg itself, within the backend
  timeout and with libpq's implicit credentials kept from hosts the environment did not name:
  MLflow's store is built on it only if MLflow's schema is there at the revision this MLflow
  expects (MLflow would otherwise create its tables, or wait minutes for a database that does not
  answer). MLflow then connects with the parsed parts, read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlreg.planner import redact, urls
from mlreg.planner.errors import BackendError
from mlreg.providers.mlflow.transport import Call, MlflowApiError, Transport
from mlreg.providers.sqlite import is_sqlite, read_only_url, sqlite_path


class LocalTransport(Transport):
    lacks = frozenset({"workspaces", "access"})  # a server's: not in MLflow's in-process client
    concurrent_reads = False

    def __init__(
        self,
        tracking_uri: str,
        read_only: bool = False,
        backend_timeout: float | None = None,
        connect_args: Mapping[str, str] | None = None,
    ):
        self.uri = tracking_uri
        self.read_only = read_only
        self.backend_timeout = backend_timeout
        self.connect_args = dict(connect_args or {})
        self.target = f"MLflow store {redact.url(tracking_uri)}"
        self._client = None

    def exists(self) -> bool:
        path = sqlite_path(self.uri)
        return path is None or Path(path).exists()

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            uri = self._store_uri()
            try:
                self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            except Exception as e:  # MLflow builds its stores lazily; a bad URI fails here or on first use
                raise BackendError(f"Cannot use {self.target}: {redact.redact(str(e).splitlines()[0])}") from None
        return self._client

    def _store_uri(self) -> str:
        if is_sqlite(self.uri):
            return read_only_url(self.uri) if self.read_only and sqlite_path(self.uri) else self.uri
        parsed = urls.parse_mlflow(self.uri)
        if parsed.family not in urls.DATABASE_FAMILIES:
            return self.uri
        return database_store_uri(parsed, self.target, self.read_only, self.backend_timeout, self.connect_args)

    def _send(self, endpoint: Call, body: dict) -> dict:
        from mlflow.exceptions import MlflowException

        if endpoint.local is None:
            raise BackendError(f"{self.target} has no in-process form of {endpoint.method} {endpoint.path}")
        try:
            return endpoint.local(self.client, body)
        except MlflowException as e:
            raise MlflowApiError(
                redact.redact(f"{self.target} refused {endpoint.method} {endpoint.path}: {e.message}"), e.error_code
            ) from None
        except Exception as e:
            if self.read_only and "readonly" in str(e).lower().replace(" ", ""):
                raise BackendError(
                    f"{self.target} is not an MLflow store this version of MLflow can read without changing it "
                    "(plan opens it read-only)"
                ) from None
            raise


def database_store_uri(
    parsed: urls.Url, target: str, read_only: bool, backend_timeout: float | None, connect_args: Mapping[str, str]
) -> str:
    """The URI MLflow's store is built on for a server database: rebuilt from the parsed parts,
    with mlreg's timeouts, libpq protections and (read-only) a read-only session; after checking,
    for a read-only command, that MLflow's schema is there at the revision this MLflow expects."""
    import sqlalchemy as sa

    from mlreg.planner.patience import CONNECT_TIMEOUT
    from mlreg.planner.patience import backend_timeout as budget

    parts = parsed.parts()
    query = dict(parts.pop("query"))
    if parsed.family in ("postgresql", "postgres"):
        ms = int(budget(backend_timeout) * 1000)
        options = f"-c statement_timeout={ms}" + (" -c default_transaction_read_only=on" if read_only else "")
        query.update({"connect_timeout": str(int(CONNECT_TIMEOUT)), "options": options})
        query.update({k: str(v) for k, v in connect_args.items() if k != "password"})
        if connect_args.get("password") and parts["password"] is None:
            parts["password"] = connect_args["password"]  # PGPASSWORD, for a database the environment names
    url = sa.engine.URL.create(**parts, query=query)
    if read_only:
        _require_schema(url, target)
    return url.render_as_string(hide_password=False)


def _require_schema(url, target: str) -> None:
    import sqlalchemy as sa
    from mlflow.store.db.utils import _get_latest_schema_revision

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            has = sa.inspect(conn).has_table("alembic_version")
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() if has else None
    except sa.exc.DBAPIError as e:
        first = str(getattr(e, "orig", e)).strip().splitlines()
        raise BackendError(f"{target}: {redact.redact(first[0] if first else type(e).__name__)}") from None
    finally:
        engine.dispose()
    expected = _get_latest_schema_revision()
    if found is None:
        raise BackendError(
            f"{target} holds no MLflow schema; plan, validate and drift never create one "
            "(`mlreg apply`, or `mlflow db upgrade` on a new database, does)"
        )
    if found != expected:
        raise BackendError(
            f"{target} has MLflow's schema at revision {found}, and this MLflow expects {expected}; plan, "
            "validate and drift never migrate it (run `mlflow db upgrade` on it first)"
        )
