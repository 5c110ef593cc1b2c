"""The `prompts:` section: MLflow 3's prompt registry. A prompt version is immutable and is
identified by its template (or adopted by number); aliases are listed on the version they point at."""

from __future__ import annotations

import hashlib
import re
from functools import cached_property

from pydantic import Field, model_validator

from mlreg.planner.config.base import AliasName, Frozen, Tags
from mlreg.planner.config.sections.registry import Section, register

# MLflow's rule for prompt names (mlflow.prompt.constants.PROMPT_NAME_RULE)
PROMPT_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")


class PromptVersionSpec(Frozen):
    template: str | None = None
    """The template text; a different text is a new version (prompt versions are immutable)."""
    version: int | None = Field(default=None, ge=1)
    """Adopt an existing version by number instead of giving its template."""
    commit_message: str | None = None  # set when the version is registered
    """The message the version is registered with (new versions only)."""
    tags: Tags = Field(default_factory=dict)
    """Tags of this prompt version (only these keys are managed)."""
    aliases: list[AliasName] = Field(default_factory=list)
    """Aliases of the prompt that point at this version."""

    @model_validator(mode="after")
    def _one_identity(self):
        if (self.template is None) == (self.version is None):
            found = ", ".join(k for k in ("template", "version") if getattr(self, k) is not None) or "none"
            raise ValueError(f"a prompt version needs exactly one of template, version (found: {found})")
        if self.version is not None and self.commit_message is not None:
            raise ValueError("commit_message is set when a version is registered; `version: N` adopts one that exists")
        return self

    @cached_property
    def key(self) -> str:
        """`v3` for `version: 3`, `sha256:` and 12 hex digits of the template's SHA-256 otherwise."""
        if self.version is not None:
            return f"v{self.version}"
        return "sha256:" + hashlib.sha256(self.template.encode()).hexdigest()[:12]


class PromptSpec(Frozen):
    tags: Tags = Field(default_factory=dict)
    """Tags of the prompt (only these keys are managed)."""
    versions: list[PromptVersionSpec] = Field(default_factory=list)
    """The prompt's versions, oldest first."""


def check(ctx) -> None:
    """Names, duplicate versions, one alias on two versions, a name that is also a model."""
    prompts = ctx.cfg.prompts if ctx.cfg is not None else ctx.section("prompts")
    models = ctx.section("models")
    for name, prompt in prompts.items():
        where = ("prompts", name)
        if not isinstance(name, str) or not PROMPT_NAME.match(name):
            ctx.error(where, f"Prompt name {name!r} is not allowed", "letters, digits, '_', '-' and '.' only")
        if name in models:
            ctx.error(
                where,
                f"{name!r} is declared both as a model and as a prompt",
                "MLflow keeps both as registered models: a name is one or the other",
            )
        if ctx.cfg is not None:
            versions = list(enumerate(prompt.versions))
        else:
            raw = (
                prompt.get("versions") if isinstance(prompt, dict) and isinstance(prompt.get("versions"), list) else []
            )
            versions = [(i, v) for i, rv in enumerate(raw) if (v := ctx.valid(PromptVersionSpec, rv)) is not None]
        seen: dict[str, int] = {}
        aliases: dict[str, int] = {}
        for i, v in versions:
            if v.key in seen:
                ctx.error(
                    where + ("versions", i),
                    f"Version {v.key} is declared twice (also versions[{seen[v.key]}])",
                    "the same template twice is the same version",
                )
            seen[v.key] = i
            for alias in v.aliases:
                if alias in aliases:
                    ctx.error(
                        where + ("versions", i, "aliases"),
                        f"Alias {alias!r} is listed on two versions (also versions[{aliases[alias]}])",
                        "an alias points at one version",
                    )
                aliases[alias] = i
        if ctx.track_declared:
            ctx.declared.add(f"prompt.{name}")
            ctx.declared.update(f"prompt_version.{name}[{k}]" for k in seen)


def _aliases(entry: dict) -> set[str]:
    """Prompts list their aliases on the versions they point at."""
    out = set()
    for v in entry.get("versions") or []:
        if isinstance(v, dict) and isinstance(v.get("aliases"), list):
            out.update(a for a in v["aliases"] if isinstance(a, str))
    return out


SECTION = register(
    Section(
        "prompts",
        PromptSpec,
        "MLflow 3 prompts (by name): tags and versions, each identified by its template",
        check=check,
        order=5,
        aliases=_aliases,
    )
)
