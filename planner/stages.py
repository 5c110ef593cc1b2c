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
        return TAG_VALUES[self]

    @classmethod
    def named(cls, name: str) -> Stage | None:
        """The stage of that name, or None for a name that is not a stage (a hand-set tag value)."""
        return _BY_NAME.get(name)


def stage_of(tag_value: str | None) -> str:
    """The stage name for a live tag value: lowercase, "none" when absent."""
    return "none" if tag_value is None else tag_value.lower()


# Looked up once per declared version: a plain dict is far cheaper than the enum's `.value`.
TAG_VALUES: dict[Stage, str | None] = {s: (None if s is Stage.NONE else s.value) for s in Stage}
_BY_NAME = {s.value: s for s in Stage}
