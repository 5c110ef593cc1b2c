"""State, lock holder and history in schema `mlreg` of a PostgreSQL database.

Locking is a session advisory lock (`pg_try_advisory_lock`) held on a dedicated connection for
the whole command: if the process dies, PostgreSQL drops the connection and the lock with it.
Beside it a holder row says who has the lock, which advisory locks alone cannot tell (the
weakness of Terraform's pg backend). Several workspaces share one database, each its own row.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

from mlreg.planner import redact
from mlreg.planner.errors import BackendError, StaleSerial, StateLocked
from mlreg.planner.ports import LockInfo
from mlreg.planner.statedata import StateSnapshot
from mlreg.state.base import StateEncoder, locked

SCHEMA = "mlreg"
# Versioned migrations: append, never edit. Each runs once, in order, in one transaction.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.states (workspace text PRIMARY KEY, lineage text NOT NULL, "
            "serial bigint NOT NULL, data jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.locks (workspace text PRIMARY KEY, lock_id text NOT NULL, "
            "who text, host text, pid integer, operation text, since text)",
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.history (id text PRIMARY KEY, workspace text NOT NULL, "
            "at timestamptz NOT NULL DEFAULT now(), record jsonb NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS history_workspace_at ON {SCHEMA}.history (workspace, at)",
        ],
    ),
]


class PostgresState:
    def __init__(self, url: str, workspace: str = "default"):
        if not url.startswith("postgresql"):
            raise BackendError(f"state backend 'postgres' needs a PostgreSQL URL, got {redact.url(url)}")
        self.url = url
        self.workspace = workspace
        self._engine = None
        self._migrated = False
        self._encoder = StateEncoder()

    def describe(self) -> str:
        return f"PostgreSQL {redact.url(self.url)} schema {SCHEMA}, workspace {self.workspace!r}"

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            # Bounded: a dead database is reported, not waited on (MLREG_BACKEND_TIMEOUT).
            from mlreg.providers.patience import CONNECT_TIMEOUT, backend_timeout

            ms = int(backend_timeout() * 1000)
            self._engine = sa.create_engine(
                self.url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": int(CONNECT_TIMEOUT), "options": f"-c statement_timeout={ms}"},
            )
        return self._engine

    def _sql(self, conn, text: str, **params):
        import sqlalchemy as sa

        return conn.execute(sa.text(text), params)

    @contextmanager
    def _tx(self):
        self._migrate()
        try:
            with self.engine.begin() as conn:
                yield conn
        except (StaleSerial, StateLocked, BackendError):
            raise
        except Exception as e:
            if type(e).__module__.startswith("sqlalchemy"):
                raise BackendError(
                    f"state database {redact.url(self.url)}: "
                    f"{redact.redact(str(getattr(e, 'orig', e)).strip().splitlines()[0])}"
                ) from None
            raise

    def _migrate(self) -> None:
        if self._migrated:
            return
        try:
            with self.engine.begin() as conn:
                # Serialise concurrent first uses; released at commit.
                self._sql(conn, "SELECT pg_advisory_xact_lock(hashtext('mlreg:migrate'))")
                self._sql(conn, f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                self._sql(
                    conn,
                    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations "
                    "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                )
                done = {r[0] for r in self._sql(conn, f"SELECT version FROM {SCHEMA}.schema_migrations")}
                for version, statements in MIGRATIONS:
                    if version in done:
                        continue
                    for stmt in statements:
                        self._sql(conn, stmt)
                    self._sql(conn, f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES (:v)", v=version)
        except Exception as e:
            raise BackendError(
                f"cannot use state database {redact.url(self.url)}: "
                f"{redact.redact(str(getattr(e, 'orig', e)).strip().splitlines()[0])}"
            ) from None
        self._migrated = True

    # -- state -------------------------------------------------------------------------------------------
    def read(self) -> StateSnapshot:
        with self._tx() as conn:
            row = self._sql(conn, f"SELECT data FROM {SCHEMA}.states WHERE workspace = :w", w=self.workspace).first()
        if row is None:
            return StateSnapshot.new()
        data = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        return StateSnapshot.from_json(data)

    def stored_meta(self) -> tuple[str | None, int | None]:
        with self._tx() as conn:
            row = self._sql(
                conn, f"SELECT lineage, serial FROM {SCHEMA}.states WHERE workspace = :w", w=self.workspace
            ).first()
        return (row[0], int(row[1])) if row else (None, None)

    def write(self, snapshot: StateSnapshot) -> None:
        with self._tx() as conn:
            row = self._sql(
                conn, f"SELECT lineage, serial FROM {SCHEMA}.states WHERE workspace = :w FOR UPDATE", w=self.workspace
            ).first()
            if row is not None and row[0] == snapshot.lineage and int(row[1]) >= snapshot.serial:
                raise StaleSerial(f"refusing to write serial {snapshot.serial}: stored state is at serial {row[1]}")
            self._sql(
                conn,
                f"INSERT INTO {SCHEMA}.states (workspace, lineage, serial, data) "
                "VALUES (:w, :l, :s, CAST(:d AS jsonb)) ON CONFLICT (workspace) DO UPDATE SET "
                "lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, data = EXCLUDED.data, "
                "updated_at = now()",
                w=self.workspace,
                l=snapshot.lineage,
                s=snapshot.serial,
                d=self._encoder.encode(snapshot),
            )

    # -- lock ----------------------------------------------------------------------------------------------
    def _holder(self, conn) -> LockInfo | None:
        row = self._sql(
            conn,
            f"SELECT lock_id, who, host, pid, operation, since FROM {SCHEMA}.locks WHERE workspace = :w",
            w=self.workspace,
        ).first()
        return LockInfo(id=row[0], who=row[1], host=row[2], pid=row[3], operation=row[4], since=row[5]) if row else None

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0):
        self._migrate()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        key = dict(k1="mlreg", k2=self.workspace)
        try:
            deadline = time.monotonic() + max(timeout, 0)
            while not self._sql(conn, "SELECT pg_try_advisory_lock(hashtext(:k1), hashtext(:k2))", **key).scalar():
                if time.monotonic() >= deadline:
                    raise locked(self._holder(conn), self.describe())
                time.sleep(0.2)
            info = LockInfo.new(operation)
            self._sql(
                conn,
                f"INSERT INTO {SCHEMA}.locks (workspace, lock_id, who, host, pid, operation, since) "
                "VALUES (:w, :i, :who, :h, :p, :o, :s) ON CONFLICT (workspace) DO UPDATE SET "
                "lock_id = EXCLUDED.lock_id, who = EXCLUDED.who, host = EXCLUDED.host, "
                "pid = EXCLUDED.pid, operation = EXCLUDED.operation, since = EXCLUDED.since",
                w=self.workspace,
                i=info.id,
                who=info.who,
                h=info.host,
                p=info.pid,
                o=info.operation,
                s=info.since,
            )
            # Whoever held the lock before us is gone: its unfinished applies were interrupted.
            self._sql(
                conn,
                f'UPDATE {SCHEMA}.history SET record = record || \'{{"outcome": "interrupted"}}\' '
                "WHERE workspace = :w AND record->>'outcome' = 'running'",
                w=self.workspace,
            )
            try:
                yield info
            finally:
                self._sql(
                    conn,
                    f"DELETE FROM {SCHEMA}.locks WHERE workspace = :w AND lock_id = :i",
                    w=self.workspace,
                    i=info.id,
                )
                self._sql(conn, "SELECT pg_advisory_unlock(hashtext(:k1), hashtext(:k2))", **key)
        finally:
            conn.close()

    def force_unlock(self, lock_id: str) -> bool:
        with self._tx() as conn:
            return (
                self._sql(
                    conn,
                    f"DELETE FROM {SCHEMA}.locks WHERE workspace = :w AND lock_id = :i",
                    w=self.workspace,
                    i=lock_id,
                ).rowcount
                > 0
            )

    # -- history ---------------------------------------------------------------------------------------------
    def append_history(self, record: dict) -> None:
        with self._tx() as conn:
            self._sql(
                conn,
                f"INSERT INTO {SCHEMA}.history (id, workspace, record) VALUES (:i, :w, CAST(:r AS jsonb)) "
                "ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                i=record["id"],
                w=self.workspace,
                r=json.dumps(record),
            )

    def history(self) -> list[dict]:
        with self._tx() as conn:
            rows = self._sql(
                conn, f"SELECT record FROM {SCHEMA}.history WHERE workspace = :w ORDER BY at, id", w=self.workspace
            ).all()
        return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
