"""`prompt.NAME` and `prompt_version.NAME[KEY]`: MLflow 3's prompt registry.

MLflow keeps a prompt as a registered model tagged `mlflow.prompt.is_prompt = true`, and each
version as a model version whose tag `mlflow.prompt.text` holds the template. mlreg reads them as
their own facts (never as models): a prompt's declared tag keys and aliases, and each declared
version (identified by its template, or adopted by number) with its declared tag keys. A version
is immutable: an edited template is a new version (`+ create`) and the old entry is forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Address, Change, address
from mlreg.planner.kinds.base import (
    ALIASES,
    MAIN,
    Chosen,
    DiffContext,
    Findings,
    Importer,
    Kind,
    Phase,
    Resolved,
    alias_deletions,
    created,
    decide,
    dump,
    owned,
    picked,
)
from mlreg.planner.kinds.grants import Grant
from mlreg.planner.kinds.mlflow_facts import (
    APPLY_TOKEN_TAG,
    IS_PROMPT_TAG,
    MLFLOW_TAG_PREFIXES,
    PROMPT_TEXT_TAG,
    PROMPT_TYPE_TAG,
    PROVIDER,
    user_set_tags,
)
from mlreg.planner.kinds.versioned import Versioned
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.prompts import PromptSpec, PromptVersionSpec
    from mlreg.planner.config.sections.removed import RemovedSpec

PROMPT, VERSION = "prompt", "prompt_version"
SECTION = "prompts"  # config/sections/: its types and checks


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags a person set: without MLflow's own prompt bookkeeping and mlreg's apply token."""
    return {
        k: v
        for k, v in tags.items()
        if k not in (IS_PROMPT_TAG, PROMPT_TEXT_TAG, PROMPT_TYPE_TAG, APPLY_TOKEN_TAG)
        and not k.startswith(MLFLOW_TAG_PREFIXES)
    }


@dataclass(frozen=True, slots=True)
class LivePrompt:
    name: str
    tags: dict[str, str]  # user tags only
    aliases: dict[str, str]  # alias -> version number
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LivePromptVersion:
    name: str
    version: str
    template: str | None
    tags: dict[str, str]  # user tags only
    description: str = ""
    token: str | None = None  # mlreg.apply_id, when mlreg registered it
    last_updated: int | None = None


@dataclass(frozen=True)
class PromptFacts:
    prompts: dict[str, LivePrompt] = field(default_factory=dict)
    versions: dict[str, list[LivePromptVersion]] = field(default_factory=dict)
    model_names: frozenset[str] = frozenset()  # asked-for names that are models, not prompts
    note: str = ""


@dataclass(frozen=True)
class PromptRequest(Request):
    provider = PROVIDER
    facts = PromptFacts

    names: frozenset[str] = frozenset()


def version_address(name: str, key: str) -> str:
    return address(VERSION, name, key)


class _Reads:
    """Both prompt kinds read the same facts: the prompts the file or state names."""

    def declared_requests(self, cfg: Config) -> Iterable[PromptRequest]:
        yield PromptRequest(names=frozenset(set(cfg.prompts) | self.destroyed_names(cfg, (PROMPT, VERSION))))

    def recorded_requests(self, resources) -> Iterable[PromptRequest]:
        names = self.recorded_names(resources)
        if names:
            yield PromptRequest(names=frozenset(names))


class PromptImporter(Importer):
    option = "prompt"
    one_file_each = True
    help = "Prompts to import, with their versions (repeatable)."
    by_names = PromptRequest

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        return prompt_lines(live, [c.name for c in chosen])


def _match(spec: PromptVersionSpec, live: list[LivePromptVersion]) -> list[LivePromptVersion]:
    if spec.version is not None:
        return [v for v in live if v.version == str(spec.version)]
    return [v for v in live if v.template == spec.template]


class PromptVersionKind(_Reads, Versioned):
    type: ClassVar[str] = VERSION
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 15
    parent: ClassVar[str | None] = PROMPT
    section: ClassVar[str] = SECTION
    per_key: ClassVar[tuple[str, ...]] = ("tags",)
    timed: ClassVar[tuple[str, ...]] = ()  # MLflow records no time for a tag set on a prompt version
    noun: ClassVar[str] = "prompt version"

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[PromptFacts]
        for name, spec in ctx.cfg.prompts.items():
            live = facts.versions.get(name, [])
            previous = None  # new versions are registered one after the other, in the file's order
            for v in spec.versions:
                created = self._diff_one(ctx, name, v, live, previous)
                previous = created or previous

    def _diff_one(
        self, ctx: DiffContext, name: str, spec: PromptVersionSpec, live: list[LivePromptVersion], previous: str | None
    ) -> str | None:
        """Appends the change; returns its address when it registers a new version."""
        addr = version_address(name, spec.key)
        recorded = ctx.state.resources.get(addr)
        matches = _match(spec, live)
        if len(matches) > 1:
            mine = str(recorded.identity.get("version")) if recorded else None
            mine_only = [v for v in matches if v.version == mine]
            if not mine_only:
                numbers = ", ".join(v.version for v in matches)
                ctx.error(
                    f"{spec.key} matches {len(matches)} live versions of prompt {name!r}: {numbers}",
                    "pin one with `version: N` in place of the template",
                    addr,
                )
                return
            matches = mine_only
        lv = matches[0] if matches else None
        if lv is None and spec.version is not None:
            have = ", ".join(v.version for v in live) or "none"
            ctx.error(f"Version {spec.version} of prompt {name!r} does not exist", f"live versions: {have}", addr)
            return
        number = lv.version if lv else None
        ctx.resolved[addr] = Resolved(addr, name, number, lv)
        after: dict = {"version": number}
        if spec.template is not None:
            after["template"] = spec.template
        if spec.commit_message is not None:  # the version's description in MLflow
            after["commit_message"] = spec.commit_message
        after["tags"] = dict(spec.tags)
        depends = (address(PROMPT, name),)
        if lv is None:
            identity = {"name": name, "version": None, "key": spec.key}
            ctx.changes.append(
                created(
                    addr,
                    VERSION,
                    after,
                    recorded,
                    after_unknown=("version",),
                    identity=identity,
                    depends_on=depends + ((previous,) if previous else ()),
                )
            )
            return addr
        before: dict = {"version": number}
        if spec.template is not None:
            before["template"] = lv.template
        if spec.commit_message is not None:
            before["commit_message"] = lv.description
        before["tags"] = picked(lv.tags, owned(spec.tags, recorded.attributes if recorded else None, "tags"))
        ctx.changes.append(
            decide(
                addr,
                VERSION,
                before,
                after,
                recorded,
                {"name": name, "version": number, "key": spec.key},
                depends_on=depends,
            )
        )
        return None

    def live_versions(self, live: LiveSnapshot, name: str) -> list[LivePromptVersion]:
        return live[PromptFacts].versions.get(name, [])

    def values_of(self, lv: LivePromptVersion) -> dict:
        return {"version": lv.version, "template": lv.template, "commit_message": lv.description, "tags": lv.tags}

    def deleted_values(self, lv: LivePromptVersion) -> dict:
        return {"version": lv.version, "template": lv.template, "tags": lv.tags}


class PromptKind(_Reads, Kind):
    type: ClassVar[str] = PROMPT
    entries: ClassVar[tuple[str, ...]] = ("prompts",)
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 5
    keyed: ClassVar[bool] = False
    phases: ClassVar[tuple[Phase, ...]] = (MAIN, ALIASES)
    needs: ClassVar[tuple[str, ...]] = (VERSION,)
    section: ClassVar[str] = SECTION
    per_key: ClassVar[tuple[str, ...]] = ("tags", "aliases")
    timed: ClassVar[tuple[str, ...]] = ()  # nor for a prompt's tags and aliases
    importer: ClassVar[Importer] = PromptImporter()
    # roles grant on it; applying the file needs EDIT on every prompt it declares
    grant: ClassVar[Grant] = Grant("prompt", needs="EDIT")

    def judge(self, diff, live) -> Findings:
        return Findings(tuple(alias_deletions(diff, PROMPT)))

    def label(self, address: Address, number: str | None) -> str:
        return address.name

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[PromptFacts]
        for name, spec in ctx.cfg.prompts.items():
            if name in facts.model_names:
                ctx.error(
                    f"{name!r} is a registered model, not a prompt",
                    "MLflow keeps both as registered models: pick another prompt name",
                    address(PROMPT, name),
                )
                continue
            self._diff_one(ctx, name, spec, facts.prompts.get(name))

    def _diff_one(self, ctx: DiffContext, name: str, spec: PromptSpec, lp: LivePrompt | None) -> None:
        addr = address(PROMPT, name)
        recorded = ctx.state.resources.get(addr)
        aliases, refs = {}, {}
        for v in spec.versions:
            target = version_address(name, v.key)
            known, number = ctx.number_of(target)
            for alias in v.aliases:
                aliases[alias] = number
                if number is None and known:
                    refs[f"aliases.{alias}"] = target
        aliases = dict(sorted(aliases.items()))
        after = {"tags": dict(spec.tags), "aliases": aliases}
        # the first version's commit message describes a new prompt, as mlflow.genai.register_prompt does
        first = next((v.commit_message for v in spec.versions if v.commit_message), None)
        unknown = tuple(sorted(refs))
        kw = dict(
            identity={"name": name}, refs=refs, after_unknown=unknown, depends_on=tuple(sorted(set(refs.values())))
        )
        if lp is None:
            kw["identity"] = {"name": name, **({"description": first} if first else {})}
            ctx.changes.append(created(addr, PROMPT, after, recorded, **kw))
            return
        before = {
            "tags": picked(lp.tags, owned(spec.tags, recorded.attributes if recorded else None, "tags")),
            "aliases": picked(lp.aliases, aliases.keys() | ctx.cfg.destroyed_aliases(addr)),
        }
        if unknown:
            ctx.changes.append(Change(addr, PROMPT, Action.UPDATE, before, after, **kw))
            return
        ctx.changes.append(decide(addr, PROMPT, before, after, recorded, **kw))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        facts = ctx.live[PromptFacts]
        lp = facts.prompts.get(name)
        if lp is None:
            return None
        return {
            "tags": lp.tags,
            "aliases": lp.aliases,
            "versions": [v.version for v in facts.versions.get(name, [])],
        }, {"name": name}

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        lp = live[PromptFacts].prompts.get(rs.identity.get("name"))
        if lp is None:
            return None, None, None
        return {"tags": lp.tags, "aliases": lp.aliases}, lp.last_updated, None

    def gone_note(self, rs: ResourceState) -> str:
        return "prompt no longer exists"


PROMPT_KIND = PromptKind()
VERSION_KIND = PromptVersionKind()


def prompt_lines(live: LiveSnapshot, prompts: list[str]) -> list[str]:
    """Prompt versions by template (the number where two versions share one), with their aliases."""
    facts = live[PromptFacts]
    lines = ["prompts:"]
    for name in prompts:
        lp = facts.prompts[name]
        lines.append(f"  {dump(name)}:")
        if lp.tags:
            lines.append(f"    tags: {dump(dict(sorted(lp.tags.items())))}")
        versions = sorted(facts.versions.get(name, []), key=lambda v: int(v.version))
        lines.append("    versions:" if versions else "    versions: []")
        repeated = {t for t in (v.template for v in versions) if [w.template for w in versions].count(t) > 1}
        by_number: dict[str, list[str]] = {}
        for alias, number in sorted(lp.aliases.items()):
            by_number.setdefault(number, []).append(alias)
        for v in versions:
            entry: dict = {}
            if v.template is None or v.template in repeated:
                entry["version"] = int(v.version)
            else:
                entry["template"] = v.template
                if v.description:
                    entry["commit_message"] = v.description
            tags = user_set_tags(v.tags)
            if tags:
                entry["tags"] = tags
            if v.version in by_number:
                entry["aliases"] = by_number[v.version]
            lines.append(f"      - {dump(entry)}   # version {v.version}")
    return lines
