"""Glob patterns in grants (`resource_pattern: planner_*`), read alike by the `access:` section's
check and by the access kinds that expand them (no pydantic here: the kinds import it)."""

from __future__ import annotations

import re

GLOB = re.compile(r"[*?\[]")


def is_glob(pattern: str) -> bool:
    """A pattern mlreg expands: glob characters, and not MLflow's own "*" (every resource)."""
    return pattern != "*" and bool(GLOB.search(pattern))
