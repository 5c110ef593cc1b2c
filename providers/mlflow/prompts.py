"""Prompts, the way `mlflow.genai.register_prompt` keeps them: a registered model tagged
`mlflow.prompt.is_prompt = true`; each version a model version with the template in the tag
`mlflow.prompt.text` (and `_mlflow_prompt_type = text`), its commit message as the description and
the placeholder source MLflow's own client sends. So `mlflow.genai.load_prompt("prompts:/NAME@ALIAS")`
returns the declared template.

Reads are bulk (`name IN` chunks, filtered on the prompt tag: MLflow's search otherwise leaves
prompts out); a version create carries the apply's token like a model version's, and an answer
lost on the way is resolved the same way (models.ModelWrites.recover).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlreg.planner.kinds.prompt import (
    IS_PROMPT_TAG,
    TEXT_TAG,
    TYPE_TAG,
    LivePrompt,
    LivePromptVersion,
    PromptFacts,
    PromptRequest,
    user_tags,
)
from mlreg.planner.kinds.registry import APPLY_TOKEN_TAG
from mlreg.planner.model import Action, Change
from mlreg.providers.mlflow.models import ModelWrites

PROMPT_FILTER = f"tags.`{IS_PROMPT_TAG}` = 'true'"
SOURCE = "dummy-source"  # what MLflow's client sends for prompt versions (the server accepts no other)


class Prompts:
    def __init__(self, api, reader, models: ModelWrites):
        self.api = api
        self.reader = reader
        self.models = models

    # -- reads -------------------------------------------------------------------------------------
    def read(self, request: PromptRequest) -> PromptFacts:
        if hasattr(self.api, "exists") and not self.api.exists():
            return PromptFacts(note=f"{self.api.target} does not exist yet: apply creates it")
        names = request.names
        if not names:
            return PromptFacts()
        filters = self.reader.name_filters(names)

        def both(f):
            return f"{PROMPT_FILTER} AND {f}" if f else PROMPT_FILTER

        found = [m for f in filters for m in self.api.search_models(both(f)) if m.name in names]
        prompts = {m.name: LivePrompt(m.name, user_tags(m.tags), m.aliases, m.last_updated) for m in found}
        versions: dict[str, list[LivePromptVersion]] = {}
        for f in filters:
            for v in self.api.search_versions(both(f)):
                if v.name in prompts:
                    versions.setdefault(v.name, []).append(
                        LivePromptVersion(
                            v.name,
                            v.version,
                            v.tags.get(TEXT_TAG),
                            user_tags(v.tags),
                            v.description,
                            v.tags.get(APPLY_TOKEN_TAG),
                            v.last_updated,
                        )
                    )
        missing = names - prompts.keys()
        models = (
            {m.name for f in self.reader.name_filters(missing) for m in self.api.search_models(f) if m.name in missing}
            if missing
            else set()
        )
        return PromptFacts(prompts, versions, frozenset(models))

    def names(self) -> list[str]:
        return [m.name for m in self.api.search_models(PROMPT_FILTER)]

    # -- writes ------------------------------------------------------------------------------------
    def prompt(self, change: Change, phase: str, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """A prompt is a registered model tagged as one: the model writes, with that tag at creation."""
        return self.models.model(change, phase, resolved, extra_tags={IS_PROMPT_TAG: "true"})

    def version(self, change: Change, phase: str, resolved: Mapping[str, Any]) -> dict[str, Any]:
        name = change.identity["name"]
        if change.action is Action.DELETE:
            self.api.delete_version(name, change.identity["version"])
            return dict(change.identity)
        after = dict(change.after or {})
        if change.before is None:
            template = after["template"]
            tags = {**(after.get("tags") or {}), IS_PROMPT_TAG: "true", TYPE_TAG: "text", TEXT_TAG: template}
            mv = self.models.create_once(
                name,
                SOURCE,
                None,
                tags,
                after.get("commit_message"),
                None,
                lambda v: v.tags.get(TEXT_TAG) == template,
                prompt=True,
            )
            return {"name": name, "version": mv.version, "key": change.identity["key"]}
        before = dict(change.before)
        version = change.identity["version"]
        # the commit message is the version's description in MLflow
        self.models.converge_version(
            name,
            version,
            before.get("commit_message"),
            after.get("commit_message"),
            before.get("tags") or {},
            after.get("tags") or {},
        )
        return {"name": name, "version": str(version), "key": change.identity["key"]}
