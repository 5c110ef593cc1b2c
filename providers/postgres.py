"""exp.policy_versions and exp.variants, through SQLAlchemy Core (PostgreSQL or SQLite).

On SQLite (the embedded default) there are no schemas: the `exp` schema is translated away, so
the same statements address plain `policy_versions` / `variants` tables.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from planner import redact
from planner.model import Action, Change, DatabaseSnapshot, LivePolicyVersion, LiveVariant, ReadRequest
from providers.base import BackendError

SCHEMA = "exp"


def _tables():
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import JSONB

    md = sa.MetaData(schema=SCHEMA)
    js = sa.JSON().with_variant(JSONB(), "postgresql")
    policy_versions = sa.Table(
        "policy_versions", md,
        sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
        sa.Column("policy_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("mlflow_model_name", sa.Text, nullable=False),
        sa.Column("mlflow_model_version", sa.Text, nullable=False),
        sa.Column("config_defaults", js, nullable=False),
        sa.UniqueConstraint("policy_id", "version"),
    )
    variants = sa.Table(
        "variants", md,
        sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
        sa.Column("config", js, nullable=False),
    )
    return md, policy_versions, variants


class DatabaseProvider:
    def __init__(self, url: str):
        self.url = url
        self._engine = None
        self._md, self.policy_versions, self.variants = _tables()

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            try:
                engine = sa.create_engine(self.url, pool_pre_ping=True)
            except Exception as e:  # bad URL or missing driver
                raise BackendError(f"Cannot use database {redact.url(self.url)}: {e}") from None
            if engine.dialect.name == "sqlite":
                engine = engine.execution_options(schema_translate_map={SCHEMA: None})
            self._engine = engine
        return self._engine

    def _connect(self):
        try:
            return self.engine.connect()
        except Exception as e:
            raise BackendError(f"Cannot connect to database {redact.url(self.url)}: "
                               f"{redact.redact(str(getattr(e, 'orig', e)).strip())}") from None

    def init(self) -> list[str]:
        """Create the tables (and schema) that do not exist yet; returns what was created."""
        import sqlalchemy as sa

        created = []
        with self._connect() as conn:
            insp = sa.inspect(conn)
            schema = None if conn.dialect.name == "sqlite" else SCHEMA
            if schema and schema not in insp.get_schema_names():
                conn.execute(sa.schema.CreateSchema(SCHEMA))
                created.append(f"schema {SCHEMA}")
            for table in (self.policy_versions, self.variants):
                if not insp.has_table(table.name, schema=schema):
                    table.create(conn)
                    created.append(f"table {SCHEMA}.{table.name}")
            conn.commit()
        return created

    def _has_tables(self, conn) -> tuple[bool, bool]:
        import sqlalchemy as sa

        insp = sa.inspect(conn)
        schema = None if conn.dialect.name == "sqlite" else SCHEMA
        return insp.has_table("policy_versions", schema=schema), insp.has_table("variants", schema=schema)

    def read(self, request: ReadRequest) -> DatabaseSnapshot:
        import sqlalchemy as sa

        pv, var = self.policy_versions, self.variants
        with self._connect() as conn:
            has_pv, has_var = self._has_tables(conn)
            if not has_pv:
                if request.policy_ids:
                    raise BackendError(f"Table {SCHEMA}.policy_versions does not exist in "
                                       f"{redact.url(self.url)}; run `mlreg db init`")
                return DatabaseSnapshot()
            rows = []
            if request.policy_ids or request.referenced_models:
                rows = conn.execute(sa.select(pv).where(sa.or_(
                    pv.c.policy_id.in_(sorted(request.policy_ids)),
                    pv.c.mlflow_model_name.in_(sorted(request.referenced_models))))).all()
            variants = conn.execute(sa.select(var.c.id, var.c.config)).all() if has_var else []
        return DatabaseSnapshot(
            policy_versions={
                (str(r.policy_id), int(r.version)): LivePolicyVersion(
                    id=str(r.id), policy_id=str(r.policy_id), version=int(r.version),
                    model_name=r.mlflow_model_name, model_version=str(r.mlflow_model_version),
                    config_defaults=_json(r.config_defaults))
                for r in rows
            },
            variants=[LiveVariant(id=str(v.id), policy_version_id=str((_json(v.config) or {}).get("policy_version_id")))
                      for v in variants if isinstance(_json(v.config), dict)],
        )

    def list_policy_ids(self) -> list[str]:
        import sqlalchemy as sa

        with self._connect() as conn:
            if not self._has_tables(conn)[0]:
                return []
            return [str(r[0]) for r in conn.execute(sa.select(self.policy_versions.c.policy_id).distinct())]

    def apply_batch(self, changes: list[Change], resolved: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Insert the new policy versions in one transaction; adopt rows that already match."""
        import sqlalchemy as sa

        pv = self.policy_versions
        out = {}
        try:
            with self._connect() as conn, conn.begin():
                for change in changes:
                    if change.action is Action.DELETE:
                        conn.execute(pv.delete().where(pv.c.id == change.identity["id"]))
                        out[change.address] = dict(change.identity)
                        continue
                    after = dict(change.after or {})
                    after.update(resolved.get(change.address, {}))
                    ident = change.identity
                    existing = conn.execute(sa.select(pv).where(pv.c.policy_id == ident["policy_id"],
                                                                pv.c.version == ident["version"])).first()
                    if existing is not None:
                        same = (existing.mlflow_model_name == after["model"]
                                and str(existing.mlflow_model_version) == str(after["model_version"])
                                and _json(existing.config_defaults) == after["config_defaults"])
                        if not same:
                            raise BackendError(f"{change.address}: a different row already exists; plan again")
                        row_id = str(existing.id)
                    else:
                        row_id = str(uuid.uuid4())
                        conn.execute(pv.insert().values(
                            id=row_id, policy_id=ident["policy_id"], version=ident["version"],
                            mlflow_model_name=after["model"], mlflow_model_version=str(after["model_version"]),
                            config_defaults=after["config_defaults"]))
                    out[change.address] = {**ident, "id": row_id}
                    resolved.setdefault(change.address, {})["model_version"] = str(after["model_version"])
        except BackendError:
            raise
        except Exception as e:
            raise BackendError(f"Database write failed: {redact.redact(str(getattr(e, 'orig', e)).strip())}") from None
        return out


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
