"""State, lock holder and history in schema `mlreg` of a PostgreSQL database.

Reading never creates anything: before the first write (an apply, an import, `state push`)
there is no schema, and state reads as empty; the schema and its migrations are made by the
first command that writes.

Locking is a session advisory lock (`pg_try_advisory_lock`) held on a dedicated connection for
the whole command: if the process dies, PostgreSQL drops the connection and the lock with it.
Beside it a holder row says who has the lock, which advisory locks alone cannot tell (the
weakness of Terraform's pg backend). Several workspaces share one database, each its own row.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

from mlreg.planner import redact, urls
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.errors import BackendError, BackendUnavailable, StaleSerial
from mlreg.planner.ports import LockInfo
from mlreg.planner.recorded import StateEncoder, StateSnapshot, journal_entry, missing_past
from mlreg.providers.postgres.login import login_message, refused_login
from mlreg.state.base import locked

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
    (
        2,
        [
            # what each state write changed (planner/recorded.py), for state at any past time
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.journal (seq bigserial PRIMARY KEY, workspace text NOT NULL, "
            "serial bigint NOT NULL, at timestamptz NOT NULL DEFAULT now(), entry jsonb NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS journal_workspace_seq ON {SCHEMA}.journal (workspace, seq)",
        ],
    ),
]


def _bounded(method):
    """A read of state that a server which takes the login and then never answers cannot hold
    past the backend timeout."""
    import functools

    from mlreg.planner.patience import CONNECT_TIMEOUT, backend_timeout
    from mlreg.providers.deadline import DeadlinePassed, within

    @functools.wraps(method)
    def bounded(self, *args, **kw):
        try:
            return within(backend_timeout(self.backend_timeout) + CONNECT_TIMEOUT, lambda: method(self, *args, **kw))
        except DeadlinePassed as e:
            raise BackendUnavailable(f"state database {redact.url(self.url)}: {e}") from None

    return bounded


class PostgresState:
    def __init__(
        self,
        url: str,
        workspace: str = DEFAULT_WORKSPACE,
        connect_args: dict | None = None,
        backend_timeout: float | None = None,
    ):
        """`connect_args`: what the wiring lets libpq use (no implicit credentials for a host the
        environment did not name). `backend_timeout`: `--backend-timeout` (None: the environment's
        MLREG_BACKEND_TIMEOUT, else 60 s), every statement's limit."""
        if urls.family(url) not in ("postgresql", "postgres"):
            raise BackendError(f"state backend 'postgres' needs a PostgreSQL URL, got {redact.url(url)}")
        self.url = url
        self.workspace = workspace
        self.connect_args = dict(connect_args or {})
        self.backend_timeout = backend_timeout
        self._engine = None
        self._migrated = False
        self._encoder = StateEncoder()
        self._written: StateSnapshot | None = None  # the last snapshot this process wrote or read
        self._lock_info: LockInfo | None = None

    def describe(self) -> str:
        return f"PostgreSQL {redact.url(self.url)} schema {SCHEMA}, workspace {self.workspace!r}"

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            # Bounded: a dead database is reported, not waited on (--backend-timeout).
            from mlreg.planner.patience import CONNECT_TIMEOUT, backend_timeout
            from mlreg.providers.dburl import engine_url

            ms = int(backend_timeout(self.backend_timeout) * 1000)
            self._engine = sa.create_engine(
                engine_url(self.url),
                pool_pre_ping=True,
                connect_args={
                    "connect_timeout": int(CONNECT_TIMEOUT),
                    "options": f"-c statement_timeout={ms}",
                    **self.connect_args,
                },
            )
        return self._engine

    def _sql(self, conn, text: str, **params):
        import sqlalchemy as sa

        return conn.execute(sa.text(text), params)

    @contextmanager
    def _tx(self, writes: bool = True):
        """A transaction; one that writes first brings the schema up to date. The database's
        failures (SQLAlchemy's) become one line; ours (a stale serial, a lock held) pass through."""
        from sqlalchemy.exc import SQLAlchemyError

        if writes:
            self._migrate()
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise self._failed("state database", e) from None

    def _migrate(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

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
        except SQLAlchemyError as e:
            raise self._failed("cannot use state database", e) from None
        self._migrated = True

    def _failed(self, what: str, e: Exception) -> BackendError:
        """One line: a refused login says its reason first (it is never retried)."""
        reason = refused_login(e)
        if reason is not None:
            return BackendError(login_message(reason, f"state database {redact.url(self.url)}", self.url))
        first = str(getattr(e, "orig", e)).strip().splitlines()
        return BackendError(f"{what} {redact.url(self.url)}: {redact.redact(first[0] if first else type(e).__name__)}")

    # -- state -------------------------------------------------------------------------------------------
    def _schema_exists(self, conn) -> bool:
        return bool(self._sql(conn, f"SELECT to_regclass('{SCHEMA}.states') IS NOT NULL").scalar())

    @_bounded
    def read(self) -> StateSnapshot:
        with self._tx(writes=False) as conn:
            if not self._schema_exists(conn):
                return StateSnapshot.new()
            row = self._sql(conn, f"SELECT data FROM {SCHEMA}.states WHERE workspace = :w", w=self.workspace).first()
        if row is None:
            return StateSnapshot.new()
        data = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        self._written = StateSnapshot.from_json(data)
        return self._written

    @_bounded
    def endpoints(self) -> tuple[dict[str, str], bool]:
        """(what state was recorded against, whether it records any resource)."""
        with self._tx(writes=False) as conn:
            if not self._schema_exists(conn):
                return {}, False
            row = self._sql(
                conn,
                f"SELECT data->'endpoints', data->'resources' <> '{{}}'::jsonb FROM {SCHEMA}.states "
                "WHERE workspace = :w",
                w=self.workspace,
            ).first()
        if row is None:
            return {}, False
        found = row[0] if isinstance(row[0], dict) or row[0] is None else json.loads(row[0])
        return dict(found or {}), bool(row[1])

    @_bounded
    def stored_meta(self) -> tuple[str | None, int | None]:
        with self._tx(writes=False) as conn:
            if not self._schema_exists(conn):
                return None, None
            row = self._sql(
                conn, f"SELECT lineage, serial FROM {SCHEMA}.states WHERE workspace = :w", w=self.workspace
            ).first()
        return (row[0], int(row[1])) if row else (None, None)

    def write(self, snapshot: StateSnapshot) -> None:
        from datetime import UTC, datetime

        with self._tx() as conn:
            row = self._sql(
                conn, f"SELECT lineage, serial FROM {SCHEMA}.states WHERE workspace = :w FOR UPDATE", w=self.workspace
            ).first()
            if row is not None and row[0] == snapshot.lineage and int(row[1]) >= snapshot.serial:
                raise StaleSerial(f"refusing to write serial {snapshot.serial}: stored state is at serial {row[1]}")
            last = self._written
            stored = (row[0], int(row[1])) if row is not None else None
            base = last if last is not None and stored == (last.lineage, last.serial) else None
            entry = journal_entry(base, snapshot, datetime.now(UTC).isoformat(timespec="microseconds"), self._lock_info)
            self._sql(
                conn,
                f"INSERT INTO {SCHEMA}.journal (workspace, serial, entry) VALUES (:w, :s, CAST(:e AS jsonb))",
                w=self.workspace,
                s=snapshot.serial,
                e=json.dumps(entry),
            )
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
        self._written = snapshot

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
                self._lock_info = info
                yield info
            finally:
                self._lock_info = None
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

    def import_past(self, journal: list[dict], history: list[dict]) -> None:
        entries, records = missing_past(self.journal(), self.history(), journal, history)
        with self._tx() as conn:
            for e in entries:
                self._sql(
                    conn,
                    f"INSERT INTO {SCHEMA}.journal (workspace, serial, at, entry) "
                    "VALUES (:w, :s, CAST(:at AS timestamptz), CAST(:e AS jsonb))",
                    w=self.workspace,
                    s=e.get("serial", 0),
                    at=e.get("at"),
                    e=json.dumps(e),
                )
            for r in records:
                self._sql(
                    conn,
                    f"INSERT INTO {SCHEMA}.history (id, workspace, at, record) "
                    "VALUES (:i, :w, COALESCE(CAST(:at AS timestamptz), now()), CAST(:r AS jsonb)) "
                    "ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                    i=r["id"],
                    w=self.workspace,
                    at=r.get("started") or r.get("finished"),
                    r=json.dumps(r),
                )

    @_bounded
    def journal(self) -> list[dict]:
        with self._tx(writes=False) as conn:
            if not bool(self._sql(conn, f"SELECT to_regclass('{SCHEMA}.journal') IS NOT NULL").scalar()):
                return []
            rows = self._sql(
                conn, f"SELECT entry FROM {SCHEMA}.journal WHERE workspace = :w ORDER BY seq", w=self.workspace
            ).all()
        return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]

    @_bounded
    def history(self) -> list[dict]:
        with self._tx(writes=False) as conn:
            if not self._schema_exists(conn):
                return []
            rows = self._sql(
                conn, f"SELECT record FROM {SCHEMA}.history WHERE workspace = :w ORDER BY at, id", w=self.workspace
            ).all()
        return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
