"""Model-version stages, kept in MLflow as the version tag `stage` (the MLflow guide, "Setting Stages via Tags")."""

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
        return _TAG_VALUES[self]


def stage_of(tag_value: str | None) -> str:
    """The stage name for a live tag value: lowercase, "none" when absent."""
    return "none" if tag_value is None else tag_value.lower()


# Looked up once per declared version: a plain dict is far cheaper than the enum's `.value`.
_TAG_VALUES = {s: (None if s is Stage.NONE else s.value) for s in Stage}
