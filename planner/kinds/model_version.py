"""`model_version.NAME[KEY]`: a version of a registered model, identified by its matcher.

Managed: `stage` (the `stage` tag), `description` and the declared tag keys. MLflow assigns the
number, so a version that does not exist yet has `version` known only after apply. Declared in
the `models:` section under its model; its lifecycle rules are in kinds/lifecycle.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mlreg.planner.changes import Action, Change, DriftItem, Topic, address
from mlreg.planner.kinds import inflow, lifecycle
from mlreg.planner.kinds.base import (
    Diff,
    DiffContext,
    DriftContext,
    Findings,
    Resolved,
    created,
    decide,
    owned,
    picked,
    version_number_meant,
)
from mlreg.planner.kinds.mlflow_facts import (
    PROVIDER,
    LiveVersion,
    RegistryFacts,
    RegistryRequest,
    VersionIndex,
    resolve_run,
)
from mlreg.planner.kinds.promotions import PROMOTIONS
from mlreg.planner.kinds.versioned import Versioned
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState, StateSnapshot
from mlreg.planner.stages import STAGE_TAG, TAG_VALUES, Stage, stage_of

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.models import ModelSpec, VersionSpec

TYPE = lifecycle.TYPE
MODEL = lifecycle.MODEL  # the kind its versions belong to (kinds/model.py imports this module)
SECTION = "models"  # config/sections/: its types and checks


def version_address(model: str, key: str) -> str:
    return address(TYPE, model, key)


class ModelVersionKind(Versioned):
    type: ClassVar[str] = TYPE
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 10
    parent: ClassVar[str | None] = MODEL
    per_key: ClassVar[tuple[str, ...]] = ("tags",)
    topics: ClassVar[tuple[Topic, ...]] = (PROMOTIONS,)  # its rules contribute the promotions

    section: ClassVar[str] = SECTION  # declared under its model

    def declared_requests(self, cfg: Config) -> Iterable[RegistryRequest]:
        run_ids, run_names = set(), set()
        for model in cfg.models.values():
            for v in model.versions:
                if v.run_id:
                    run_ids.add(v.run_id)
                elif v.run:
                    run_names.add((v.run.experiment, v.run.name))
        yield RegistryRequest(
            model_names=frozenset(self.destroyed_names(cfg)),
            run_ids=frozenset(run_ids),
            run_names=frozenset(run_names),
        )

    def recorded_requests(self, resources) -> Iterable[RegistryRequest]:
        names = self.recorded_names(resources)
        if names:
            yield RegistryRequest(model_names=frozenset(names))

    def more_reads(self, diff: Diff) -> Iterable[RegistryRequest]:
        return lifecycle.reads_needed(diff)

    def judge(self, diff: Diff, live: LiveSnapshot) -> Findings:
        diags, promotions = lifecycle.judge(diff, live)
        return Findings(tuple(diags), tuple(promotions), tuple(inflow.plan_notes(diff, live)))

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        return ((TYPE, change.identity.get("name"), change.identity.get("version")),)

    def review_lines(self, change: Change) -> list[str]:
        """A version entering or leaving production, besides deletions and forgets."""
        lines = super().review_lines(change)
        after = change.after or {}
        if change.action not in (Action.CREATE, Action.UPDATE) or "stage" not in after:
            return lines
        before = stage_of((change.before or {}).get("stage")) if change.action is Action.UPDATE else "none"
        to = stage_of(after["stage"])
        which = f"{change.address} (version {after['version']})" if after.get("version") else change.address
        production = Stage.PRODUCTION.value
        if to == production and before != production:
            lines.append(f"{which} is promoted to production (from {before})")
        elif before == production and to != production:
            lines.append(f"{which} leaves production (to {to})")
        return lines

    def lineage(self, cfg: Config) -> Iterable[tuple[str, str]]:
        for name, m in cfg.models.items():
            for v in m.versions:
                if v.run_id:
                    yield version_address(name, v.key), f"run:{v.run_id}"
                elif v.run:
                    yield version_address(name, v.key), f"run:{v.run.experiment}/{v.run.name}"
                elif v.source:
                    yield version_address(name, v.key), f"source:{v.source}"

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[RegistryFacts]
        recorded = _RecordedNumbers(ctx.state)
        for name, spec in ctx.cfg.models.items():
            if not spec.versions:
                continue
            live_versions = facts.versions.get(name, [])
            m = _ModelDiff(
                name,
                spec,
                live_versions,
                VersionIndex(live_versions, facts.logged_model_names),
                self._doomed_numbers(ctx, name) if ctx.destroying else (),
                (f"{MODEL}.{name}",),
                recorded,
            )
            previous = None  # new versions are registered one after the other: numbers follow the file
            for v in spec.versions:
                if v.version is not None and not m.doomed and self._pinned_unchanged(ctx, m, v):
                    continue
                made = self._diff_one(ctx, facts, m, v, previous)
                previous = made or previous

    @staticmethod
    def _pinned_unchanged(ctx: DiffContext, m: _ModelDiff, spec: VersionSpec) -> bool:
        """The nightly case, first: a version pinned by number that live, state and the file agree
        on is a no-op, compared without building anything (100,000 in the benchmark)."""
        number = str(spec.version)
        key = "v" + number
        addr = f"{TYPE}.{m.name}[{key}]"
        recorded = ctx.state.resources.get(addr)
        lv = m.index.by_number.get(number)
        if recorded is None or lv is None or not _unchanged(spec, spec.stage, lv, number, key, recorded):
            return False
        _noop(ctx, addr, number, recorded, m.depends)
        return True

    @staticmethod
    def _doomed_numbers(ctx: DiffContext, model: str) -> set[str]:
        """Numbers of this model's versions that `removed … destroy: true` deletes in this plan."""
        numbers = (
            version_number_meant(ctx.state, a, entry.at.key)
            for a, entry in ctx.destroying.items()
            if entry.at.type == TYPE and entry.at.name == model
        )
        return {n for n in numbers if n is not None}

    def _diff_one(
        self, ctx: DiffContext, facts: RegistryFacts, m: _ModelDiff, spec: VersionSpec, previous: str | None
    ) -> str | None:
        """Compare first, build only what the comparison needs: this runs once per declared version
        (100,000 in the benchmark), so the common case (a version pinned or matched, unchanged)
        takes the shortest path. Returns the address when it registers a new version."""
        model, key = m.name, spec.key
        addr = f"{TYPE}.{model}[{key}]"
        recorded = ctx.state.resources.get(addr)
        run = None
        if spec.run_id is not None or spec.run is not None:
            res = resolve_run(spec, facts)
            if res.error:
                ctx.error(res.error, f"needed by {key}", addr)
                return
            run = res.run
        if spec.version is not None:
            found = m.index.by_number.get(str(spec.version))
            matches = [found] if found is not None and found.version not in m.doomed else []
        else:
            matches = [v for v in m.index.match(spec, run) if v.version not in m.doomed]
        if len(matches) > 1:
            self._duplicates(ctx, addr, model, spec, matches, recorded)
            return
        lv = matches[0] if matches else None
        if lv is None and spec.version is not None:
            have = ", ".join(v.version for v in m.live_versions) or "none"
            ctx.error(f"Version {spec.version} of {model!r} does not exist", f"live versions: {have}", addr)
            return
        number = lv.version if lv is not None else None
        stage = spec.stage
        if recorded is not None and lv is not None and _unchanged(spec, stage, lv, number, key, recorded):
            _noop(ctx, addr, number, recorded, m.depends)  # live, state and the file agree
            return
        moved_from = m.moved_from(addr, number) if recorded is None and lv is not None else None
        if moved_from is not None:  # the file names a version state knows another way: a move
            recorded = ctx.state.resources[moved_from]
        ctx.resolved[addr] = Resolved(addr, model, number, lv, run)
        run_id = run.run_id if run is not None else (lv.run_id if lv is not None else None)
        ctx.edges.append((addr, "run:" + run_id if run_id else "source:" + (spec.source or (lv.source if lv else ""))))
        after = _after(spec, stage, number)
        if lv is None:
            identity = {
                "name": model,
                "version": None,
                "key": key,
                "matcher": spec.matcher(),
                "run_id": run.run_id if run is not None else None,
            }
            deps = m.depends + ((previous,) if previous else ())
            ctx.changes.append(
                created(addr, TYPE, after, recorded, after_unknown=("version",), identity=identity, depends_on=deps)
            )
            return addr
        before = _before(spec, stage, lv, recorded)
        identity = {"name": model, "version": number, "key": key}
        ctx.changes.append(
            decide(addr, TYPE, before, after, recorded, identity, depends_on=m.depends, moved_from=moved_from)
        )

    @staticmethod
    def _duplicates(
        ctx: DiffContext,
        addr: str,
        model: str,
        spec: VersionSpec,
        matches: list[LiveVersion],
        recorded: ResourceState | None,
    ) -> None:
        numbers = sorted((v.version for v in matches), key=int)
        mine = str(recorded.identity.get("version")) if recorded else None
        kept = f"; state records version {mine}" if mine in numbers else ""
        extras = [n for n in numbers if n != (mine if mine in numbers else numbers[0])]
        removed = ", ".join(f'{{address: "{version_address(model, "v" + n)}", destroy: true}}' for n in extras)
        ctx.error(
            f"{spec.key} matches {len(matches)} live versions of {model!r}: {', '.join(numbers)}{kept}",
            f"pin one with `version: N` in place of the matcher, or delete the extras: removed: [{removed}]",
            addr,
        )

    def live_versions(self, live: LiveSnapshot, name: str) -> list[LiveVersion]:
        return live[RegistryFacts].versions.get(name, [])

    def values_of(self, lv: LiveVersion) -> dict:
        return {
            "version": lv.version,
            "stage": lv.tags.get(STAGE_TAG),
            "description": lv.description,
            "tags": {k: v for k, v in sorted(lv.tags.items()) if k != STAGE_TAG},
        }

    # MLflow moves a version's last-updated time when its description changes, not when a tag
    # (the stage) is set; its user_id is whoever registered it, not whoever changed it.
    timed: ClassVar[tuple[str, ...]] = ("description",)

    def same_object(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        number = a.get("version")
        return number is not None and a.get("name") == b.get("name") and str(number) == str(b.get("version"))

    def drift_notes(self, ctx: DriftContext) -> list[DriftItem]:
        return inflow.drift_notes(ctx.state, ctx.live, ctx.cfg)


def _noop(ctx: DiffContext, addr: str, number: str, recorded: ResourceState, depends: tuple[str, ...]) -> None:
    """A version live, state and the file agree on: only its number is kept for the others."""
    rec = recorded.attributes
    ctx.numbers[addr] = number
    ctx.changes.append(Change(addr, TYPE, Action.NOOP, rec, rec, identity=recorded.identity, depends_on=depends))


def _unchanged(spec: VersionSpec, stage, lv: LiveVersion, number: str, key: str, recorded: ResourceState) -> bool:
    """Do the file, the values last applied and live all agree on this version?"""
    rec = recorded.attributes
    ident = recorded.identity
    if ident.get("version") != number or ident.get("key") != key or rec.get("version") != number:
        return False
    tags = spec.tags
    if rec.get("tags") != tags:
        return False
    live_tags = lv.tags
    for k, v in tags.items():
        if live_tags.get(k) != v:
            return False
    if stage is None:
        if "stage" in rec:
            return False
    elif rec.get("stage", "-") != TAG_VALUES[stage] or live_tags.get(STAGE_TAG) != rec["stage"]:
        return False
    if spec.description is None:
        return "description" not in rec
    return rec.get("description") == spec.description == (lv.description or "")


def _after(spec: VersionSpec, stage, number: str | None) -> dict:
    after: dict = {"version": number}
    if stage is not None:
        after["stage"] = stage.tag_value
    if spec.description is not None:
        after["description"] = spec.description
    after["tags"] = dict(spec.tags)
    return after


def _before(spec: VersionSpec, stage, lv: LiveVersion, recorded: ResourceState | None) -> dict:
    live_tags = lv.tags
    before: dict = {"version": lv.version}
    if stage is not None:
        before["stage"] = live_tags.get(STAGE_TAG)
    if spec.description is not None:
        before["description"] = lv.description or ""
    before["tags"] = picked(live_tags, owned(spec.tags, recorded.attributes if recorded else None, "tags"))
    return before


class _RecordedNumbers:
    """(model, version number) -> the address state records that version under; built on first
    use (only a plan that finds a version state does not know under its address asks)."""

    def __init__(self, state: StateSnapshot):
        self._state = state
        self._index: dict[tuple, str] | None = None

    def get(self, model: str, number: str) -> str | None:
        if self._index is None:
            self._index = {
                (rs.identity.get("name"), str(rs.identity.get("version"))): a
                for a, rs in self._state.resources.items()
                if rs.type == TYPE
            }
        return self._index.get((model, number))


@dataclass(slots=True)
class _ModelDiff:
    """What every declared version of one model is diffed against."""

    name: str
    spec: ModelSpec
    live_versions: list[LiveVersion]
    index: VersionIndex
    doomed: set[str] | tuple
    depends: tuple[str, ...]
    recorded: _RecordedNumbers
    _declared: set[str] | None = None

    def moved_from(self, addr: str, number: str) -> str | None:
        """The address state records live version `number` under, when the file no longer
        declares that address (it names the same version another way): a move."""
        old = self.recorded.get(self.name, number)
        if old is None or old == addr:
            return None
        if self._declared is None:
            self._declared = {version_address(self.name, v.key) for v in self.spec.versions}
        return None if old in self._declared else old


KIND = ModelVersionKind()
