"""A refused PostgreSQL login, told apart from a database that does not answer.

libpq reports both as an `OperationalError` before any statement runs; a wrong password or an
unknown role will not get better by waiting, so it is said at once (never retried), the reason
first, with the credential variables that were set (names only, as for MLflow's logins).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from mlreg.planner import redact

# What PostgreSQL says when it will not let this login in (the server's FATAL message).
_REFUSED = re.compile(
    r"(password authentication failed for user \S+"
    r"|role \S+ does not exist"
    r"|no pg_hba\.conf entry for [^\n]*?(?=$|\n)"
    r"|fe_sendauth: no password supplied)"
)
CREDENTIAL_VARIABLES = ("PGPASSWORD", "PGPASSFILE", "PGUSER", "PGSERVICE")


def refused_login(error: BaseException) -> str | None:
    """The server's reason, when `error` (a DBAPI error or its SQLAlchemy wrapper) is a refused
    login; None for anything else (a database down or busy is retried elsewhere)."""
    text = str(getattr(error, "orig", error))
    found = _REFUSED.search(text)
    return found.group(1).strip() if found else None


def login_message(reason: str, target: str, url: str, env: Mapping[str, str] | None = None) -> str:
    """`password authentication failed for user "x": database postgresql://x:***@h/db refused the
    login; PGPASSWORD is set` — the reason first, then where, then what was used (names only)."""
    env = os.environ if env is None else env
    used = [n for n in CREDENTIAL_VARIABLES if env.get(n)]
    try:
        in_url = urlsplit(url).password is not None
    except ValueError:
        in_url = False
    if in_url:
        used.insert(0, "the URL's password")
    said = f"{' and '.join(used)} {'is' if len(used) == 1 else 'are'} set" if used else "no password is set"
    return redact.redact(f"{reason}: {target} refused the login ({said}; check them, then run the command again)")
