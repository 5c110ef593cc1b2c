"""Keep secrets out of everything mlreg prints or writes.

Two kinds: passwords inside URLs (`postgresql://user:PASSWORD@host`), and values of environment
variables whose names say they are secret. Every output path (render, errors, state, plan files)
passes text through `redact`.
"""

from __future__ import annotations

import re
import threading

_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|token|secret|key)=)[^&\s]+")
_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def add_secret(value: str) -> None:
    # Very short values would mask ordinary words; they are not credible secrets anyway.
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def collect_from_env(env: dict[str, str]) -> None:
    for name, value in env.items():
        if is_secret_name(name):
            add_secret(value)


def url(text: str) -> str:
    """A URL with its password masked (for display)."""
    return redact(text)


def redact(text: str) -> str:
    if not text:
        return text
    out = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    out = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, out)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        out = out.replace(s, MASK)
    return out
