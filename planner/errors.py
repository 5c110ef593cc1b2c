"""The exceptions mlreg raises on purpose: the families every part shares, here. A part that
needs a narrower one defines it beside its use, as a subclass of one of these (the MLflow
transport's `MlflowApiError` and `WorkspaceMissing`, workflow's `ReadBackMismatch` and
`ImportMismatch`, the forge's `ForgeError`), so the CLI knows every one as an `MlregError`.

Errors a user can cause in the file are not exceptions: they are `Diagnostic`s, collected and
shown together. Exceptions are for a live system that fails or refuses, a lock held, a stale or
tampered plan, and bugs; the CLI prints an `MlregError` as one line and exits 1.
"""

from __future__ import annotations


class MlregError(Exception):
    """A problem to report, not a bug: printed as one line (no traceback unless --debug), exit 1."""


class UserError(MlregError):
    """Something the user can fix by changing how mlreg is called."""


class ConfigInvalid(MlregError):
    """registry.yaml (or a generated file) has errors; `diagnostics` lists every one of them."""

    def __init__(self, message: str, diagnostics=()):
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


class BackendError(MlregError):
    """A live system (MLflow, the policy database, the state database) failed or refused."""


class BackendUnavailable(BackendError):
    """A live system did not answer within the backend timeout; an apply stops as a whole."""


class AmbiguousWrite(BackendError):
    """A write that is not idempotent got no clear answer (connection lost, timeout, 5xx): the
    server may or may not have done it. The caller re-reads before doing anything else."""


class StateLocked(MlregError):
    """Another writer holds the state lock; the message names the holder and the force-unlock id."""

    def __init__(self, message: str, holder=None):
        super().__init__(message)
        self.holder = holder


class StaleSerial(MlregError):
    """A state write that would move state backwards (an older serial than the stored one)."""


class StalePlan(MlregError):
    """A saved plan that no longer matches what registry.yaml, state and live values produce."""


class PlanRefused(MlregError):
    """The plan has errors (rule or gate violations, unresolvable matchers): nothing is applied."""
