"""Real services for tests and benchmarks: a PostgreSQL and an `mlflow server` on it.

PostgreSQL comes from, in order: MLREG_TEST_DATABASE_URL; testcontainers when a Docker daemon
answers; else a throwaway cluster from the PostgreSQL server binaries on PATH (initdb, pg_ctl),
run as the `postgres` user when we are root (initdb refuses root).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    """A server we may create databases on; `url(db)` gives a SQLAlchemy URL for one."""

    admin_url: str  # postgresql+psycopg://user[:pw]@host:port/postgres
    stop: callable = lambda: None

    def url(self, database: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{database}"

    def create_database(self, name: str, drop: bool = False) -> str:
        import psycopg

        conninfo = self.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists and drop:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = None
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def require_password(self, role: str, password: str) -> None:
        """A login role that must give its password over TCP (the session cluster trusts every
        other login): a line for it goes first in pg_hba.conf, and the server reloads it."""
        import psycopg

        conninfo = self.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE \"{role}\" LOGIN SUPERUSER PASSWORD '{password}'")
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
            hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _local_cluster(data_root: str | None = None, port: int | None = None) -> Postgres:
    for tool in ("initdb", "pg_ctl"):
        if not shutil.which(tool):
            raise RuntimeError(
                f"{tool} not on PATH: install PostgreSQL 15 server binaries "
                "(Debian: postgresql-15) or set MLREG_TEST_DATABASE_URL"
            )
    root = Path(data_root or tempfile.mkdtemp(prefix="mlreg-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = port or free_port()
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            _as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]),
            check=True,
            capture_output=True,
        )
    if subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "status"]), capture_output=True).returncode == 0:
        # a cached cluster left running by an interrupted benchmark: restart it on our port
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_postgres(["pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )

    def stop():
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        if data_root is None:
            shutil.rmtree(root, ignore_errors=True)

    return Postgres(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop)


def start_postgres(data_root: str | None = None, port: int | None = None) -> Postgres:
    url = os.environ.get("MLREG_TEST_DATABASE_URL")
    if url:
        return Postgres(url.rsplit("/", 1)[0] + "/postgres")
    if data_root is None and _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15", driver="psycopg").start()
        return Postgres(container.get_connection_url().rsplit("/", 1)[0] + "/postgres", container.stop)
    return _local_cluster(data_root, port)


@dataclass
class MlflowServer:
    url: str
    log_path: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def requests_since(self, offset: int) -> list[str]:
        """API request lines the server logged since `offset` (uvicorn's access log)."""
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return [
            line
            for line in text.splitlines()
            if any(f'"{m} /api/' in line or f'"{m} /ajax-api/' in line for m in ("GET", "POST", "PATCH", "DELETE"))
        ]


ADMIN = ("admin", "admin-pass-for-tests")


def auth_config(folder: Path) -> Path:
    """MLflow's basic-auth app config: READ for everyone by default, the admin's password set
    (3.17 refuses the old default), users and roles in an SQLite file of the folder."""
    path = folder / "auth.ini"
    path.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'auth.db'}\n"
        f"admin_username = {ADMIN[0]}\n"
        f"admin_password = {ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return path


def start_mlflow(
    backend_uri: str,
    artifacts_dir: str,
    port: int | None = None,
    workers: int = 1,
    log_path: str | None = None,
    gunicorn: bool = False,
    basic_auth: bool = False,
    workspaces: bool = False,
) -> MlflowServer:
    """`gunicorn=True` serves with gunicorn (several workers without uvicorn's Nagle delay, with an
    access log so requests can be counted); the default is uvicorn, as `mlflow server` does.
    `basic_auth`: MLflow's users and roles (`--app-name basic-auth`, admin `ADMIN`);
    `workspaces`: `--enable-workspaces`."""
    port = port or free_port()
    log = Path(log_path or tempfile.mktemp(prefix="mlflow-server-", suffix=".log"))
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    cmd = [
        mlflow_bin if Path(mlflow_bin).exists() else "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        artifacts_dir,
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if gunicorn:
        cmd += ["--gunicorn-opts", f"--workers {workers} --access-logfile - --timeout 300"]
    else:
        cmd += ["--workers", str(workers)]
    extra = {}
    if basic_auth:
        cmd += ["--app-name", "basic-auth"]
        extra = {
            "MLFLOW_AUTH_CONFIG_PATH": str(auth_config(Path(artifacts_dir).parent)),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(24)).decode(),
        }
    if workspaces:
        cmd += ["--enable-workspaces"]
    env = {
        **extra,
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        # webhooks delivered to a receiver on loopback, signed with secrets the server keeps encrypted
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                return MlflowServer(url, log, proc)
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"mlflow server did not become ready in 120 s; see {log}")
