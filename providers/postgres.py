"""exp.policy_versions and exp.variants, through SQLAlchemy Core (PostgreSQL or SQLite).

On SQLite (the embedded default) there are no schemas: the `exp` schema is translated away, so
the same statements address plain `policy_versions` / `variants` tables. Reads never create
anything: an SQLite file that does not exist yet reads as empty.

Every statement has a timeout; reads and the batch (idempotent: `INSERT … ON CONFLICT DO
NOTHING`, updates and deletes by id) are retried while the database does not answer, within the
backend timeout, then `BackendUnavailable` stops the command.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlreg.planner import redact
from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.policy_version import (
    PROVIDER,
    LivePolicyVersion,
    LiveVariant,
    PolicyFacts,
    PolicyRequest,
)
from mlreg.planner.live import Request
from mlreg.planner.model import Action, Change
from mlreg.providers.patience import CONNECT_TIMEOUT, Patience

SCHEMA = "exp"


@functools.cache
def _tables():
    """The two tables, built on first use: importing SQLAlchemy costs ~0.2 s, which a plan pays in
    its read thread while MLflow answers, not before its first request."""
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


def sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


class DatabaseProvider:
    name = PROVIDER

    def __init__(self, url: str, backend_timeout: float | None = None):
        self.url = url
        self.target = f"database {redact.url(url)}"
        self.patience = Patience(self.target, backend_timeout, "; check the database, then run `mlreg plan` again")
        self._engine = None

    @property
    def policy_versions(self):
        return _tables()[1]

    @property
    def variants(self):
        return _tables()[2]

    def describe(self) -> str:
        return self.target

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            kw: dict = {"pool_pre_ping": True}
            if self.url.startswith("postgresql"):
                ms = int(self.patience.budget * 1000)
                kw["connect_args"] = {
                    "connect_timeout": int(CONNECT_TIMEOUT),
                    "options": f"-c statement_timeout={ms} -c lock_timeout={ms}",
                }
            try:
                engine = sa.create_engine(self.url, **kw)
            except Exception as e:  # bad URL or missing driver
                raise BackendError(f"Cannot use {self.target}: {redact.redact(str(e))}") from None
            if engine.dialect.name == "sqlite":
                engine = engine.execution_options(schema_translate_map={SCHEMA: None})
            self._engine = engine
        return self._engine

    def _with_retries(self, fn):
        """Run `fn(conn)` in a transaction; retried while the database does not answer."""
        from sqlalchemy.exc import DBAPIError

        while True:
            started = time.monotonic()
            try:
                with self.engine.connect() as conn, conn.begin():
                    out = fn(conn)
                self.patience.ok()
                return out
            except DBAPIError as e:
                if not _transient(e):
                    raise BackendError(f"{self.target}: {_first_line(e)}") from None
                time.sleep(self.patience.failed(started, _first_line(e)))

    def exists(self) -> bool:
        path = sqlite_file(self.url)
        return path is None or path.exists()

    # -- schema ------------------------------------------------------------------------------------
    def init(self) -> list[str]:
        """Create the tables (and schema) that do not exist yet; returns what was created."""
        import sqlalchemy as sa

        def create(conn):
            created = []
            insp = sa.inspect(conn)
            schema = None if conn.dialect.name == "sqlite" else SCHEMA
            if schema and schema not in insp.get_schema_names():
                conn.execute(sa.schema.CreateSchema(SCHEMA))
                created.append(f"schema {SCHEMA}")
            for table in (self.policy_versions, self.variants):
                if not insp.has_table(table.name, schema=schema):
                    table.create(conn)
                    created.append(f"table {SCHEMA}.{table.name}")
            return created

        return self._with_retries(create)

    @staticmethod
    def _has_tables(conn) -> tuple[bool, bool]:
        import sqlalchemy as sa

        insp = sa.inspect(conn)
        schema = None if conn.dialect.name == "sqlite" else SCHEMA
        return insp.has_table("policy_versions", schema=schema), insp.has_table("variants", schema=schema)

    # -- reads -------------------------------------------------------------------------------------
    def read(self, requests: Sequence[Request]) -> dict[type, Any]:
        out = {}
        for r in requests:
            if not isinstance(r, PolicyRequest):
                raise TypeError(f"{self.name} cannot answer {type(r).__name__}")
            out[PolicyFacts] = self._read(r)
        return out

    def _read(self, request: PolicyRequest) -> PolicyFacts:
        import sqlalchemy as sa

        if not self.exists():
            return PolicyFacts(note=f"{self.target} does not exist yet: `mlreg db init` or apply creates it")
        pv, var = self.policy_versions, self.variants

        def query(conn):
            has_pv, has_var = self._has_tables(conn)
            if not has_pv:
                return None, []
            rows = []
            if request.policy_ids or request.referenced_models:
                rows = conn.execute(
                    sa.select(pv).where(
                        sa.or_(
                            pv.c.policy_id.in_(sorted(request.policy_ids)),
                            pv.c.mlflow_model_name.in_(sorted(request.referenced_models)),
                        )
                    )
                ).all()
            variants = conn.execute(sa.select(var.c.id, var.c.config)).all() if has_var else []
            return rows, variants

        rows, variants = self._with_retries(query)
        if rows is None:
            if request.policy_ids and sqlite_file(self.url) is None:
                raise BackendError(
                    f"Table {SCHEMA}.policy_versions does not exist in {self.target}; run `mlreg db init`"
                )
            return PolicyFacts(
                note=f"{SCHEMA}.policy_versions does not exist yet in {self.target}: run `mlreg db init`"
            )
        return PolicyFacts(
            policy_versions={
                (str(r.policy_id), int(r.version)): LivePolicyVersion(
                    id=str(r.id),
                    policy_id=str(r.policy_id),
                    version=int(r.version),
                    model_name=r.mlflow_model_name,
                    model_version=str(r.mlflow_model_version),
                    config_defaults=_json(r.config_defaults),
                )
                for r in rows
            },
            variants=[
                LiveVariant(id=str(v.id), policy_version_id=str((_json(v.config) or {}).get("policy_version_id")))
                for v in variants
                if isinstance(_json(v.config), dict)
            ],
        )

    def names(self, type_: str) -> list[str]:
        """Policy ids present (for `mlreg import`)."""
        import sqlalchemy as sa

        if type_ != "policy_version":
            raise TypeError(f"{self.name} cannot list {type_}")
        if not self.exists():
            return []

        def query(conn):
            if not self._has_tables(conn)[0]:
                return []
            return [str(r[0]) for r in conn.execute(sa.select(self.policy_versions.c.policy_id).distinct())]

        return self._with_retries(query)

    # -- writes ------------------------------------------------------------------------------------
    def begin_apply(self, apply_id: str) -> None:
        pass  # rows are keyed by (policy_id, version): inserts are made idempotent by ON CONFLICT

    def apply(self, change: Change, phase: str, resolved: Mapping[str, Any]):
        raise TypeError(f"{self.name} applies policy versions in batches only ({change.address})")

    def apply_batch(
        self, changes: Sequence[Change], resolved: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Mapping[str, Any]]:
        """Every policy-version change of the apply in one transaction, idempotent: inserts do
        nothing on a row that exists (and then must match), updates and deletes go by id."""
        if sqlite_file(self.url) is not None:
            self.init()  # the embedded default creates its tables on first write, as MLflow does
        return self._with_retries(lambda conn: self._batch(conn, changes, resolved))

    def _insert(self, conn):
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(self.policy_versions)

    def _batch(self, conn, changes, resolved) -> dict[str, Mapping[str, Any]]:
        import sqlalchemy as sa

        pv = self.policy_versions
        out = {}
        for change in changes:
            ident = dict(change.identity)
            if change.action is Action.DELETE:
                conn.execute(pv.delete().where(pv.c.id == ident["id"]))
                out[change.address] = ident
                continue
            after = change.filled_after(resolved.get(change.address, {}))
            values = dict(
                mlflow_model_name=after["model"],
                mlflow_model_version=str(after["model_version"]),
                config_defaults=after["config_defaults"],
            )
            if change.action is Action.UPDATE:  # drift put back: the row keeps its id
                conn.execute(pv.update().where(pv.c.id == ident["id"]).values(**values))
                out[change.address] = ident
                continue
            conn.execute(
                self._insert(conn)
                .values(id=str(uuid.uuid4()), policy_id=ident["policy_id"], version=ident["version"], **values)
                .on_conflict_do_nothing(index_elements=["policy_id", "version"])
            )
            row = conn.execute(
                sa.select(pv).where(pv.c.policy_id == ident["policy_id"], pv.c.version == ident["version"])
            ).one()
            same = (
                row.mlflow_model_name == values["mlflow_model_name"]
                and str(row.mlflow_model_version) == values["mlflow_model_version"]
                and _json(row.config_defaults) == values["config_defaults"]
            )
            if not same:
                raise BackendError(
                    f"{change.address}: a different row already exists in {self.target}; run `mlreg plan` again"
                )
            out[change.address] = {**ident, "id": str(row.id)}
        return out


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _transient(e) -> bool:
    """A database that did not answer (connection refused, dropped, shut down) or is busy, as
    opposed to one that answered with an error about the statement."""
    if e.connection_invalidated:
        return True
    state = getattr(e.orig, "sqlstate", None)
    if type(e.orig).__module__.startswith("psycopg"):
        return type(e.orig).__name__ == "OperationalError" and (state is None or state.startswith(("08", "57P")))
    return "database is locked" in str(e.orig)


def _first_line(e: Exception) -> str:
    text = str(getattr(e, "orig", e)).strip()
    return redact.redact(text.splitlines()[0] if text else type(e).__name__)
