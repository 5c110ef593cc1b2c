"""Drift: live values against the values mlreg last applied (state), for every managed resource.

Kinds say what their live values are; this module compares, attribute by attribute (tags and
aliases key by key, since only the keys mlreg owns are recorded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlreg.planner.changes import DriftItem
from mlreg.planner.kinds.base import DriftContext
from mlreg.planner.kinds.catalog import GRANTS, KINDS, kind_of
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import StateSnapshot
from mlreg.planner.secrets import SENSITIVE, Hasher, is_hash


def compare(
    address: str,
    type_: str,
    recorded: Mapping[str, Any],
    live: Mapping[str, Any],
    when=None,
    user=None,
    sensitive=(),
    per_key=(),
    timed=None,
    hasher: Hasher | None = None,
) -> list[DriftItem]:
    """Attribute by attribute; `per_key` attributes (tags) key by key, since only the keys mlreg
    owns are recorded; `sensitive` ones never (MLflow never returns a secret). `when` / `user`
    go only with the attributes in `timed` (None: all): those whose change MLflow records. A value
    recorded as a hash that live does return (a webhook URL that is a secret) is compared hashed
    with the state's key (`hasher`), and shown as SENSITIVE."""
    out = []
    for attr, rec in recorded.items():
        if attr in sensitive:
            continue
        at, by = (when, user) if timed is None or attr in timed else (None, None)
        if is_hash(rec):
            now = live.get(attr)
            if attr in live and not is_hash(now) and hasher is not None and not hasher.same(rec, now):
                out.append(DriftItem(address, type_, attr, SENSITIVE, SENSITIVE, at, by))
            continue
        if isinstance(rec, dict) and attr in per_key:
            now = live.get(attr) or {}
            for key, value in rec.items():
                if now.get(key) != value:
                    out.append(DriftItem(address, type_, f"{attr}.{key}", value, now.get(key), at, by))
        elif attr in live and live[attr] != rec:
            out.append(DriftItem(address, type_, attr, rec, live[attr], at, by))
    return out


def detect(
    state: StateSnapshot, live: LiveSnapshot, only: set[str] | None = None, notes: bool = True, cfg=None
) -> list[DriftItem]:
    """Drift of every recorded resource, or only of `only` (a plan passes the addresses it
    changes: where live equals both the file and state there is nothing to report). `cfg`: the
    file's configuration, whose rules say which notes count as drift."""
    out = []
    hasher = Hasher(state.secret_key)
    for addr in sorted(state.resources if only is None else only & state.resources.keys()):
        rs = state.resources[addr]
        kind = kind_of(rs.type)
        now, when, user = kind.live_values(rs, live)
        if now is None:
            out.append(DriftItem(addr, rs.type, None, note=kind.gone_note(rs)))
        else:
            out.extend(
                compare(addr, rs.type, rs.attributes, now, when, user, kind.sensitive, kind.per_key, kind.timed, hasher)
            )
    if notes:
        ctx = DriftContext(state, live, cfg, GRANTS)
        for kind in KINDS.values():
            out.extend(kind.drift_notes(ctx))
    return out
