"""`prompt`: prompts in memory (kept beside the registry's models, as MLflow keeps them), their
reads and the case file's prompt facts (prompt and prompt_version read them together), the
write (a registered model's) and the sample."""

from __future__ import annotations

from mlreg.planner.kinds.prompt import LivePrompt, LivePromptVersion, PromptFacts, PromptRequest
from tests.unit.kinds import KindDouble
from tests.unit.kinds.model import write_registered


def store(world) -> None:
    world.prompts, world.prompt_versions = {}, {}


def read(world, r: PromptRequest) -> PromptFacts:
    prompts = {n: LivePrompt(n, dict(p["tags"]), dict(p["aliases"])) for n, p in world.prompts.items() if n in r.names}
    versions = {
        n: [LivePromptVersion(n, v["version"], v["template"], dict(v["tags"]), v["description"]) for v in vs]
        for n, vs in world.prompt_versions.items()
        if n in r.names
    }
    return PromptFacts(prompts, versions, frozenset(n for n in getattr(world, "models", {}) if n in r.names))


def facts(data: dict) -> dict:
    """prompts: {name: {tags, aliases}}; prompt_versions: {name: [{version, template, tags,
    commit_message}]}; registered_models: names that are models, not prompts."""
    prompts = {
        n: LivePrompt(n, p.get("tags", {}), {a: str(v) for a, v in p.get("aliases", {}).items()})
        for n, p in data.get("prompts", {}).items()
    }
    versions = {
        n: [
            LivePromptVersion(n, str(v["version"]), v.get("template"), v.get("tags", {}), v.get("commit_message", ""))
            for v in vs
        ]
        for n, vs in data.get("prompt_versions", {}).items()
    }
    return {PromptFacts: PromptFacts(prompts, versions, frozenset(data.get("registered_models", [])))}


DOUBLE = KindDouble(
    type="prompt",
    provider="mlreg/mlflow",
    sample="prompts:\n  a_prompt:\n    tags: {team: x}\n",
    store=store,
    write=lambda world, request: write_registered(world.prompts, world.prompt_versions, request),
    reads={PromptRequest: read},
    facts=facts,
    names=lambda world: sorted(world.prompts),
)
