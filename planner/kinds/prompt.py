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

from mlreg.planner.kinds.base import DiffContext, Kind, Phase, Resolved, decide
from mlreg.planner.kinds.registry import APPLY_TOKEN_TAG, PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.model import Action, Address, Change, address
from mlreg.planner.statedata import ResourceState, StateSnapshot

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.prompts import PromptSpec, PromptVersionSpec
    from mlreg.planner.config.schema import Config, RemovedSpec

PROMPT, VERSION = "prompt", "prompt_version"
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
TEXT_TAG = "mlflow.prompt.text"
TYPE_TAG = "_mlflow_prompt_type"


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags a person set: without MLflow's own prompt bookkeeping and mlreg's apply token."""
    return {
        k: v
        for k, v in tags.items()
        if k not in (IS_PROMPT_TAG, TEXT_TAG, TYPE_TAG, APPLY_TOKEN_TAG) and not k.startswith("mlflow.prompt.")
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


def _requests(cfg: Config, state: StateSnapshot) -> Iterable[PromptRequest]:
    names = set(cfg.prompts)
    names |= {Address.parse(a).name for a in cfg.destroyed() if a.startswith((PROMPT + ".", VERSION + "."))}
    names |= {rs.identity.get("name") for rs in state.resources.values() if rs.type in (PROMPT, VERSION)}
    yield PromptRequest(names=frozenset(names - {None}))


def _match(spec: PromptVersionSpec, live: list[LivePromptVersion]) -> list[LivePromptVersion]:
    if spec.version is not None:
        return [v for v in live if v.version == str(spec.version)]
    return [v for v in live if v.template == spec.template]


class PromptVersionKind(Kind):
    type: ClassVar[str] = VERSION
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 15
    parent: ClassVar[str | None] = PROMPT

    def requests(self, cfg, state):
        return _requests(cfg, state)

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
            picked = [v for v in matches if v.version == mine]
            if not picked:
                numbers = ", ".join(v.version for v in matches)
                ctx.error(
                    f"{spec.key} matches {len(matches)} live versions of prompt {name!r}: {numbers}",
                    "pin one with `version: N` in place of the template",
                    addr,
                )
                return
            matches = picked
        lv = matches[0] if matches else None
        if lv is None and spec.version is not None:
            have = ", ".join(v.version for v in live) or "none"
            ctx.error(f"Version {spec.version} of prompt {name!r} does not exist", f"live versions: {have}", addr)
            return
        number = lv.version if lv else None
        ctx.resolved[addr] = Resolved(addr, name, number, spec, lv)
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
                Change(
                    addr,
                    VERSION,
                    Action.CREATE,
                    None,
                    after,
                    after_unknown=("version",),
                    identity=identity,
                    depends_on=depends + ((previous,) if previous else ()),
                    **self.recreate_reason(recorded),
                )
            )
            return addr
        owned = spec.tags.keys() | ((recorded.attributes.get("tags") or {}).keys() if recorded else set())
        before: dict = {"version": number}
        if spec.template is not None:
            before["template"] = lv.template
        if spec.commit_message is not None:
            before["commit_message"] = lv.description
        before["tags"] = {k: lv.tags[k] for k in owned if k in lv.tags}
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

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        number = self.number_to_delete(ctx, addr, name, key)
        if number is None:
            return None
        lv = next((v for v in ctx.live[PromptFacts].versions.get(name, []) if v.version == number), None)
        if lv is None:
            return None
        return {"version": lv.version, "template": lv.template, "tags": lv.tags}, {"name": name, "version": number}

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        name, number = rs.identity.get("name"), str(rs.identity.get("version"))
        lv = next((v for v in live[PromptFacts].versions.get(name, []) if v.version == number), None)
        if lv is None:
            return None, None, None
        now = {"version": lv.version, "template": lv.template, "commit_message": lv.description, "tags": lv.tags}
        return now, lv.last_updated, None

    def gone_note(self, rs: ResourceState) -> str:
        return f"prompt version {rs.identity.get('version')} no longer exists"


class PromptKind(Kind):
    type: ClassVar[str] = PROMPT
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 5
    keyed: ClassVar[bool] = False
    phases: ClassVar[tuple[Phase, ...]] = (Phase("main"), Phase("aliases", frozenset({"aliases"}), after_refs=True))
    needs: ClassVar[tuple[str, ...]] = (VERSION,)

    def requests(self, cfg, state):
        return _requests(cfg, state)

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
            ctx.changes.append(Change(addr, PROMPT, Action.CREATE, None, after, **kw, **self.recreate_reason(recorded)))
            return
        rec = recorded.attributes if recorded else {}
        owned_tags = spec.tags.keys() | (rec.get("tags") or {}).keys()
        owned_aliases = aliases.keys() | ctx.cfg.destroyed_aliases(addr)
        before = {
            "tags": {k: lp.tags[k] for k in owned_tags if k in lp.tags},
            "aliases": {a: lp.aliases[a] for a in sorted(owned_aliases) if a in lp.aliases},
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
