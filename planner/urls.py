"""Backend URLs, parsed once: the value mlreg checks is the value it connects with.

A pull request's author writes registry.yaml, and CI's credentials go to the servers it names.
Parsers disagree about odd URLs (`http://evil\\@trusted/`: `urlsplit` reads host `trusted`,
urllib3 connects to `evil`; `postgresql://u@h/db?host=evil`: the URL's host is `h`, libpq
connects to `evil`). So a URL is accepted only in a shape every parser reads the same way, and
the transports connect with the parts parsed here (`Url.http_base`, `Url.parts`), never by
re-parsing the text:
- no backslash, whitespace or control character anywhere;
- http(s) (MLflow servers): no user info (credentials come from MLFLOW_TRACKING_*), a host of
  letters, digits, dots and hyphens (or a bracketed IPv6 address), a numeric port, a plain path,
  no query or fragment;
- databases: one host (no lists), one `@`, a plain database name, and a query that names nothing
  about where or as whom to connect: only the options in `PG_QUERY_OPTIONS` (none for other
  databases). Where a backend lives is said once, in the URL's host part.
Pure: no I/O, no provider imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")
_HTTP_PATH = re.compile(r"^(?:/[A-Za-z0-9._~+-]*)*$")
_DB_NAME = re.compile(r"^[A-Za-z0-9_.$-]*$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")

# libpq options a database URL may carry: how to talk, never where, as whom, or with which key.
PG_QUERY_OPTIONS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "application_name",
        "connect_timeout",
        "target_session_attrs",
        "channel_binding",
        "gssencmode",
        "client_encoding",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    }
)
DATABASE_FAMILIES = frozenset({"postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle"})


class UrlRefused(ValueError):
    """A URL in a shape that parsers may read differently; the message never holds its password."""


@dataclass(frozen=True)
class Url:
    """A URL as mlreg reads it. `family` is the scheme without its driver (`postgresql` for
    `postgresql+psycopg`). For sqlite, `path` is the file as written."""

    scheme: str  # lowercased, with the driver: http, https, postgresql+psycopg, sqlite, databricks, …
    host: str = ""  # lowercased
    port: int | None = None
    path: str = ""  # http: the base path ("" or "/prefix"); databases: the database name; sqlite: the file
    username: str | None = None
    password: str | None = None  # decoded
    query: tuple[tuple[str, str], ...] = ()

    @property
    def family(self) -> str:
        return self.scheme.split("+", 1)[0]

    @property
    def driver(self) -> str | None:
        return self.scheme.split("+", 1)[1] if "+" in self.scheme else None

    def http_base(self) -> str:
        """The server's base URL rebuilt from the parsed parts (what requests are sent to)."""
        port = f":{self.port}" if self.port is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path.rstrip('/')}"

    def parts(self) -> dict:
        """The parts a database driver is given one by one (SQLAlchemy's `URL.create`)."""
        return {
            "drivername": self.scheme,
            "username": self.username,
            "password": self.password,
            "host": self.host or None,
            "port": self.port,
            "database": self.path or None,
            "query": dict(self.query),
        }


def _masked(url: str) -> str:
    from mlreg.planner import redact

    return redact.url(url)


def _refuse(url: str, why: str) -> UrlRefused:
    return UrlRefused(f"{_masked(url)!s}: {why}")


def _common(url: str) -> str:
    """The scheme, after the checks every URL gets."""
    if "\\" in url:
        raise _refuse(url, "a backslash in a URL is read differently by different parsers")
    m = _CONTROL_OR_SPACE.search(url)
    if m:
        raise _refuse(url, "whitespace or a control character in a URL is read differently by different parsers")
    scheme, sep, _ = url.partition(":")
    if not sep or not _SCHEME.match(scheme.lower()):
        raise UrlRefused("not a URL: expected one such as http://mlflow.internal:5000 or postgresql+psycopg://host/db")
    if scheme != scheme.lower():  # libraries that test `startswith("http")` would route it elsewhere
        raise _refuse(url, f"write the scheme in lowercase ({scheme.lower()}:…)")
    return scheme


def _authority(url: str, scheme: str, allow_user: bool):
    rest = url[len(scheme) + 1 :]
    if not rest.startswith("//"):
        raise _refuse(url, f"expected {scheme}://HOST…")
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    if authority.count("@") > (1 if allow_user else 0):
        if not allow_user:
            raise _refuse(
                url,
                "user info in an MLflow URL: credentials come from MLFLOW_TRACKING_USERNAME / "
                "MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN",
            )
        raise _refuse(url, "more than one @ before the host (write an @ in a password as %40)")
    parts = urlsplit(url)
    host = parts.hostname or ""
    written = authority.rpartition("@")[2]
    hostpart = written.rsplit(":", 1)[0] if not written.endswith("]") else written
    if "," in written:
        raise _refuse(url, "one host only: a list of hosts is not accepted")
    if not (_HOST.match(hostpart) or _IPV6.match(hostpart)):
        raise _refuse(url, "the host must be a name of letters, digits, dots and hyphens, or an IP address")
    try:
        port = parts.port
    except ValueError:
        raise _refuse(url, "the port must be a number from 1 to 65535") from None
    if port is not None and not 0 < port < 65536:
        raise _refuse(url, "the port must be a number from 1 to 65535")
    if ":" in written.rpartition("]")[2] and port is None:
        raise _refuse(url, "the port must be a number from 1 to 65535")
    return parts, host.lower(), port


def parse_mlflow(url: str) -> Url:
    """An MLflow tracking URI: an http(s) server, an SQLite file, a database MLflow keeps its
    registry in, or another scheme MLflow's client resolves itself (databricks, …)."""
    if re.fullmatch(r"[a-z][a-z0-9-]*", url):  # a bare store name MLflow resolves (`databricks`)
        return Url(url)
    scheme = _common(url)
    family = scheme.split("+", 1)[0]
    if family in ("http", "https"):
        if "+" in scheme:
            raise _refuse(url, "expected http:// or https://")
        parts, host, port = _authority(url, scheme, allow_user=False)
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise _refuse(url, "an MLflow URL has no query or fragment")
        if not _HTTP_PATH.match(parts.path):
            raise _refuse(url, "the path may hold only letters, digits, '/', '.', '_', '~', '+' and '-'")
        return Url(scheme, host, port, parts.path)
    if family in DATABASE_FAMILIES or family == "sqlite":
        return parse_database(url)
    if "@" in url or "?" in url:
        raise _refuse(url, f"a {scheme} URI with user info or a query is not accepted")
    return Url(scheme, path=url[len(scheme) + 1 :])


def parse_database(url: str) -> Url:
    """A database URL (SQLAlchemy's form): PostgreSQL, another server database, or SQLite."""
    scheme = _common(url)
    family = scheme.split("+", 1)[0]
    if family == "sqlite":
        rest = url[len(scheme) + 1 :]
        if not rest.startswith("//") or "?" in rest or "#" in rest:
            raise _refuse(url, "expected sqlite:///FILE, with no query")
        if rest[2:3] not in ("", "/"):
            raise _refuse(url, "expected sqlite:///FILE (three slashes; no host)")
        if rest[3:] in ("", ":memory:"):
            raise _refuse(url, "an in-memory store keeps nothing from one command to the next: name a file")
        return Url(scheme, path=rest[3:])
    if family not in DATABASE_FAMILIES:
        raise _refuse(url, "expected a postgresql+psycopg://… or sqlite:///… URL")
    parts, host, port = _authority(url, scheme, allow_user=True)
    if parts.fragment or "#" in url:
        raise _refuse(url, "a database URL has no fragment")
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else parts.path
    if "/" in database or not _DB_NAME.match(database):
        raise _refuse(url, "the database name may hold only letters, digits, '_', '.', '$' and '-'")
    try:
        query = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
    except ValueError:
        raise _refuse(url, "the query is not of the form key=value&key=value") from None
    if any(_CONTROL_OR_SPACE.search(k) or _CONTROL_OR_SPACE.search(v) for k, v in query):
        raise _refuse(url, "a control character or whitespace in the query, once decoded")
    allowed = PG_QUERY_OPTIONS if family in ("postgresql", "postgres") else frozenset()
    named = sorted({k for k, _ in query if k.lower() not in allowed})
    if named:
        what = ", ".join(named)
        hint = f"only {', '.join(sorted(allowed))} may be given there" if allowed else "no query is accepted there"
        raise _refuse(url, f"the query names {what}: where a backend lives is said once, in the host part; {hint}")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Url(scheme, host, port, database, user, password, query)


def family(url: str) -> str | None:
    """The scheme family of an accepted URL (`http`, `https`, `postgresql`, `sqlite`, …); None
    for a URL that is refused."""
    try:
        return parse_mlflow(url).family
    except UrlRefused:
        return None


def refusal(url: str, mlflow: bool) -> str | None:
    """Why a URL is refused (None: accepted)."""
    try:
        (parse_mlflow if mlflow else parse_database)(url)
    except UrlRefused as e:
        return str(e)
    return None
