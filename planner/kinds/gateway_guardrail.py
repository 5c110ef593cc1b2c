"""`gateway_guardrail.NAME`: an MLflow AI Gateway guardrail (a registered scorer version run before
or after a call), managed by name (MLflow's names are not unique: two live guardrails with a
managed name, neither of them the one state recorded, is an error naming both ids).

The scorer is named by (experiment, name, version) and must be registered: a missing one is a
plan error at the guardrail's line. MLflow has no guardrail update, so any change replaces it: a
new guardrail is made, attached where the old one was at the same execution order, and the old
one deleted (the id changes; the plan says why). Endpoints attach guardrails by name, in order
(`gateway_endpoint`'s `guardrails`; the writes are in the provider's guardrail module). A
guardrail attached to an endpoint being deleted holds it (`holds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Change, Reason, address
from mlreg.planner.kinds.base import Diff, DiffContext, Hold, Kind, created, decide, dump
from mlreg.planner.kinds.gateway_facts import LiveGuardrail, LiveGuardrailAttachment, LiveScorer
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.sections.gateway_guardrail import GuardrailSpec
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "gateway_guardrail"
SECTION = "gateway.guardrails"
ENDPOINT = "gateway_endpoint"  # the kind whose deletion attachments hold (hold keys by name and by id)
REPLACE = Reason("replace_because_cannot_update", "because MLflow cannot change a guardrail: a new one replaces it")

ScorerKey = tuple[str, str, int]  # (experiment name, scorer name, version)


@dataclass(frozen=True)
class GuardrailFacts:
    guardrails: dict[str, list[LiveGuardrail]] = field(default_factory=dict)  # name -> live guardrails
    scorers: dict[ScorerKey, LiveScorer] = field(default_factory=dict)  # only the registered ones
    experiments: dict[str, str] = field(default_factory=dict)  # experiment id -> name (of scorers read)
    # endpoint id -> its guardrail attachments (endpoints being deleted), and the endpoint's name
    attachments: dict[str, tuple[LiveGuardrailAttachment, ...]] = field(default_factory=dict)
    endpoint_names: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class GuardrailRequest(Request):
    provider = PROVIDER
    facts = GuardrailFacts

    names: frozenset[str] = frozenset()
    scorers: frozenset[ScorerKey] = frozenset()
    endpoints: frozenset[tuple[str, str]] = frozenset()  # (endpoint id, name) whose attachments to read
    attached_to: frozenset[str] = frozenset()  # endpoint names whose attached guardrails to read (import)


def scorer_key(spec: GuardrailSpec) -> ScorerKey:
    return (spec.scorer.experiment, spec.scorer.name, spec.scorer.version)


def values(g: LiveGuardrail, experiments: Mapping[str, str]) -> dict:
    """The managed values of a live guardrail, its scorer's experiment by name."""
    s = g.scorer
    experiment = experiments.get(s.experiment_id, f"id {s.experiment_id}")
    return {
        "scorer": {"experiment": experiment, "name": s.name, "version": s.version},
        "stage": g.stage,
        "action": g.action,
    }


def wanted(spec: GuardrailSpec) -> dict:
    return {
        "scorer": {"experiment": spec.scorer.experiment, "name": spec.scorer.name, "version": spec.scorer.version},
        "stage": spec.stage,
        "action": spec.action,
    }


def pick(live: list[LiveGuardrail], recorded: ResourceState | None) -> tuple[LiveGuardrail | None, list[str]]:
    """The live guardrail a name means: the one state recorded when it is there, else the only one
    of that name; (None, ids) when several have the name and state names none of them."""
    rec_id = recorded.identity.get("id") if recorded else None
    mine = [g for g in live if g.id == rec_id]
    if mine:
        return mine[0], []
    if len(live) > 1:
        return None, [g.id for g in live]
    return (live[0] if live else None), []


class GuardrailKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("gateway", "guardrails")
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 62  # before the endpoints that attach it
    keyed: ClassVar[bool] = False
    section: ClassVar[str] = SECTION

    def declared_requests(self, cfg) -> Iterable[GuardrailRequest]:
        declared = self._entries(cfg)
        names = set(declared) | self.destroyed_names(cfg)
        if names:
            yield GuardrailRequest(names=frozenset(names), scorers=frozenset(scorer_key(s) for s in declared.values()))

    def recorded_requests(self, resources) -> Iterable[GuardrailRequest]:
        names = self.recorded_names(resources)
        if names:
            yield GuardrailRequest(names=frozenset(names))

    def more_reads(self, diff: Diff) -> Iterable[GuardrailRequest]:
        """The attachments of endpoints being deleted (they hold them)."""
        doomed = frozenset(
            (c.identity["id"], c.identity.get("name", ""))
            for c in diff.of_type(ENDPOINT)
            if c.action is Action.DELETE and c.identity.get("id")
        )
        if doomed:
            yield GuardrailRequest(endpoints=doomed)

    def import_id(self, change: Change) -> str | None:
        return change.identity.get("id")

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[GuardrailFacts]
        for name, spec in self._entries(ctx.cfg).items():
            self._diff_one(ctx, facts, name, spec)

    def _diff_one(self, ctx: DiffContext, facts: GuardrailFacts, name: str, spec: GuardrailSpec) -> None:
        addr = address(TYPE, name)
        key = scorer_key(spec)
        if key not in facts.scorers:
            ctx.error(
                f"Scorer {key[1]!r} version {key[2]} is not registered in experiment {key[0]!r}",
                "a guardrail runs an existing registered scorer: register it first, or name one that is",
                addr,
            )
            return
        recorded = ctx.state.resources.get(addr)
        g, ids = pick(facts.guardrails.get(name, []), recorded)
        if ids:
            ctx.error(
                f"{len(ids)} live guardrails are named {name!r}: {', '.join(ids)}",
                "mlreg manages guardrails by name: delete the extra one in MLflow",
                addr,
            )
            return
        after = wanted(spec)
        scorer = facts.scorers[key]
        if g is None:
            ctx.changes.append(created(addr, TYPE, after, recorded, identity={"name": name, "id": None}))
            return
        identity = {"name": name, "id": g.id}
        before = values(g, {**facts.experiments, scorer.experiment_id: spec.scorer.experiment})
        if before != after:  # no update in MLflow: the plan says it is replaced
            ctx.changes.append(Change(addr, TYPE, Action.UPDATE, before, after, identity=identity, reason=REPLACE))
            return
        ctx.changes.append(decide(addr, TYPE, before, after, recorded, identity))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        facts = ctx.live[GuardrailFacts]
        g, ids = pick(facts.guardrails.get(name, []), ctx.state.resources.get(addr))
        if ids:
            ctx.error(f"{len(ids)} live guardrails are named {name!r}: {', '.join(ids)}", "delete one in MLflow", addr)
            return None
        if g is None:
            return None
        return values(g, facts.experiments), {"name": name, "id": g.id}

    def holds(self, diff: Diff, live: LiveSnapshot) -> Iterable[Hold]:
        facts = live[GuardrailFacts]
        for endpoint_id, attached in facts.attachments.items():
            endpoint = facts.endpoint_names.get(endpoint_id, endpoint_id)
            for a in attached:
                label = f"guardrail {a.guardrail_name or '?'} ({a.guardrail_id})"
                hint = "detach it first: take it out of the endpoint's guardrails and apply"
                holder = (TYPE, a.guardrail_id)
                summary = "Cannot delete: guardrails are attached to it"
                yield Hold((ENDPOINT, endpoint_id), holder, summary, label, hint)
                yield Hold((ENDPOINT, "name", endpoint), holder, summary, label, hint)

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        return ((TYPE, change.identity.get("id")),)

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        facts = live[GuardrailFacts]
        found = [g for g in facts.guardrails.get(rs.identity.get("name"), []) if g.id == rs.identity.get("id")]
        if not found:
            return None, None, None
        g = found[0]
        recorded = (rs.attributes.get("scorer") or {}).get("experiment")
        experiments = {**facts.experiments}
        if recorded and g.scorer.experiment_id not in experiments:
            experiments[g.scorer.experiment_id] = recorded  # the id is immutable; only its name was read
        return values(g, experiments), g.last_updated, g.last_updated_by

    def gone_note(self, rs: ResourceState) -> str:
        return f"guardrail {rs.identity.get('id')} no longer exists"


KIND = GuardrailKind()


def guardrail_lines(facts: GuardrailFacts, names: Iterable[str]) -> list[str]:
    """`  guardrails:` with these live guardrails as the file declares them (`mlreg import`, under
    `gateway:`); a name two live guardrails share is a comment, not an entry."""
    lines = ["  guardrails:"]
    for name in sorted(set(names)):
        found = facts.guardrails.get(name, [])
        if len(found) != 1:
            lines.append(f"    # {name}: {len(found)} live guardrails have this name; not imported")
            continue
        lines.append(f"    {dump(name)}: {dump(values(found[0], facts.experiments))}   # id {found[0].id}")
    return lines
