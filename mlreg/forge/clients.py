"""The forge's REST client for a target (kept apart from target.py, which the clients import)."""

from __future__ import annotations

from mlreg.forge.github import GitHub
from mlreg.forge.gitlab import GitLab
from mlreg.forge.target import GITHUB, Target


def client(target: Target) -> GitHub | GitLab:
    """The forge's REST client, sending the token to `target.api_url` only."""
    return GitHub(target) if target.forge == GITHUB else GitLab(target)
