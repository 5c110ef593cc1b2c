"""`${VAR}` and `${VAR:-default}` in backend settings; secrets found there are remembered."""

from __future__ import annotations

import re

from planner import redact
from planner.source import Source

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_section(section: dict, path: tuple, env: dict[str, str], source: Source):
    """Expand variables in the string values of one section (recursively). Returns (data, errors)."""
    errors = []

    def expand(value, vpath):
        if isinstance(value, dict):
            return {k: expand(v, vpath + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v, vpath + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value

        def sub(m):
            name, default = m.group(1), m.group(2)
            if name in env:
                if redact.is_secret_name(name):
                    redact.add_secret(env[name])
                return env[name]
            if default is not None:
                return default
            errors.append(source.diag(vpath, f"Environment variable {name} is not set",
                                      f"set {name} or give a default: ${{{name}:-value}}"))
            return ""

        return _VAR.sub(sub, value)

    return expand(section, path), errors
