"""Keep secrets out of everything mlreg prints or writes.

Two kinds: passwords inside URLs (`postgresql://user:PASSWORD@host`), and values of environment
variables whose names say they are secret (and every webhook secret, user password or webhook URL
the file references). Documents are redacted before they are encoded (`redact_tree`); text that
was already encoded is redacted in every form a secret can take there (`redact`: as is,
lowercased and uppercased, JSON-escaped, `\\u`-escaped, URL-encoded, as Python's `repr` writes
it, and as each output escapes it), so a secret holding `"`, `\\` or non-ASCII characters, or
one a message lowercased, is masked too.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote

# PASS covers PASSWD and PASSPHRASE; `_PWD` a password, not the shell's PWD (a path in every line)
_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|_PWD$|^PWD_|DSN|PRIVATE|COOKIE|SESSION", re.IGNORECASE)
# `@` as is, or as Markdown escapes it (`&#64;`): the comment escapes values before output is masked
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*(?:://|&#58;//))(?P<user>[^:/@\s&]*):(?P<pw>(?:(?!&#64;)[^@/\s])+)(?P<at>@|&#64;)"
)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|token|secret|key)=)[^&\s]+")
_forms: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _encoded_forms(value: str) -> set[str]:
    from mlreg.planner.render import escape  # the output escapes: a secret as each output shows it

    forms: set[str] = set()
    for v in {value, value.lower(), value.upper()}:
        forms |= {v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1], quote(v, safe="")}
        forms |= {repr(v)[1:-1], ascii(v)[1:-1], quote(v)}
        forms |= {escape.text(v), escape.md(v), escape.mermaid(v), escape.dot(v)[1:-1]}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}  # an escaped form inside a JSON document
    forms |= {repr(f)[1:-1] for f in list(forms)}  # and inside a Python repr
    return {f for f in forms if len(f) >= 4}


def add_secret(value: str) -> None:
    # Very short values would mask ordinary words; they are not credible secrets anyway.
    if value and len(value) >= 4:
        with _lock:
            _forms.update(_encoded_forms(value))


def collect_from_env(env: dict[str, str]) -> None:
    """Remember the values of secret-named variables, and the password inside every URL-valued
    one (MLREG_DATABASE_URL's, as written and decoded): a path that drops the URL's `//` (a
    normalised file path) leaves no URL for the pattern to find, but the password is still known."""
    from urllib.parse import unquote

    for name, value in env.items():
        if is_secret_name(name):
            add_secret(value)
        if "@" in value and ":" in value:
            for m in _URL_PASSWORD.finditer(value):
                add_secret(m["pw"])
                add_secret(unquote(m["pw"]))


def url(text: str) -> str:
    """A URL with its password masked (for display)."""
    return redact(text)


def redact(text: str) -> str:
    if not text:
        return text
    out = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}{m['at']}", text)
    out = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, out)
    with _lock:
        forms = sorted(_forms, key=len, reverse=True)
    for s in forms:
        if s in out:
            out = out.replace(s, MASK)
    return out


def redact_tree(value: Any) -> Any:
    """A JSON-like value with every string (keys included) redacted, before it is encoded."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {(redact(k) if isinstance(k, str) else k): redact_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(v) for v in value]
    return value
