"""`policy_version.POLICY[VERSION]`: a row of exp.policy_versions, pointing at a model version.

Immutable once created: the file is judged against the values last applied (state), never live
against the file, so a row edited by hand in the database is drift that the plan restores, while
an edit in the file is refused (add a new version instead; `check`). Its rows hold the model
versions they point at, and experiment variants hold the rows they use, from being deleted
(`holds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mlreg.planner import diagnostics as dg
from mlreg.planner.changes import Action, ActionReason, Address, Change, address
from mlreg.planner.kinds import model_version
from mlreg.planner.kinds.base import (
    Chosen,
    Diff,
    DiffContext,
    Findings,
    Hold,
    Importer,
    Kind,
    created,
    decide,
    dump,
)
from mlreg.planner.kinds.mlflow_facts import RegistryFacts
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState
from mlreg.planner.stages import Stage

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "policy_version"
PROVIDER = "mlreg/postgres"
ROW = "policy_row"  # hold key of a row: what experiment variants hold
SECTION = "policies"  # config/sections/: its types and checks


@dataclass(frozen=True, slots=True)
class LivePolicyVersion:
    id: str
    policy_id: str
    version: int
    model_name: str
    model_version: str
    config_defaults: Any


@dataclass(frozen=True, slots=True)
class LiveVariant:
    id: str
    policy_version_id: str


@dataclass(frozen=True)
class PolicyFacts:
    policy_versions: dict[tuple[str, int], LivePolicyVersion] = field(default_factory=dict)
    variants: list[LiveVariant] = field(default_factory=list)
    note: str = ""  # e.g. "sqlite:///mlreg.db does not exist yet; run `mlreg db init`"


@dataclass(frozen=True)
class PolicyRequest(Request):
    provider = PROVIDER
    facts = PolicyFacts

    policy_ids: frozenset[str] = frozenset()
    # models about to be deleted (or lose versions): every policy row pointing at them is read
    referenced_models: frozenset[str] = frozenset()


def row_values(row: LivePolicyVersion) -> dict:
    return {"model": row.model_name, "model_version": row.model_version, "config_defaults": row.config_defaults}


class PolicyImporter(Importer):
    option = "policy"
    metavar = "[NAME=]UUID_OR_GLOB"
    help = "Policy ids to import (repeatable); NAME= names the policy in the file."
    by_names = PolicyRequest
    names_field = "policy_ids"

    def choose(self, names: list[str], patterns) -> list[Chosen]:
        from fnmatch import fnmatchcase

        out: list[Chosen] = []
        for pattern in patterns:
            label, _, glob = pattern.rpartition("=")
            for pid in sorted(names):
                if fnmatchcase(pid, glob) and pid not in {c.name for c in out}:
                    out.append(Chosen(pid, label or f"policy_{pid[:8]}"))
        return out

    def follow(self, live: LiveSnapshot, chosen: list[Chosen]):
        ids = {c.name for c in chosen}
        rows = live[PolicyFacts].policy_versions.values()
        return {model_version.MODEL: {r.model_name for r in rows if r.policy_id in ids}}

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        return policy_lines(live, [(c.label, c.name) for c in chosen])


class PolicyVersionKind(Kind):
    type: ClassVar[str] = TYPE
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 20
    batch: ClassVar[bool] = True  # one transaction for every row of an apply
    needs: ClassVar[tuple[str, ...]] = (model_version.TYPE,)
    section: ClassVar[str] = SECTION
    context: ClassVar[tuple[str, ...]] = ("model", "model_version")
    importer: ClassVar[Importer] = PolicyImporter()

    def declared_addresses(self, cfg: Config) -> list[Address]:
        return [Address(TYPE, name, str(num)) for name, p in cfg.policies.items() for num in sorted(p.versions)]

    def declared_requests(self, cfg: Config) -> Iterable[PolicyRequest]:
        ids = {str(p.id) for p in cfg.policies.values()}
        # models about to be deleted (or to lose versions): every row pointing at them is read
        doomed = self.destroyed_names(cfg, (model_version.MODEL, model_version.TYPE))
        yield PolicyRequest(policy_ids=frozenset(ids), referenced_models=frozenset(doomed))

    def recorded_requests(self, resources) -> Iterable[PolicyRequest]:
        ids = {str(rs.identity["policy_id"]) for _, rs in resources if "policy_id" in rs.identity}
        if ids:
            yield PolicyRequest(policy_ids=frozenset(ids))

    def lineage(self, cfg: Config) -> Iterable[tuple[str, str]]:
        for pname, spec in cfg.policies.items():
            for num, pv in sorted(spec.versions.items()):
                yield address(TYPE, pname, num), model_version.version_address(pv.model, pv.model_version.key)

    def label(self, address: Address, number: str | None) -> str:
        return f"{address.name} v{address.key}"

    def index(self, key: str) -> str | int:
        return int(key) if key.isdigit() else key

    def import_id(self, change: Change) -> str | None:
        return f"{change.identity.get('policy_id')}/{change.identity.get('version')}"

    def config_path(self, cfg: Config, address: Address) -> tuple | None:
        key = int(address.key) if address.key and address.key.isdigit() else address.key
        policy = cfg.policies.get(address.name)
        return ("policies", address.name, "versions", key) if policy and key in policy.versions else None

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[PolicyFacts]
        registry = ctx.live[RegistryFacts]
        for pname, policy in ctx.cfg.policies.items():
            for num, pv in sorted(policy.versions.items()):
                addr = address(TYPE, pname, num)
                recorded = ctx.state.resources.get(addr)
                target = model_version.version_address(pv.model, pv.model_version.key)
                ctx.edges.append((addr, target))
                known, number = ctx.number_of(target)
                pointed = str(pv.model_version.version) if pv.model_version.version is not None else number
                refs = {}
                if pointed is None:
                    if not known:  # its version failed to resolve; that error is already reported
                        ctx.skipped.add(addr)
                        continue
                    refs["model_version"] = target
                elif pv.model_version.version is not None:
                    exists = any(v.version == pointed for v in registry.versions.get(pv.model, []))
                    if not exists and not known:
                        ctx.error(
                            f"Model version {pv.model} {pointed} does not exist and is not declared",
                            "declare it under models, or point at an existing version",
                            addr,
                        )
                        continue
                after = {"model": pv.model, "model_version": pointed, "config_defaults": pv.config_defaults}
                row = facts.policy_versions.get((str(policy.id), num))
                identity = {"policy_id": str(policy.id), "version": num, "id": row.id if row else None}
                depends = tuple(sorted({f"{model_version.MODEL}.{pv.model}"} | ({target} if known else set())))
                kw = dict(identity=identity, refs=refs, after_unknown=tuple(refs), depends_on=depends)
                if row is None:
                    ctx.changes.append(created(addr, TYPE, after, recorded, **kw))
                    continue
                identity_kw = kw.pop("identity")
                ctx.changes.append(decide(addr, TYPE, row_values(row), after, recorded, identity_kw, **kw))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        recorded = ctx.state.resources.get(addr)
        policy_id = (
            recorded.identity.get("policy_id")
            if recorded
            else (str(ctx.cfg.policies[name].id) if name in ctx.cfg.policies else None)
        )
        if policy_id is None:
            ctx.error(
                f"{addr} is not in state and policy {name!r} is not declared, so its policy id is unknown", "", addr
            )
            return None
        row = ctx.live[PolicyFacts].policy_versions.get((policy_id, int(key)))
        if row is None:
            return None
        return row_values(row), {"policy_id": policy_id, "version": int(key), "id": row.id}

    # -- rules -------------------------------------------------------------------------------------
    def judge(self, diff: Diff, live: LiveSnapshot) -> Findings:
        """Immutability judges the file against what was last applied; a row edited by hand in the
        database is drift that the plan restores (reason REVERT_DRIFT), not a violation. A row
        pointing at a version this plan archives is worth a warning."""
        out = []
        mine = [c for c in diff.of_type(TYPE) if c.after]
        wanted = {(c.after["model"], c.after.get("model_version")) for c in mine}
        stage_by_number = {
            (c.identity.get("name"), c.after.get("version")): c.after.get("stage")
            for c in (diff.of_type(model_version.TYPE) if wanted else ())
            if c.after
        }
        for c in mine:
            recorded = diff.state.resources.get(c.address)
            edited = (
                recorded is not None and dict(recorded.attributes) != dict(c.after) and c.action is not Action.CREATE
            )
            if edited or (c.action is Action.UPDATE and c.reason is not ActionReason.REVERT_DRIFT):
                against = dict(recorded.attributes) if recorded else dict(c.before or {})
                basis = "the values last applied" if recorded else "the live row"
                out.append(
                    dg.error(
                        "Policy versions are immutable: add a new version instead",
                        f"registry.yaml differs from {basis}: {differences(against, dict(c.after))}",
                        c.address,
                    )
                )
            stage = stage_by_number.get((c.after["model"], c.after.get("model_version")))
            if stage == Stage.ARCHIVED.value:
                out.append(
                    dg.warning(
                        f"Points at {c.after['model']} version {c.after['model_version']}, which is archived",
                        "",
                        c.address,
                    )
                )
        return Findings(tuple(out))

    def holds(self, diff: Diff, live: LiveSnapshot) -> Iterable[Hold]:
        facts = live[PolicyFacts]
        for v in facts.variants:
            yield Hold(
                (ROW, v.policy_version_id),
                None,
                "Policy version is held by experiment variants",
                v.id,
                "a policy version that a variant uses is never deleted",
            )
        for r in facts.policy_versions.values():
            label = f"policy {r.policy_id} version {r.version} (-> {r.model_name} {r.model_version})"
            hint = "delete those policy versions in the same change, or keep it"
            summary = "Cannot delete: policy versions point at it"
            yield Hold((model_version.MODEL, r.model_name), (ROW, r.id), summary, label, hint)
            yield Hold((model_version.TYPE, r.model_name, r.model_version), (ROW, r.id), summary, label, hint)

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        return ((ROW, change.identity.get("id")),)

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        row = live[PolicyFacts].policy_versions.get((rs.identity.get("policy_id"), rs.identity.get("version")))
        return (row_values(row) if row else None), None, None

    def gone_note(self, rs: ResourceState) -> str:
        return "policy version row no longer exists"


KIND = PolicyVersionKind()


def differences(old: dict, new: dict) -> str:
    """What changed, one `path: old -> new` per difference (`config_defaults.temperature: 0.5 -> 0.7`)."""
    import json

    from deepdiff import DeepDiff  # only here: importing it costs a third of a second

    def show(v) -> str:
        return "(absent)" if type(v).__name__ == "NotPresent" else json.dumps(v, sort_keys=True, default=str)

    out = []
    for levels in DeepDiff(old, new, ignore_order=False).tree.values():
        for level in levels:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            out.append(f"{path}: {show(level.t1)} -> {show(level.t2)}")
    return "; ".join(sorted(out))


def policy_lines(live: LiveSnapshot, policies: list[tuple[str, str]]) -> list[str]:
    """`policies` as (name in the file, policy id)."""
    lines = ["policies:"]
    for name, policy_id in policies:
        lines += [f"  {dump(name)}:", f"    id: {policy_id}", "    versions:"]
        rows = sorted(
            (r for (pid, _), r in live[PolicyFacts].policy_versions.items() if pid == policy_id),
            key=lambda r: r.version,
        )
        for r in rows:
            mv = int(r.model_version) if str(r.model_version).isdigit() else r.model_version
            row = {"model": r.model_name, "model_version": mv, "config_defaults": r.config_defaults}
            lines.append(f"      {r.version}: {dump(row)}")
    return lines
