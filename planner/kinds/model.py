"""`model.NAME`: a registered model: its description, declared tag keys and aliases.

Applied in two phases: its own attributes first (its versions need it to exist), then its aliases
once the versions they point at exist. Declared in the `models:` section, which also declares its
versions (kinds/model_version.py); `mlreg import --model` writes both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Address, Change, address
from mlreg.planner.config.defaults import DEFAULT_ARTIFACT_PATH
from mlreg.planner.kinds import model_version
from mlreg.planner.kinds.base import (
    ALIASES,
    MAIN,
    Chosen,
    DiffContext,
    Findings,
    Importer,
    Kind,
    Phase,
    alias_deletions,
    created,
    decide,
    dump,
    owned,
    picked,
)
from mlreg.planner.kinds.grants import Grant
from mlreg.planner.kinds.mlflow_facts import (
    PROVIDER,
    LiveVersion,
    RegistryFacts,
    RegistryRequest,
    artifact_path_of,
    user_set_tags,
)
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState
from mlreg.planner.stages import STAGE_TAG, Stage

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.models import ModelSpec, VersionRef
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "model"
SECTION = model_version.SECTION  # the `models:` section declares models and their versions


def desired_aliases(spec: ModelSpec, production_alias: str | None) -> dict[str, VersionRef]:
    """Declared aliases, plus `rules.production_alias` on the declared production version."""
    aliases = dict(spec.aliases)
    if production_alias and production_alias not in aliases:
        prod = [v for v in spec.versions if v.stage is Stage.PRODUCTION]
        if len(prod) == 1:
            aliases[production_alias] = prod[0]
    return aliases


class ModelImporter(Importer):
    option = "model"
    one_file_each = True
    help = "Models to import, with their versions (repeatable)."

    def requests(self, chosen: list[Chosen]):
        names = frozenset(c.name for c in chosen)
        yield RegistryRequest(model_names=names, runs_of_models=names)

    def missing(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        return [c.name for c in chosen if c.name not in live[RegistryFacts].models]

    def rules(self, live: LiveSnapshot, chosen: list[Chosen], rules) -> tuple[dict, list[str]]:
        return rules_for(live, [c.name for c in chosen], rules)

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        return model_lines(live, [c.name for c in chosen])


class ModelKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("models",)
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 0
    keyed: ClassVar[bool] = False
    phases: ClassVar[tuple[Phase, ...]] = (MAIN, ALIASES)
    needs: ClassVar[tuple[str, ...]] = (model_version.TYPE,)
    section: ClassVar[str] = SECTION
    per_key: ClassVar[tuple[str, ...]] = ("tags", "aliases")
    importer: ClassVar[Importer] = ModelImporter()
    # roles grant on it; applying the file needs EDIT on every model it declares
    grant: ClassVar[Grant] = Grant("registered_model", needs="EDIT")
    # MLflow moves a model's last-updated time when its description changes (and when versions
    # come and go), never when a tag or an alias is set
    timed: ClassVar[tuple[str, ...]] = ("description",)

    def declared_requests(self, cfg: Config) -> Iterable[RegistryRequest]:
        names = set(cfg.models) | self.destroyed_names(cfg)
        yield RegistryRequest(model_names=frozenset(names))

    def named_requests(self, names: frozenset[str]) -> Iterable[RegistryRequest]:
        yield RegistryRequest(model_names=names)

    def recorded_requests(self, resources) -> Iterable[RegistryRequest]:
        names = self.recorded_names(resources)
        if names:
            yield RegistryRequest(model_names=frozenset(names))

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[RegistryFacts]
        for name, spec in ctx.cfg.models.items():
            if name in facts.prompt_names:
                ctx.error(
                    f"{name!r} is a prompt in MLflow's prompt registry, not a model",
                    "declare it under prompts:, or pick another model name",
                    address(TYPE, name),
                )
                continue
            recorded = ctx.state.resources.get(address(TYPE, name))
            if recorded is not None and _converged(ctx, facts, name, spec, recorded):
                rec = recorded.attributes  # the nightly case: live, state and the file agree
                ctx.changes.append(Change(address(TYPE, name), TYPE, Action.NOOP, rec, rec, identity=recorded.identity))
                continue
            self._diff_one(ctx, facts, name, spec)

    def _diff_one(self, ctx: DiffContext, facts: RegistryFacts, name: str, spec: ModelSpec) -> None:
        addr = address(TYPE, name)
        recorded = ctx.state.resources.get(addr)
        lm = facts.models.get(name)
        wanted = desired_aliases(spec, ctx.cfg.rules.production_alias)
        aliases, refs = self._alias_targets(ctx, facts, name, wanted)
        after: dict = {}
        if spec.description is not None:
            after["description"] = spec.description
        after["tags"] = dict(sorted(spec.tags.items()))
        after["aliases"] = aliases
        unknown = tuple(sorted(refs))
        kw = dict(
            identity={"name": name}, refs=refs, after_unknown=unknown, depends_on=tuple(sorted(set(refs.values())))
        )
        if lm is None:
            ctx.changes.append(created(addr, TYPE, after, recorded, **kw))
            return
        rec = recorded.attributes if recorded else None
        before: dict = {}
        if spec.description is not None:
            before["description"] = lm.description or ""
        before["tags"] = picked(lm.tags, owned(spec.tags, rec, "tags"))
        # Aliases taken out of the file are forgotten; only `removed: … destroy: true` deletes one.
        before["aliases"] = picked(lm.aliases, wanted.keys() | ctx.cfg.destroyed_aliases(addr))
        if unknown:  # an alias moves to a version this apply registers: certainly a change
            ctx.changes.append(Change(addr, TYPE, Action.UPDATE, before, after, **kw))
            return
        ctx.changes.append(decide(addr, TYPE, before, after, recorded, **kw))

    @staticmethod
    def _alias_targets(ctx: DiffContext, facts: RegistryFacts, model: str, aliases: dict[str, VersionRef]):
        """alias -> version number (None when only apply will know it), and `aliases.NAME` ->
        the version address that fills it."""
        numbers, refs = {}, {}
        live_numbers = {v.version for v in facts.versions.get(model, [])}
        for alias, ref in sorted(aliases.items()):
            if ref.version is not None:
                if str(ref.version) not in live_numbers:
                    ctx.error(
                        f"Alias {alias!r} points at version {ref.version}, which does not exist",
                        "",
                        address(TYPE, model),
                    )
                numbers[alias] = str(ref.version)
                continue
            target = model_version.version_address(model, ref.key)
            numbers[alias] = ctx.number_of(target)[1]
            if numbers[alias] is None:
                refs[f"aliases.{alias}"] = target
        return numbers, refs

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        facts = ctx.live[RegistryFacts]
        lm = facts.models.get(name)
        if lm is None:
            return None
        versions = [v.version for v in facts.versions.get(name, [])]
        return {"description": lm.description, "versions": versions, "aliases": lm.aliases}, {"name": name}

    def judge(self, diff, live) -> Findings:
        return Findings(tuple(alias_deletions(diff, TYPE)))

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        return ((TYPE, change.identity.get("name")),)

    def label(self, address: Address, number: str | None) -> str:
        return address.name

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        lm = live[RegistryFacts].models.get(rs.identity.get("name"))
        if lm is None:
            return None, None, None
        return {"description": lm.description, "tags": lm.tags, "aliases": lm.aliases}, lm.last_updated, None

    def gone_note(self, rs: ResourceState) -> str:
        return "registered model no longer exists"


KIND = ModelKind()


def _converged(ctx: DiffContext, facts: RegistryFacts, name: str, spec: ModelSpec, recorded: ResourceState) -> bool:
    """Do the file, the values last applied and live agree on this model, whose aliases are all
    pinned by number? (Compared without building anything; anything else takes the full diff.)"""
    lm = facts.models.get(name)
    if lm is None or ctx.cfg.removed or ctx.cfg.rules.production_alias or recorded.identity != {"name": name}:
        return False
    rec = recorded.attributes
    if spec.description is None:
        if "description" in rec or len(rec) != 2:
            return False
    elif len(rec) != 3 or not rec.get("description") == spec.description == (lm.description or ""):
        return False
    tags, live_tags = spec.tags, lm.tags
    if rec.get("tags") != tags or any(live_tags.get(k) != v for k, v in tags.items()):
        return False
    aliases, live_aliases = rec.get("aliases"), lm.aliases
    if aliases is None or len(aliases) != len(spec.aliases):
        return False
    live_numbers = {v.version for v in facts.versions.get(name, ())} if aliases else ()
    for alias, ref in spec.aliases.items():
        if ref.version is None:
            return False
        number = str(ref.version)
        if number not in live_numbers or aliases.get(alias) != number or live_aliases.get(alias) != number:
            return False
    return True


# --- what `mlreg import` writes --------------------------------------------------------------------

_STAGES = {s.value for s in Stage} - {Stage.NONE.value}
_REVIEWED = (Stage.CANDIDATE.value, Stage.PRODUCTION.value)


def _version_entry(v: LiveVersion, live: LiveSnapshot, unique: set[tuple]) -> tuple[dict, str]:
    """The YAML entry for one version and a comment saying where it came from."""
    default_path = DEFAULT_ARTIFACT_PATH
    path = artifact_path_of(v, live[RegistryFacts].logged_model_names) if v.run_id else None
    entry: dict = {}
    if v.run_id and path is not None and ("run", v.run_id, path) in unique:
        entry["run_id"] = v.run_id
        if path != default_path:
            entry["artifact_path"] = path
    elif not v.run_id and v.source and ("source", v.source) in unique:
        entry["source"] = v.source
    else:
        entry["version"] = int(v.version)
    stage = v.tags.get(STAGE_TAG)
    if stage is None:
        entry["stage"] = "none"
    elif stage in _STAGES:
        entry["stage"] = stage
    if v.description:
        entry["description"] = v.description
    tags = user_set_tags(v.tags)
    if tags:
        entry["tags"] = tags
    note = f"version {v.version}" + (
        f" (stage tag {stage!r} is not a known stage: left unmanaged)"
        if stage is not None and stage not in _STAGES
        else ""
    )
    return entry, note


def _unique_keys(versions: list[LiveVersion], live: LiveSnapshot) -> set[tuple]:
    counts: dict[tuple, int] = {}
    for v in versions:
        if v.run_id:
            key = ("run", v.run_id, artifact_path_of(v, live[RegistryFacts].logged_model_names))
        else:
            key = ("source", v.source)
        counts[key] = counts.get(key, 0) + 1
    return {k for k, n in counts.items() if n == 1}


def rules_for(live: LiveSnapshot, models: list[str], rules) -> tuple[dict, list[str]]:
    """The naming rule relaxed for names that break it, and a word on the versions in candidate
    or production whose runs lack the required logging (the next promotion of such a version
    would be refused: relax `required_run_logging`, or start from `defaults: none`)."""
    overrides, notes = {}, []
    odd = [m for m in models if not re.compile(rules.model_name_pattern).search(m)]
    if odd:
        notes.append(f"# model_name_pattern is relaxed: these names do not follow it: {', '.join(odd)}")
        overrides["model_name_pattern"] = "^.+$"
    facts = live[RegistryFacts]
    req = rules.required_run_logging
    lacking = []
    for name in models:
        for v in facts.versions.get(name, ()):
            run = facts.runs.get(v.run_id) if v.run_id else None
            if run is None or v.tags.get(STAGE_TAG) not in _REVIEWED:
                continue
            missing = [p for p in req.params if p not in run.params] + [m for m in req.metrics if m not in run.metrics]
            missing += [t for t in req.tags if t not in run.tags]
            if missing:
                lacking.append(f"{name} v{v.version} (no {', '.join(missing)})")
    if lacking:
        notes += [
            f"# {len(lacking)} version(s) in candidate or production come from runs without the required logging:",
            *(f"#   {line}" for line in lacking[:10]),
            *([f"#   … and {len(lacking) - 10} more"] if len(lacking) > 10 else []),
            "# Promoting such a version is refused: change required_run_logging, or start from `defaults: none`.",
        ]
    return overrides, notes


def model_lines(live: LiveSnapshot, models: list[str]) -> list[str]:
    facts = live[RegistryFacts]
    lines = ["models:"]
    for name in models:
        lm = facts.models[name]
        lines.append(f"  {dump(name)}:")
        if lm.description:
            lines.append(f"    description: {dump(lm.description)}")
        tags = user_set_tags(lm.tags)
        if tags:
            lines.append(f"    tags: {dump(tags)}")
        if lm.aliases:
            lines.append(f"    aliases: {dump({a: int(v) for a, v in sorted(lm.aliases.items())})}")
        versions = facts.versions.get(name, [])
        if not versions:
            lines.append("    versions: []")
            continue
        lines.append("    versions:")
        unique = _unique_keys(versions, live)
        for v in sorted(versions, key=lambda v: int(v.version)):
            entry, note = _version_entry(v, live, unique)
            lines.append(f"      - {dump(entry)}   # {note}")
    return lines
