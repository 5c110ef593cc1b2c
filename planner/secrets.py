"""What state keeps of a secret, and how every output shows it.

MLflow never returns a webhook secret, a user's password or a gateway key, so state keeps a keyed
hash of the value last applied to notice a rotation. The key is random per state (`new_key`,
kept in the state's header) and never leaves it: a hash in a public artifact could be tested
offline against guesses, so no output, plan file or history carries one. Every value that is a
hash (`is_hash`) is shown as `SENSITIVE`.

Hashes written before the key existed (`pbkdf2-sha256:`, salted by the resource's name) are still
recognised, so an upgrade does not show every secret as rotated; at most LEGACY_CHECKS of them per
process (each costs a tenth of a second by design: a state with thousands would stall a plan), the
rest plan as rotated and are re-applied once with the keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
from collections.abc import Mapping
from typing import Any

SENSITIVE = "(sensitive value)"
PREFIX = "hmac-sha256:"
LEGACY_PREFIX = "pbkdf2-sha256:"
_PROCESS_KEY = _random.token_hex(32)  # for a state that has no key yet (a plan before the first apply)
LEGACY_CHECKS = 64
_legacy_left = [LEGACY_CHECKS]


def new_key() -> str:
    return _random.token_hex(32)


def is_hash(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((PREFIX, LEGACY_PREFIX))


class Hasher:
    """Keyed hashes of secrets with one state's key."""

    def __init__(self, key: str | None):
        self._key = bytes.fromhex(key or _PROCESS_KEY)

    def __repr__(self) -> str:
        return "Hasher(***)"

    def hash(self, secret: str) -> str:
        return PREFIX + hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def keep(self, secret: str, recorded: Any, legacy_salt: str = "") -> str:
        """The hash to plan for `secret`: what state recorded when it is this secret's (a legacy
        hash included), so an unchanged secret is no change; else a new hash."""
        if isinstance(recorded, str) and recorded.startswith(LEGACY_PREFIX) and legacy_salt and _legacy_left[0] > 0:
            _legacy_left[0] -= 1
            digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), legacy_salt.encode(), 200_000)
            if hmac.compare_digest(recorded, LEGACY_PREFIX + digest.hex()[:32]):
                return recorded
        return self.hash(secret)

    def same(self, recorded: Any, live: Any) -> bool:
        """Does a live value (MLflow returns it, e.g. a webhook URL that is a secret) match the
        hash state recorded?"""
        return isinstance(live, str) and isinstance(recorded, str) and hmac.compare_digest(recorded, self.hash(live))


def hidden(key: str, value: Any, sensitive=()) -> bool:
    """Is this attribute shown as SENSITIVE (the kind declares it so, or its value is a hash)?"""
    return (key in sensitive and value is not None) or is_hash(value)


def sensitive_keys(sensitive, *maps: Mapping[str, Any] | None) -> list[str]:
    """The attributes of these values that are shown as SENSITIVE."""
    keys: dict[str, None] = {}
    for m in maps:
        for k, v in (m or {}).items():
            if hidden(k, v, sensitive):
                keys[k] = None
    return list(keys)


def shown(values: Mapping[str, Any] | None, sensitive=()) -> dict[str, Any] | None:
    """`values` with every secret (a hash, or an attribute the kind declares sensitive) shown as
    SENSITIVE (None stays None)."""
    if values is None:
        return None
    return {k: (SENSITIVE if hidden(k, v, sensitive) else v) for k, v in values.items()}
