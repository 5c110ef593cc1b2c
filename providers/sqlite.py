"""SQLite URLs, as both providers (MLflow's embedded store, the policy table) and state see them:
any `sqlite` scheme with or without a driver suffix (`sqlite+pysqlite:///…`), the file behind it,
and the same file opened read-only, so that read-only commands can never create, migrate or
change a database (least of all one that is not ours).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

_SQLITE = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?)://(?P<rest>.*)$", re.IGNORECASE)


def sqlite_path(url: str) -> str | None:
    """The file behind an SQLite URL; None for other schemes and in-memory databases."""
    m = _SQLITE.match(url or "")
    if not m:
        return None
    rest = m["rest"]
    if not rest.startswith("/"):
        return None  # sqlite:// (in memory)
    path = rest[1:].split("?", 1)[0]
    if path.startswith("file:"):
        path = path[len("file:") :]
    return None if path in ("", ":memory:") else path


def is_sqlite(url: str) -> bool:
    return bool(_SQLITE.match(url or ""))


def read_only_url(url: str) -> str:
    """The same SQLite database, opened read-only (SQLite's `mode=ro` through a URI filename).
    The driver is always named: MLflow takes a plain `sqlite:///` URI's path literally to create
    "parent directories" (a `./file:` folder, here)."""
    m = _SQLITE.match(url)
    path = sqlite_path(url)
    if not m or path is None:
        return url
    scheme = m["scheme"] if "+" in m["scheme"] else "sqlite+pysqlite"
    absolute = str(Path(path).resolve())
    return f"{scheme}:///file:{quote(absolute)}?mode=ro&uri=true"


def beside(url: str, base_dir: str) -> str:
    """An SQLite URL whose relative path is taken relative to `base_dir` (the configuration's
    folder), not to wherever the command was started; other URLs unchanged."""
    m = _SQLITE.match(url or "")
    path = sqlite_path(url)
    if not m or path is None or Path(path).is_absolute():
        return url
    query = m["rest"].split("?", 1)[1] if "?" in m["rest"] else ""
    absolute = (Path(base_dir) / path).resolve()
    return f"{m['scheme']}:///{absolute}" + (f"?{query}" if query else "")
