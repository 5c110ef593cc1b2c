"""Which servers a configuration talks to, and whether the environment's credentials may go there.

`mlreg plan` runs on pull requests, whose author controls registry.yaml, while CI's environment
holds the credentials (MLFLOW_TRACKING_TOKEN, PGPASSWORD, …). So:
- when the environment pins an endpoint (MLFLOW_TRACKING_URI, MLREG_DATABASE_URL, MLREG_STATE_URL,
  and the workspace in MLFLOW_WORKSPACE), the file's value, once expanded, must be the same string
  exactly: another host, path, query, user info or any other byte is refused (`require_pinned`), before
  any request is sent, unless MLREG_ENDPOINTS_FROM_FILE=1 is set in the environment. Comparing
  strings, not parsed hosts, leaves no parser to disagree with;
- credentials from the environment go only to an endpoint the environment names that way
  (`trusted`, `trusted_database`);
- a URL in a shape parsers read differently is refused whatever the environment says
  (planner/urls.py, checked when the file is loaded).
A `Server` never holds credentials: it is also what state remembers it was recorded against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from mlreg.planner import redact, urls
from mlreg.planner.errors import UserError

FROM_FILE = "MLREG_ENDPOINTS_FROM_FILE"
_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432}
# the variables that pin each endpoint, and what they name
PINS = {
    "MLFLOW_TRACKING_URI": "MLflow",
    "MLREG_DATABASE_URL": "the policy database",
    "MLREG_STATE_URL": "the state database",
    "MLFLOW_WORKSPACE": "the MLflow workspace",
}


@dataclass(frozen=True)
class Server:
    """A server (scheme, host, port) and the database on it, or a local file."""

    scheme: str  # http | https | postgresql | sqlite | another store's scheme
    host: str  # lowercased host; for sqlite the absolute path of the file
    port: int | None = None
    database: str | None = None

    def same_server(self, other: Server) -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)

    def __str__(self) -> str:
        if self.scheme == "sqlite":
            return f"sqlite:///{self.host.lstrip('/')}" if not self.host.startswith("/") else f"sqlite://{self.host}"
        port = f":{self.port}" if self.port is not None else ""
        db = f"/{self.database}" if self.database else ""
        return f"{self.scheme}://{self.host}{port}{db}"


def server_of(url: str | None, base_dir: str | None = None) -> Server | None:
    """The endpoint an accepted URL names (None for no URL). `postgresql+psycopg` is
    `postgresql`; `sqlite+driver:///rel.db` is the file, resolved beside `base_dir`."""
    if not url:
        return None
    try:
        u = urls.parse_mlflow(url)
    except urls.UrlRefused:
        return None
    family = "postgresql" if u.family == "postgres" else u.family
    if family == "sqlite":
        path = u.path.removeprefix("file:")
        if path in ("", ":memory:"):
            return Server("sqlite", ":memory:")
        p = Path(unquote(path))
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        return Server("sqlite", str(p.resolve()) if p.is_absolute() else str(p))
    if not u.host:
        return Server(family, u.path)
    port = u.port if u.port is not None else _DEFAULT_PORTS.get(family)
    database = None if family in ("http", "https") else (u.path or None)
    return Server(family, u.host, port, database)


@dataclass(frozen=True)
class Named:
    """A value of the configuration that says where mlreg goes (an endpoint's URL, the workspace),
    what it is for, and the environment variable that pins it."""

    what: str  # "MLflow", "the policy database", "the state database", "the MLflow workspace"
    value: str
    variable: str


def _shown(value: str) -> str:
    """A value for a refusal: masked, and only if it is a URL or a workspace name (a value that is
    neither may be a secret someone referenced by mistake)."""
    if re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value) or (
        "://" in value and urls.refusal(value, mlflow=True) is None
    ):
        return repr(redact.url(value))
    return "a value that is not a URL"


def require_pinned(used: list[Named], env: Mapping[str, str]) -> None:
    """Refuse, naming both, a value the file gives where the environment pins another."""
    if env.get(FROM_FILE) == "1":
        return
    for n in used:
        pinned = env.get(n.variable)
        if not pinned or n.value == pinned:
            continue
        raise UserError(
            f"registry.yaml names {n.what} {_shown(n.value)}, but {n.variable} is {_shown(pinned)}: the file's "
            f"value must be the same as the environment's, exactly; credentials from the environment go only where "
            f"the environment points. Unset {n.variable}, or set {FROM_FILE}=1 in the environment to use the file's"
        )


def trusted(url: str, env: Mapping[str, str]) -> bool:
    """May MLflow credentials from the environment go to this tracking URI? Only to the one
    MLFLOW_TRACKING_URI names, byte for byte."""
    return env.get(FROM_FILE) == "1" or url == env.get("MLFLOW_TRACKING_URI")


def trusted_database(url: str, env: Mapping[str, str]) -> bool:
    """May libpq use its implicit credentials (PGPASSWORD, ~/.pgpass, a service file, client
    keys) for this database? For a URL the environment names exactly, or the host and port that
    libpq's own PGHOST / PGPORT name."""
    named = {env.get(v) for v in ("MLREG_DATABASE_URL", "MLREG_STATE_URL", "MLFLOW_TRACKING_URI")} - {None}
    if env.get(FROM_FILE) == "1" or url in named:
        return True
    try:
        u = urls.parse_database(url)
    except urls.UrlRefused:
        return False
    port = u.port or 5432
    named_port = int(env["PGPORT"]) if env.get("PGPORT", "").isdigit() else 5432
    hosts = {h.lower() for h in re.split(r"[,\s]+", env.get("PGHOST", "")) if h}
    return bool(u.host) and u.host in hosts and port == named_port
