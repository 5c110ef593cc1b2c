"""How long mlreg keeps trying a live system that does not answer, shared by every thread that
talks to it (a circuit breaker with a budget).

Once a system has answered, a stretch of failures is retried with backoff until it has lasted
the backend timeout (MLREG_BACKEND_TIMEOUT, `--backend-timeout`, default 60 s); then
`BackendUnavailable` stops the command. A system that never answered gets FIRST_CONTACT seconds
(a wrong URL or a server that is down fails fast at plan time). Only idempotent requests are
retried; see rest.py for what that means per request.
"""

from __future__ import annotations

import os
import threading
import time

from mlreg.planner.errors import BackendUnavailable

DEFAULT_TIMEOUT = 60.0
FIRST_CONTACT = 5.0
CONNECT_TIMEOUT = 10.0


def backend_timeout(value: float | None = None) -> float:
    if value is not None:
        return max(1.0, value)
    try:
        return max(1.0, float(os.environ.get("MLREG_BACKEND_TIMEOUT", DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


class Patience:
    def __init__(self, what: str, budget: float | None = None, hint: str = ""):
        self.what = what  # "MLflow at http://…" (password masked)
        self.budget = backend_timeout(budget)
        self.hint = hint
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0
        self._ever_ok = False

    def _limit(self) -> float:
        return self.budget if self._ever_ok else min(self.budget, FIRST_CONTACT)

    def ok(self) -> None:
        with self._lock:
            self._since = None
            self._failures = 0
            self._ever_ok = True

    def attempt_timeout(self) -> float:
        """Seconds one attempt may take: what is left of the budget in a bad stretch."""
        with self._lock:
            if self._since is None:
                return self.budget
            return max(1.0, self._limit() - (time.monotonic() - self._since))

    def failed(self, started: float, error: str) -> float:
        """Record a failed attempt that began at `started`; return how long to wait before the
        next one, or raise BackendUnavailable once the stretch has lasted the budget."""
        with self._lock:
            if self._since is None:
                self._since = started
            self._failures += 1
            elapsed = time.monotonic() - self._since
            limit = self._limit()
            if elapsed >= limit:
                raise BackendUnavailable(f"{self.what} did not answer for {elapsed:.0f} s ({error}){self.hint}")
            return min(0.25 * 2 ** min(self._failures - 1, 5), 5.0, limit - elapsed)
