"""Which servers a configuration talks to, and whether the environment's credentials may go there.

`mlreg plan` runs on pull requests, whose author controls registry.yaml, while CI's environment
holds the credentials (MLFLOW_TRACKING_TOKEN, PGPASSWORD, …). So:
- when the environment names an endpoint (MLFLOW_TRACKING_URI, MLREG_DATABASE_URL,
  MLREG_STATE_URL) and the file names another scheme, host or port, the command is refused before
  any request is sent (`check`), unless MLREG_ENDPOINTS_FROM_FILE=1 is set in the environment;
- credentials from the environment go only to an endpoint the environment names (`trusted`).
An `Endpoint` never holds credentials: it is also what state remembers it was recorded against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlreg.planner.errors import UserError

FROM_FILE = "MLREG_ENDPOINTS_FROM_FILE"
_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432}


@dataclass(frozen=True)
class Endpoint:
    """A server (scheme, host, port) and the database on it, or a local file."""

    scheme: str  # http | https | postgresql | sqlite | another store's scheme
    host: str  # lowercased host; for sqlite the absolute path of the file
    port: int | None = None
    database: str | None = None

    def same_server(self, other: Endpoint) -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)

    def __str__(self) -> str:
        if self.scheme == "sqlite":
            return f"sqlite:///{self.host.lstrip('/')}" if not self.host.startswith("/") else f"sqlite://{self.host}"
        port = f":{self.port}" if self.port is not None else ""
        db = f"/{self.database}" if self.database else ""
        return f"{self.scheme}://{self.host}{port}{db}"


def endpoint_of(url: str | None, base_dir: str | None = None) -> Endpoint | None:
    """The endpoint a URL names (None for no URL). `postgresql+psycopg` is `postgresql`;
    `sqlite+driver:///rel.db` is the file, resolved beside `base_dir`."""
    if not url:
        return None
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    family = scheme.split("+", 1)[0]
    if family == "sqlite":
        rest = url.split("://", 1)[1] if "://" in url else ""
        path = rest[1:].split("?", 1)[0] if rest.startswith("/") else ""
        path = path.removeprefix("file:")
        if path in ("", ":memory:"):
            return Endpoint("sqlite", ":memory:")
        p = Path(unquote(path))
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        return Endpoint("sqlite", str(p.resolve()) if p.is_absolute() else str(p))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return Endpoint(family, url)
    host = (parts.hostname or "").lower()
    database = parts.path.lstrip("/") or None if family == "postgresql" else None
    return Endpoint(family, host, port if port is not None else _DEFAULT_PORTS.get(family), database)


@dataclass(frozen=True)
class Named:
    """An endpoint the configuration uses, what it is for, and the environment variable that
    would name it."""

    what: str  # "MLflow", "the policy database", "the state database"
    url: str
    variable: str


def named_by_environment(env: Mapping[str, str], base_dir: str | None = None) -> list[Endpoint]:
    """Every endpoint the environment names: its URLs, and libpq's PGHOST / PGPORT."""
    variables = ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL", "MLREG_STATE_URL")
    out = [e for e in (endpoint_of(env.get(v), base_dir) for v in variables) if e is not None]
    for host in filter(None, re.split(r"[,\s]+", env.get("PGHOST", ""))):
        port = env.get("PGPORT", "5432")
        out.append(Endpoint("postgresql", host.lower(), int(port) if port.isdigit() else 5432))
    return out


def check(used: list[Named], env: Mapping[str, str], base_dir: str | None = None) -> None:
    """Refuse, naming both, an endpoint the file names where the environment names another."""
    if env.get(FROM_FILE) == "1":
        return
    for n in used:
        named = env.get(n.variable)
        if not named:
            continue
        mine, theirs = endpoint_of(n.url, base_dir), endpoint_of(named, base_dir)
        if mine is not None and theirs is not None and not mine.same_server(theirs):
            raise UserError(
                f"registry.yaml names {n.what} at {mine}, but {n.variable} names {theirs}: credentials from "
                f"the environment go only where the environment points; unset {n.variable}, or set "
                f"{FROM_FILE}=1 in the environment to use the file's"
            )


def trusted(url: str, env: Mapping[str, str], base_dir: str | None = None) -> bool:
    """May credentials from the environment go to this URL's server?"""
    if env.get(FROM_FILE) == "1":
        return True
    mine = endpoint_of(url, base_dir)
    return mine is not None and any(mine.same_server(e) for e in named_by_environment(env, base_dir))
