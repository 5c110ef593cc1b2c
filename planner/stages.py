"""Model-version stages, kept in MLflow as the version tag `stage` (seed §5.3)."""

from __future__ import annotations

from enum import Enum

STAGE_TAG = "stage"


class Stage(str, Enum):
    """NONE means the `stage` tag is absent."""

    NONE = "none"
    CANDIDATE = "candidate"
    PRODUCTION = "production"
    ARCHIVED = "archived"

    @property
    def tag_value(self) -> str | None:
        return None if self is Stage.NONE else self.value


def stage_of(tag_value: str | None) -> str:
    """The stage name for a live tag value: lowercase, "none" when absent."""
    return "none" if tag_value is None else tag_value.lower()
