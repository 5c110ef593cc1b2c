"""`${VAR}` and `${VAR:-default}` in backend settings and webhook urls and secrets.

Values of variables whose names say they are secret (and every webhook secret) are remembered
by `redact`, so they never reach output, plan files, state or errors. Where a value becomes a
URL mlreg sends requests to (the backend settings), only MLflow's, mlreg's and libpq's own
variables expand (`BACKEND_VARIABLES`): a pull request's file must not be able to place another
secret of CI's environment (`${AWS_SECRET_ACCESS_KEY}`) in a request line. There, and in webhook
URLs, a reference is the whole value (`whole=True`): credentials come from the environment's own
variables, never spliced into a URL by the file (`postgresql://ci:${PGPASSWORD}@elsewhere/db`).
"""

from __future__ import annotations

import re

from mlreg.planner import redact
from mlreg.planner.config.source import Source

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ONLY_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# a whole value that is one reference, with an optional default that holds no reference itself
WHOLE_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}$]*))?\}$")
BACKEND_VARIABLES = re.compile(r"^(MLFLOW_|MLREG_|PG)")


def backend_variable(name: str) -> str | None:
    """Why a variable may not expand in a backend URL (`mlflow.tracking_uri`, `database.url`,
    `state.url`; None: it may). A secret never does: it would travel wherever the URL says, in a
    request line or a query parameter."""
    if not BACKEND_VARIABLES.match(name):
        return "in mlflow, database, state and workspace only MLFLOW_*, MLREG_* and PG* variables expand"
    if redact.is_secret_name(name):
        return (
            "a secret is never part of a URL: credentials come from the environment's own variables "
            "(MLFLOW_TRACKING_PASSWORD, PGPASSWORD, …), not through the file"
        )
    return None


def workspace_variable(name: str) -> str | None:
    """Why a variable may not expand in a workspace name (None: it may): only the one MLflow's own
    client reads."""
    return None if name == "MLFLOW_WORKSPACE" else "a workspace takes only ${MLFLOW_WORKSPACE}"


def no_variable(name: str) -> str | None:
    """For settings that are not URLs (state.path, state.backend): no environment reference."""
    return "this setting takes no environment reference: write its value"


# The credentials mlreg itself and the CI runner hold: mlreg's and MLflow's own variables, libpq's,
# and the forges' job tokens. A secret the file gives to MLflow (a webhook's signing key, a user's
# password, a gateway credential) is never one of them: MLflow would hold it, or sign with it for
# whatever URL the file names. MLREG_SECRET_* is the namespace `import` writes for such secrets.
_RUNNER_CREDENTIALS = re.compile(
    r"^(MLFLOW_|MLREG_|PG|GITHUB_|ACTIONS_|GITLAB_|RUNNER_|CI_(JOB_|REGISTRY_|DEPLOY_|DEPENDENCY_PROXY_|REPOSITORY_URL))"
)


def given_secret(name: str) -> str | None:
    """Why a variable may not be a secret given to MLflow (None: it may)."""
    if name.startswith("MLREG_SECRET_") or not _RUNNER_CREDENTIALS.match(name):
        return None
    return (
        "a secret given to MLflow may not be one of mlreg's or the CI runner's own credentials "
        "(MLFLOW_*, MLREG_*, PG*, GITHUB_*, ACTIONS_*, GITLAB_*, RUNNER_*, CI_JOB_*, CI_REGISTRY_*, CI_DEPLOY_*, …); "
        "name it MLREG_SECRET_* or your own"
    )


def not_secret(name: str) -> str | None:
    """Why a variable may not expand in a URL sent to MLflow (None: it may)."""
    if redact.is_secret_name(name):
        return "a URL is no place for a secret: use the webhook's `secret:`"
    return None


class Environ(dict):
    """The variables `${VAR}` reads. `offline` (`validate`, `graph`, the pre-commit hook): a
    reference must be well-formed and allowed where it stands, not set; CI's validate step has no
    secrets by design. The paths whose value depends on an unset variable are collected in
    `unset`, so that the value itself (a URL's shape) is not judged: nobody has it."""

    def __init__(self, env: dict[str, str], offline: bool = False):
        super().__init__(env)
        self.offline = offline
        self.unset: set[tuple] = set()
        self.refused: set[tuple] = set()  # paths whose reference was refused (already reported)


def _not_judged(env, path: tuple) -> None:
    """A value left empty by a refused reference: reported once, not judged again (no follow-on
    "not a URL")."""
    if isinstance(env, Environ):
        env.refused.add(path)


def references(value: str) -> bool:
    return "${" in value


def expand(
    value,
    path: tuple,
    env: dict[str, str],
    source: Source,
    errors: list,
    secret: bool = False,
    allowed=None,
    whole: bool = False,
):
    """Expand variables in the strings of `value` (recursively); problems go to `errors`.
    `allowed(name)` says why a variable may not be used here (None: it may). `whole`: a reference
    must be the whole value (`${MLREG_DATABASE_URL}`), not part of a longer string."""
    if isinstance(value, dict):
        return {k: expand(v, path + (k,), env, source, errors, secret, allowed, whole) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, path + (i,), env, source, errors, secret, allowed, whole) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    if whole and references(value) and not WHOLE_VAR.match(value):
        names = ", ".join(dict.fromkeys(m.group(1) for m in VAR.finditer(value))) or "a variable"
        errors.append(
            source.diag(
                path,
                f"A reference to {names} must be the whole value here, such as ${{MLREG_DATABASE_URL}}",
                "credentials and endpoints come from the environment's own variables (MLflow's, libpq's), "
                "never spliced into a URL by the file",
            )
        )
        _not_judged(env, path)
        return ""

    def sub(m):
        name, default = m.group(1), m.group(2)
        refused = allowed(name) if allowed is not None else None
        if refused:
            errors.append(source.diag(path, f"Environment variable {name} may not be used here", refused))
            _not_judged(env, path)
            return ""
        if name in env:
            if secret or redact.is_secret_name(name):
                redact.add_secret(env[name])
            return env[name]
        if default is not None:
            return default
        if isinstance(env, Environ):
            env.unset.add(path)
            if env.offline:
                return ""
        errors.append(
            source.diag(
                path, f"Environment variable {name} is not set", f"set {name} or give a default: ${{{name}:-value}}"
            )
        )
        return ""

    return VAR.sub(sub, value)
