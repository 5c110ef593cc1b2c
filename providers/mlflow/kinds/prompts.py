"""Prompts, the way `mlflow.genai.register_prompt` keeps them: a registered model tagged
`mlflow.prompt.is_prompt = true`; each version a model version with the template in the tag
`mlflow.prompt.text` (and `_mlflow_prompt_type = text`), its commit message as the description and
the placeholder source MLflow's own client sends. So `mlflow.genai.load_prompt("prompts:/NAME@ALIAS")`
returns the declared template.

Reads are bulk (`name IN` chunks, filtered on the prompt tag: MLflow's search otherwise leaves
prompts out); a version create carries the apply's token like a model version's, and an answer
lost on the way is resolved the same way (registry_writes.RegistryWrites.recover).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action
from mlreg.planner.kinds.mlflow_facts import APPLY_TOKEN_TAG, IS_PROMPT_TAG, PROMPT_TEXT_TAG, PROMPT_TYPE_TAG
from mlreg.planner.kinds.prompt import LivePrompt, LivePromptVersion, PromptFacts, PromptRequest, user_tags
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow.registry_reads import PROMPT_FILTER, both

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow

SOURCE = "dummy-source"  # what MLflow's client sends for prompt versions (the server accepts no other)


@DISPATCH.reads(PromptRequest)
def read(mf: Mlflow, request: PromptRequest) -> PromptFacts:
    reads = mf.reads
    if not mf.api.exists():
        return PromptFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    names = request.names
    if not names:
        return PromptFacts()
    filters = reads.name_filters(names)
    found = [m for f in filters for m in reads.search_models(both(PROMPT_FILTER, f)) if m.name in names]
    prompts = {m.name: LivePrompt(m.name, user_tags(m.tags), m.aliases, m.last_updated) for m in found}
    versions: dict[str, list[LivePromptVersion]] = {}
    for f in filters:
        for v in reads.search_versions(both(PROMPT_FILTER, f)):
            if v.name in prompts:
                versions.setdefault(v.name, []).append(
                    LivePromptVersion(
                        v.name,
                        v.version,
                        v.tags.get(PROMPT_TEXT_TAG),
                        user_tags(v.tags),
                        v.description,
                        v.tags.get(APPLY_TOKEN_TAG),
                        v.last_updated,
                    )
                )
    missing = names - prompts.keys()
    models = (
        {m.name for f in reads.name_filters(missing) for m in reads.search_models(f) if m.name in missing}
        if missing
        else set()
    )
    return PromptFacts(prompts, versions, frozenset(models))


@DISPATCH.lists("prompt")
def names(mf: Mlflow) -> list[str]:
    return [m.name for m in mf.reads.search_models(PROMPT_FILTER)]


@DISPATCH.writes("prompt")
def write_prompt(mf: Mlflow, request: WriteRequest) -> WriteResult:
    """A prompt is a registered model tagged as one: the model writes, with that tag at creation."""
    return mf.writes.model(request, extra_tags={IS_PROMPT_TAG: "true"})


@DISPATCH.writes("prompt_version")
def write_version(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    name = change.identity["name"]
    writes = mf.writes
    if change.action is Action.DELETE:
        writes.delete_version(name, change.identity["version"])
        return WriteResult(dict(change.identity))
    after = dict(change.after or {})
    if change.before is None:
        template = after["template"]
        tags = {
            **(after.get("tags") or {}),
            IS_PROMPT_TAG: "true",
            PROMPT_TYPE_TAG: "text",
            PROMPT_TEXT_TAG: template,
        }
        mv = writes.register_version(
            name,
            SOURCE,
            None,
            tags,
            after.get("commit_message"),
            None,
            lambda v: v.tags.get(PROMPT_TEXT_TAG) == template,
            request.apply_id,
            prompt=True,
        )
        return WriteResult({"name": name, "version": mv.version, "key": change.identity["key"]})
    before = dict(change.before)
    version = change.identity["version"]
    # the commit message is the version's description in MLflow
    writes.converge_version(
        name,
        version,
        before.get("commit_message"),
        after.get("commit_message"),
        before.get("tags") or {},
        after.get("tags") or {},
    )
    return WriteResult({"name": name, "version": str(version), "key": change.identity["key"]})
