"""The policy database: its engine, its transactions with retries and timeouts, and `db init`;
reads and writes per kind come from `DISPATCH` (kinds/policy_versions.py).

On SQLite (the embedded default) there are no schemas: the `exp` schema is translated away, so
the same statements address plain `policy_versions` / `variants` tables. Read-only commands open
SQLite read-only and never create anything: a file that does not exist yet reads as empty.

Every statement has a timeout; reads and the batch (idempotent: `INSERT … ON CONFLICT DO
NOTHING`, updates and deletes by id) are retried while the database does not answer, within the
backend timeout, then `BackendUnavailable` stops the command.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlreg.planner import redact, urls
from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.policy_version import PROVIDER
from mlreg.planner.live import Request
from mlreg.planner.patience import CONNECT_TIMEOUT, Patience
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.deadline import DeadlinePassed, within
from mlreg.providers.postgres import DISPATCH
from mlreg.providers.postgres.login import login_message, refused_login
from mlreg.providers.sqlite import read_only_url, sqlite_path

SCHEMA = "exp"


@functools.cache
def tables():
    """(metadata, policy_versions, variants), built on first use: importing SQLAlchemy costs
    ~0.2 s, which a plan pays in its read thread while MLflow answers, not before its first request."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import JSONB

    md = sa.MetaData(schema=SCHEMA)
    js = sa.JSON().with_variant(JSONB(), "postgresql")
    policy_versions = sa.Table(
        "policy_versions",
        md,
        sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
        sa.Column("policy_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("mlflow_model_name", sa.Text, nullable=False),
        sa.Column("mlflow_model_version", sa.Text, nullable=False),
        sa.Column("config_defaults", js, nullable=False),
        sa.UniqueConstraint("policy_id", "version"),
    )
    variants = sa.Table(
        "variants",
        md,
        sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
        sa.Column("config", js, nullable=False),
    )
    return md, policy_versions, variants


class DatabaseProvider:
    name = PROVIDER

    def __init__(
        self,
        url: str,
        backend_timeout: float | None = None,
        read_only: bool = False,
        connect_args: Mapping[str, Any] | None = None,
    ):
        """`connect_args`: what the wiring lets libpq use (no implicit credentials for a host the
        environment did not name)."""
        self.url = url
        self.read_only = read_only
        self.target = f"database {redact.url(url)}"
        self.patience = Patience(self.target, backend_timeout, "; check the database, then run `mlreg plan` again")
        self.connect_args = dict(connect_args or {})
        self._engine = None

    def describe(self) -> str:
        return self.target

    @property
    def is_sqlite(self) -> bool:
        return sqlite_path(self.url) is not None

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            from mlreg.providers.dburl import engine_url

            kw: dict = {"pool_pre_ping": True}
            url = engine_url(self.url)
            if urls.family(self.url) in ("postgresql", "postgres"):
                ms = int(self.patience.budget * 1000)
                kw["connect_args"] = {
                    "connect_timeout": int(CONNECT_TIMEOUT),
                    "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"
                    + (" -c default_transaction_read_only=on" if self.read_only else ""),
                    **self.connect_args,
                }
            elif self.read_only and self.is_sqlite:
                url = read_only_url(self.url)
            try:
                engine = sa.create_engine(url, **kw)
            except (ImportError, sa.exc.ArgumentError) as e:  # a missing driver, a dialect SQLAlchemy does not know
                raise BackendError(f"Cannot use {self.target}: {redact.redact(str(e))}") from None
            if engine.dialect.name == "sqlite":
                engine = engine.execution_options(schema_translate_map={SCHEMA: None})
            self._engine = engine
        return self._engine

    def transaction(self, fn):
        """Run `fn(conn)` in a transaction; retried while the database does not answer."""
        from sqlalchemy.exc import DBAPIError

        def once():
            with self.engine.connect() as conn, conn.begin():
                return fn(conn)

        while True:
            started = time.monotonic()
            try:
                # a server that takes the login and then never answers is given up on, too
                out = within(self.patience.attempt_timeout() + CONNECT_TIMEOUT, once)
                self.patience.ok()
                return out
            except DeadlinePassed as e:
                time.sleep(self.patience.failed(started, str(e)))
            except DBAPIError as e:
                reason = refused_login(e)
                if reason is not None:  # a wrong password will not get better by waiting
                    raise BackendError(login_message(reason, self.target, self.url)) from None
                if not _transient(e):
                    raise BackendError(f"{self.target}: {first_line(e)}") from None
                time.sleep(self.patience.failed(started, first_line(e)))

    def exists(self) -> bool:
        path = sqlite_path(self.url)
        return path is None or Path(path).exists()

    def has_tables(self, conn) -> tuple[bool, bool]:
        import sqlalchemy as sa

        insp = sa.inspect(conn)
        schema = None if conn.dialect.name == "sqlite" else SCHEMA
        return insp.has_table("policy_versions", schema=schema), insp.has_table("variants", schema=schema)

    # -- schema ------------------------------------------------------------------------------------
    def init(self) -> list[str]:
        """Create the tables (and schema) that do not exist yet; returns what was created."""
        import sqlalchemy as sa

        if self.read_only:
            raise BackendError(f"{self.target} was opened read-only")

        def create(conn):
            created = []
            insp = sa.inspect(conn)
            schema = None if conn.dialect.name == "sqlite" else SCHEMA
            if schema and schema not in insp.get_schema_names():
                conn.execute(sa.schema.CreateSchema(SCHEMA))
                created.append(f"schema {SCHEMA}")
            for table in tables()[1:]:
                if not insp.has_table(table.name, schema=schema):
                    table.create(conn)
                    created.append(f"table {SCHEMA}.{table.name}")
            return created

        return self.transaction(create)

    # -- the provider port -------------------------------------------------------------------------
    def read(self, requests: Sequence[Request]) -> dict[type, Any]:
        return {type(r).facts: DISPATCH.reader(type(r))(self, r) for r in requests}

    def names(self, type_: str) -> list[str]:
        return DISPATCH.lister(type_)(self)

    def kinds(self) -> set[str]:
        return DISPATCH.kinds()

    def apply(self, request: WriteRequest) -> WriteResult:
        raise TypeError(f"{self.name} applies its kinds in batches only ({request.change.address})")

    def apply_batch(self, requests: Sequence[WriteRequest]) -> dict[str, WriteResult]:
        """All changes of one batch kind in one transaction (see the kind's writer)."""
        types = {r.change.type for r in requests}
        if len(types) != 1:
            raise TypeError(f"{self.name}: one batch holds one kind, got {sorted(types)}")
        return DISPATCH.batch_writer(types.pop())(self, list(requests))


def _transient(e) -> bool:
    """A database that did not answer (connection refused, dropped, shut down) or is busy, as
    opposed to one that answered with an error about the statement."""
    if e.connection_invalidated:
        return True
    state = getattr(e.orig, "sqlstate", None)
    if type(e.orig).__module__.startswith("psycopg"):
        return type(e.orig).__name__ == "OperationalError" and (state is None or state.startswith(("08", "57P")))
    return "database is locked" in str(e.orig)


def first_line(e: Exception) -> str:
    text = str(getattr(e, "orig", e)).strip()
    return redact.redact(text.splitlines()[0] if text else type(e).__name__)
