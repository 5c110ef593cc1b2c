"""In CI (`CI=true`), no embedded default: a job whose secrets are missing must not plan against
an empty local SQLite file and report "37 to adopt" as if that were the registry.

`plan`, `apply` and `drift` refuse, with one line naming what to set, when nothing configures
MLflow (`MLFLOW_TRACKING_URI` or the file), the policy database where the file declares policy
versions (`MLREG_DATABASE_URL` or the file), or where state is kept. A value the file writes as
`${VAR:-default}` is configured only when VAR is set. A local state file in CI is used only when
the file says `state: {backend: local}` explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlreg.planner.config.defaults import DEFAULT_DATABASE_URL, DEFAULT_TRACKING_URI
from mlreg.planner.errors import UserError

if TYPE_CHECKING:
    from mlreg.planner.config.schema import LoadedConfig

_WITH_DEFAULT = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*):-[^}]*\}$")
_DATABASE_PROVIDER = "mlreg/postgres"  # the provider that keeps policy versions


def in_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").strip().lower() in ("true", "1")


def _defaulted(section, key: str, default: str, env: Mapping[str, str]) -> str | None:
    """The variable to set when the value comes from mlreg's embedded default: the file does not
    write it (its default is `${VAR:-…}`), or writes a `${VAR:-…}` whose VAR is unset or empty.
    None: configured (a literal value is the file's explicit choice)."""
    written = section.get(key) if isinstance(section, dict) else None
    value = default if written is None else written
    found = _WITH_DEFAULT.match(value) if isinstance(value, str) else None
    return found.group(1) if found and not env.get(found.group(1), "").strip() else None


def unconfigured(loaded: LoadedConfig, env: Mapping[str, str]) -> list[str]:
    """What a CI job must set, in words; empty when everything is configured."""
    from mlreg.planner.kinds.catalog import KINDS

    raw, cfg = loaded.raw_backends, loaded.config
    out = []
    variable = _defaulted(raw.get("mlflow"), "tracking_uri", DEFAULT_TRACKING_URI, env)
    if variable:
        out.append(f"set {variable} (MLflow)")
    state = raw.get("state") if isinstance(raw.get("state"), dict) else {}
    in_database = cfg.state.backend == "postgres" and state.get("url") is None
    declares_policies = any(k.provider == _DATABASE_PROVIDER and k.count(cfg) for k in KINDS.values())
    variable = _defaulted(raw.get("database"), "url", DEFAULT_DATABASE_URL, env)
    if variable and (declares_policies or in_database):
        out.append(f"set {variable} (the policy database" + (" and state)" if in_database else ")"))
    if "backend" not in state:
        out.append(
            "say in the file where state is kept: `state: {backend: postgres}` (or `state: {backend: local}` "
            "for a state file kept beside it)"
        )
    elif cfg.state.backend == "postgres" and state.get("url") is not None:
        variable = _defaulted(state, "url", "", env)
        if variable:
            out.append(f"set {variable} (state)")
    return out


def require_configured(loaded: LoadedConfig, env: Mapping[str, str]) -> None:
    """In CI, refuse to fall back on an embedded store (see the module's docstring)."""
    if not in_ci(env):
        return
    missing = unconfigured(loaded, env)
    if missing:
        raise UserError(
            f"CI=true, and {loaded.path} falls back on an embedded local store: "
            + "; ".join(missing)
            + ". In CI mlreg never plans against an empty local SQLite file"
        )
