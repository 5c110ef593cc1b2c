"""Policy versions (`policy_version`): rows of exp.policy_versions, and the experiment variants
(exp.variants) that hold them, read in one query each; every change of an apply written in one
transaction that is safe to rerun: inserts do nothing on a row that exists (which then must
match), updates and deletes go by id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlreg.planner.changes import Action
from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.policy_version import LivePolicyVersion, LiveVariant, PolicyFacts, PolicyRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.postgres import DISPATCH
from mlreg.providers.postgres.provider import SCHEMA, tables

if TYPE_CHECKING:
    from mlreg.providers.postgres.provider import DatabaseProvider


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


@DISPATCH.reads(PolicyRequest)
def read(db: DatabaseProvider, request: PolicyRequest) -> PolicyFacts:
    import sqlalchemy as sa

    if not db.exists():
        return PolicyFacts(note=f"{db.target} does not exist yet: `mlreg db init` or apply creates it")
    _, pv, var = tables()

    def query(conn):
        has_pv, has_var = db.has_tables(conn)
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

    rows, variants = db.transaction(query)
    if rows is None:
        if request.policy_ids and not db.is_sqlite:
            raise BackendError(f"Table {SCHEMA}.policy_versions does not exist in {db.target}; run `mlreg db init`")
        return PolicyFacts(note=f"{SCHEMA}.policy_versions does not exist yet in {db.target}: run `mlreg db init`")
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


@DISPATCH.lists("policy_version")
def policy_ids(db: DatabaseProvider) -> list[str]:
    """Policy ids present (for `mlreg import`)."""
    import sqlalchemy as sa

    if not db.exists():
        return []

    def query(conn):
        if not db.has_tables(conn)[0]:
            return []
        return [str(r[0]) for r in conn.execute(sa.select(tables()[1].c.policy_id).distinct())]

    return db.transaction(query)


@DISPATCH.writes("policy_version", batch=True)
def write(db: DatabaseProvider, requests: Sequence[WriteRequest]) -> dict[str, WriteResult]:
    if db.is_sqlite:
        db.init()  # the embedded default creates its tables on first write, as MLflow does
    return db.transaction(lambda conn: _batch(conn, requests, db.target))


def _insert(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(tables()[1])


def _batch(conn, requests: Sequence[WriteRequest], target: str) -> dict[str, WriteResult]:
    import sqlalchemy as sa

    pv = tables()[1]
    out = {}
    for request in requests:
        change = request.change
        ident = dict(change.identity)
        if change.action is Action.DELETE:
            conn.execute(pv.delete().where(pv.c.id == ident["id"]))
            out[change.address] = WriteResult(ident)
            continue
        after = request.after()
        values = dict(
            mlflow_model_name=after["model"],
            mlflow_model_version=str(after["model_version"]),
            config_defaults=after["config_defaults"],
        )
        if change.action is Action.UPDATE:  # drift put back: the row keeps its id
            conn.execute(pv.update().where(pv.c.id == ident["id"]).values(**values))
            out[change.address] = WriteResult(ident)
            continue
        conn.execute(
            _insert(conn)
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
            raise BackendError(f"{change.address}: a different row already exists in {target}; run `mlreg plan` again")
        out[change.address] = WriteResult({**ident, "id": str(row.id)})
    return out
