"""`${VAR}` and `${VAR:-default}` in backend settings and webhook urls and secrets.

Values of variables whose names say they are secret (and every webhook secret) are remembered
by `redact`, so they never reach output, plan files, state or errors.
"""

from __future__ import annotations

import re

from mlreg.planner import redact
from mlreg.planner.config.source import Source

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ONLY_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def expand(value, path: tuple, env: dict[str, str], source: Source, errors: list, secret: bool = False):
    """Expand variables in the strings of `value` (recursively); problems go to `errors`."""
    if isinstance(value, dict):
        return {k: expand(v, path + (k,), env, source, errors, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, path + (i,), env, source, errors, secret) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m):
        name, default = m.group(1), m.group(2)
        if name in env:
            if secret or redact.is_secret_name(name):
                redact.add_secret(env[name])
            return env[name]
        if default is not None:
            return default
        errors.append(
            source.diag(
                path, f"Environment variable {name} is not set", f"set {name} or give a default: ${{{name}:-value}}"
            )
        )
        return ""

    return VAR.sub(sub, value)
