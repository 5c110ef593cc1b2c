"""`model.NAME`: a registered model: its description, declared tag keys and aliases.

Applied in two phases: its own attributes first (its versions need it to exist), then its aliases
once the versions they point at exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.kinds.base import DiffContext, Kind, Phase, decide
from mlreg.planner.kinds.model_version import version_address
from mlreg.planner.kinds.registry import PROVIDER, RegistryFacts, RegistryRequest
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.model import Action, Address, Change, address
from mlreg.planner.stages import Stage
from mlreg.planner.statedata import ResourceState, StateSnapshot

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.models import ModelSpec, VersionRef
    from mlreg.planner.config.schema import Config, RemovedSpec

TYPE = "model"


def desired_aliases(spec: ModelSpec, production_alias: str | None) -> dict[str, VersionRef]:
    """Declared aliases, plus `rules.production_alias` on the declared production version."""
    aliases = dict(spec.aliases)
    prod = [v for v in spec.versions if v.stage is Stage.PRODUCTION]
    if production_alias and len(prod) == 1 and production_alias not in aliases:
        aliases[production_alias] = prod[0]
    return aliases


class ModelKind(Kind):
    type: ClassVar[str] = TYPE
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 0
    keyed: ClassVar[bool] = False
    phases: ClassVar[tuple[Phase, ...]] = (Phase("main"), Phase("aliases", frozenset({"aliases"}), after_refs=True))
    needs: ClassVar[tuple[str, ...]] = ("model_version",)

    def requests(self, cfg: Config, state: StateSnapshot) -> Iterable[RegistryRequest]:
        names = set(cfg.models)
        names |= {Address.parse(a).name for a in cfg.destroyed() if a.startswith(TYPE + ".")}
        names |= {rs.identity.get("name") for rs in state.resources.values() if rs.type == TYPE}
        yield RegistryRequest(model_names=frozenset(names - {None}))

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
            self._diff_one(ctx, facts, name, spec)

    def _diff_one(self, ctx: DiffContext, facts: RegistryFacts, name: str, spec: ModelSpec) -> None:
        addr = address(TYPE, name)
        recorded = ctx.state.resources.get(addr)
        lm = facts.models.get(name)
        rec = recorded.attributes if recorded else {}
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
            ctx.changes.append(Change(addr, TYPE, Action.CREATE, None, after, **kw, **self.recreate_reason(recorded)))
            return
        owned_tags = spec.tags.keys() | (rec.get("tags") or {}).keys()
        # Aliases taken out of the file are forgotten; only `removed: … destroy: true` deletes one.
        owned_aliases = wanted.keys() | ctx.cfg.destroyed_aliases(addr)
        before: dict = {}
        if spec.description is not None:
            before["description"] = lm.description or ""
        before["tags"] = {k: lm.tags[k] for k in sorted(owned_tags) if k in lm.tags}
        before["aliases"] = {a: lm.aliases[a] for a in sorted(owned_aliases) if a in lm.aliases}
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
            target = version_address(model, ref.key)
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

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        lm = live[RegistryFacts].models.get(rs.identity.get("name"))
        if lm is None:
            return None, None, None
        return {"description": lm.description, "tags": lm.tags, "aliases": lm.aliases}, lm.last_updated, None

    def gone_note(self, rs: ResourceState) -> str:
        return "registered model no longer exists"


KIND = ModelKind()
