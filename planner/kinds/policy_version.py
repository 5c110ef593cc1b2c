"""`policy_version.POLICY[VERSION]`: a row of exp.policy_versions, pointing at a model version.

Immutable once created: the file is judged against the values last applied (state), never live
against the file, so a row edited by hand in the database is drift that the plan restores, while
an edit in the file is refused (add a new version instead; see rules.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mlreg.planner.kinds.base import DiffContext, Kind, decide
from mlreg.planner.kinds.model_version import version_address
from mlreg.planner.kinds.registry import RegistryFacts
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.model import Action, Change, address
from mlreg.planner.statedata import ResourceState, StateSnapshot

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config, RemovedSpec

TYPE = "policy_version"
PROVIDER = "mlreg/postgres"


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


class PolicyVersionKind(Kind):
    type: ClassVar[str] = TYPE
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 20
    batch: ClassVar[bool] = True  # one transaction for every row of an apply
    needs: ClassVar[tuple[str, ...]] = ("model_version",)

    def requests(self, cfg: Config, state: StateSnapshot) -> Iterable[PolicyRequest]:
        ids = {str(p.id) for p in cfg.policies.values()}
        ids |= {
            str(rs.identity["policy_id"])
            for rs in state.resources.values()
            if rs.type == TYPE and "policy_id" in rs.identity
        }
        doomed = {
            a.split(".", 1)[1].split("[", 1)[0] for a in cfg.destroyed() if a.startswith(("model.", "model_version."))
        }
        yield PolicyRequest(policy_ids=frozenset(ids), referenced_models=frozenset(doomed))

    def lineage(self, cfg: Config) -> Iterable[tuple[str, str]]:
        for pname, spec in cfg.policies.items():
            for num, pv in sorted(spec.versions.items()):
                yield address(TYPE, pname, num), version_address(pv.model, pv.model_version.key)

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[PolicyFacts]
        registry = ctx.live[RegistryFacts]
        for pname, policy in ctx.cfg.policies.items():
            for num, pv in sorted(policy.versions.items()):
                addr = address(TYPE, pname, num)
                recorded = ctx.state.resources.get(addr)
                target = version_address(pv.model, pv.model_version.key)
                ctx.edges.append((addr, target))
                known, number = ctx.number_of(target)
                if pv.model_version.version is not None:
                    model_version = str(pv.model_version.version)
                else:
                    model_version = number
                refs = {}
                if model_version is None:
                    if not known:  # its version failed to resolve; that error is already reported
                        ctx.skipped.add(addr)
                        continue
                    refs["model_version"] = target
                elif pv.model_version.version is not None:
                    exists = any(v.version == model_version for v in registry.versions.get(pv.model, []))
                    if not exists and not known:
                        ctx.error(
                            f"Model version {pv.model} {model_version} does not exist and is not declared",
                            "declare it under models, or point at an existing version",
                            addr,
                        )
                        continue
                after = {"model": pv.model, "model_version": model_version, "config_defaults": pv.config_defaults}
                row = facts.policy_versions.get((str(policy.id), num))
                identity = {"policy_id": str(policy.id), "version": num, "id": row.id if row else None}
                depends = tuple(sorted({f"model.{pv.model}"} | ({target} if known else set())))
                kw = dict(identity=identity, refs=refs, after_unknown=tuple(refs), depends_on=depends)
                if row is None:
                    ctx.changes.append(
                        Change(addr, TYPE, Action.CREATE, None, after, **kw, **self.recreate_reason(recorded))
                    )
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

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        row = live[PolicyFacts].policy_versions.get((rs.identity.get("policy_id"), rs.identity.get("version")))
        return (row_values(row) if row else None), None, None

    def gone_note(self, rs: ResourceState) -> str:
        return "policy version row no longer exists"


KIND = PolicyVersionKind()
