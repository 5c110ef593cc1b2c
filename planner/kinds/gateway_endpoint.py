"""`gateway_endpoint.NAME`: an AI Gateway endpoint (the name applications call), managed by name
(unique per workspace). Changes are made in place: the endpoint keeps its id when its routes
change.

Managed: `routes` (model name -> percent of traffic, as the gateway computes it:
`LiveEndpoint.split`), `fallback` (model names in the order tried), `usage_tracking`, `tags` (the
declared keys, and those state shows mlreg set), `guardrails` (names in execution order, when
declared; the attachment writes are the guardrail kind's provider's). A route change moves
production traffic: the plan shows the split before and after in percent and the review lists
it under "Traffic" beside the promotions (`TRAFFIC`, contributed through `judge`). The
`experiment_id` MLflow makes for usage tracking differs per server and is not managed. An endpoint
is held from deletion by what names it (budgets, guardrail attachments: `hold_keys`). MLflow keys
an endpoint's grants by its id (`granted_as`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Change, Topic, address
from mlreg.planner.kinds.base import (
    Chosen,
    Diff,
    DiffContext,
    Findings,
    Importer,
    Kind,
    created,
    decide,
    dump,
    owned,
    picked,
)
from mlreg.planner.kinds.gateway_budget import BudgetFacts, BudgetRequest, budget_lines
from mlreg.planner.kinds.gateway_facts import LiveEndpoint, LiveGatewayModel, LiveSecret
from mlreg.planner.kinds.gateway_guardrail import GuardrailFacts, GuardrailRequest, guardrail_lines
from mlreg.planner.kinds.gateway_model import GatewayModelFacts, GatewayModelRequest
from mlreg.planner.kinds.grants import Grant
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.sections.gateway_endpoint import GatewayEndpointSpec
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "gateway_endpoint"
SECTION = "gateway.endpoints"
MODEL = "gateway_model"  # the kind of the model definitions routes name
GUARDRAIL = "gateway_guardrail"
TRAFFIC = Topic("traffic", "Traffic", ("Endpoint", "Split before", "Split after", "Fallback"))


@dataclass(frozen=True)
class EndpointFacts:
    endpoints: dict[str, LiveEndpoint] = field(default_factory=dict)  # name -> live endpoint
    guardrails: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> attached, in order
    # `related` reads only (import): every model definition and secret, by name
    models: dict[str, LiveGatewayModel] = field(default_factory=dict)
    secrets: dict[str, LiveSecret] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class EndpointRequest(Request):
    provider = PROVIDER
    facts = EndpointFacts

    names: frozenset[str] = frozenset()
    # endpoints whose model definitions and secrets to read too (what import writes with them)
    related: frozenset[str] = frozenset()


def _pct(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 2)


def values(e: LiveEndpoint, guardrails: tuple[str, ...] | None = None) -> dict:
    out: dict = {
        "routes": {str(m): _pct(p) for m, p in e.split().items()},
        "fallback": [str(m) for m in e.fallback],
        "usage_tracking": e.usage_tracking,
        "tags": dict(e.tags),
    }
    if guardrails is not None:
        out["guardrails"] = list(guardrails)
    return out


def split_text(routes: Mapping[str, float] | None, other: Mapping[str, float] | None = None) -> str:
    """`gpt4o 90%, claude 10%`; with `other`, also the models only it routes to (at 0%)."""
    names = list(routes or {}) + [m for m in other or {} if m not in (routes or {})]
    return ", ".join(f"{m} {_pct((routes or {}).get(m, 0))}%" for m in names) or "none"


@dataclass(frozen=True, slots=True)
class TrafficMove:
    """A change of an endpoint's split or fallback, for the review's Traffic section."""

    endpoint: str
    address: str
    before: Mapping[str, float] | None
    after: Mapping[str, float]
    fallback: tuple[str, ...] = ()

    topic = TRAFFIC

    def lines(self) -> list[str]:
        moves = [f"{m} {_pct((self.before or {}).get(m, 0))}% -> {_pct(self.after.get(m, 0))}%" for m in self._models()]
        fallback = f" (fallback: {', '.join(self.fallback)})" if self.fallback else ""
        return [f"{self.endpoint}: {', '.join(moves)}{fallback}"]

    def _models(self) -> list[str]:
        return list(self.after) + [m for m in self.before or {} if m not in self.after]

    def cells(self) -> list[str]:
        return [
            self.endpoint,
            split_text(self.before, self.after),
            split_text(self.after, self.before),
            ", ".join(self.fallback),
        ]

    def to_json(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "address": self.address,
            "before": dict(self.before or {}),
            "after": dict(self.after),
            "fallback": list(self.fallback),
        }


class EndpointImporter(Importer):
    option = "gateway-endpoint"
    help = (
        "AI Gateway endpoints to import, by name or glob (repeatable), with their model definitions and "
        "secrets; each secret value as ${MLREG_SECRET_<SECRET>_<KEY>}, for you to set."
    )

    def requests(self, chosen: list[Chosen]) -> Iterable[Request]:
        names = frozenset(c.name for c in chosen)
        return (
            EndpointRequest(names=names, related=names),
            GuardrailRequest(attached_to=names),
            BudgetRequest(endpoints=names),
        )

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        facts = live[EndpointFacts]
        names = [c.name for c in chosen if c.name in facts.endpoints]
        attached = {g for n in names for g in facts.guardrails.get(n, ())}
        lines = endpoint_lines(facts, names)
        if attached:
            lines += guardrail_lines(live[GuardrailFacts], attached)
        budgets = budget_lines(live[BudgetFacts], names)
        return lines + (budgets if len(budgets) > 1 else [])


def _models(spec: GatewayEndpointSpec) -> list[str]:
    """The model definitions an endpoint names: its routes', then its fallbacks'."""
    return list(dict.fromkeys([*(r.model for r in spec.routes), *spec.fallback]))


def secret_variable(secret: str, key: str) -> str:
    """The environment variable import names for one value of a secret."""
    return re.sub(r"[^A-Z0-9_]", "_", f"MLREG_SECRET_{secret}_{key}".upper())


def endpoint_lines(facts: EndpointFacts, names: list[str]) -> list[str]:
    """`gateway:` with the endpoints as MLflow has them, the model definitions they route to and
    the secrets behind those (values as environment references: MLflow never returns them)."""
    endpoints = [facts.endpoints[n] for n in names]
    models = sorted({r.model for e in endpoints for r in e.routes if r.model})
    secrets = sorted({facts.models[m].secret_name for m in models if m in facts.models} - {None})
    lines = ["gateway:", "  secrets:"]
    for name in secrets:
        s = facts.secrets[name]
        entry: dict = {"provider": s.provider} if s.provider else {}
        entry["value"] = {k: f"${{{secret_variable(name, k)}}}" for k in s.masked}
        if s.auth_config:
            entry["auth_config"] = dict(s.auth_config)
        lines.append(f"    {dump(name)}: {dump(entry)}")
    lines.append("  models:")
    for name in models:
        m = facts.models[name]
        lines.append(
            f"    {dump(name)}: {dump({'secret': m.secret_name, 'provider': m.provider, 'model': m.model_name})}"
        )
    lines.append("  endpoints:")
    for e in endpoints:
        v = values(e)
        entry = {"routes": [{"model": m, "weight": p} for m, p in v["routes"].items() if p], "fallback": v["fallback"]}
        entry.update(usage_tracking=e.usage_tracking, tags=v["tags"])
        if facts.guardrails.get(e.name):
            entry["guardrails"] = list(facts.guardrails[e.name])
        lines.append(f"    {dump(e.name)}: {dump(entry)}   # id {e.id}")
    return lines


class GatewayEndpointKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("gateway", "endpoints")
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 64  # after the model definitions and guardrails it names, before budgets
    keyed: ClassVar[bool] = False
    section: ClassVar[str] = SECTION
    per_key: ClassVar[tuple[str, ...]] = ("tags",)
    grant: ClassVar[Grant] = Grant("gateway_endpoint")
    topics: ClassVar[tuple[Topic, ...]] = (TRAFFIC,)
    importer: ClassVar[Importer] = EndpointImporter()

    def declared_requests(self, cfg) -> Iterable[Request]:
        declared = self._entries(cfg)
        names = set(declared) | self.destroyed_names(cfg)
        if names:
            yield EndpointRequest(names=frozenset(names))
        # model definitions routed to that the file does not declare: they must be live
        elsewhere = {m for spec in declared.values() for m in _models(spec)} - set(cfg.gateway.models)
        if elsewhere:
            yield GatewayModelRequest(names=frozenset(elsewhere))

    def recorded_requests(self, resources) -> Iterable[EndpointRequest]:
        names = self.recorded_names(resources)
        if names:
            yield EndpointRequest(names=frozenset(names))

    def named_requests(self, names: frozenset[str]) -> Iterable[EndpointRequest]:
        yield EndpointRequest(names=names)

    def import_id(self, change: Change) -> str | None:
        return change.identity.get("id")

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[EndpointFacts]
        for name, spec in self._entries(ctx.cfg).items():
            self._diff_one(ctx, facts, name, spec)

    def _diff_one(self, ctx: DiffContext, facts: EndpointFacts, name: str, spec: GatewayEndpointSpec) -> None:
        addr = address(TYPE, name)
        recorded = ctx.state.resources.get(addr)
        after: dict = {
            "routes": {r.model: _pct(r.weight) for r in spec.routes},
            "fallback": list(spec.fallback),
            "usage_tracking": spec.usage_tracking,
            "tags": dict(sorted(spec.tags.items())),
        }
        if spec.guardrails is not None:
            after["guardrails"] = list(spec.guardrails)
        gateway = ctx.cfg.gateway
        unknown = [m for m in _models(spec) if m not in gateway.models and m not in ctx.live[GatewayModelFacts].models]
        if unknown:
            ctx.error(
                f"Endpoint {name!r} routes to model definition {unknown[0]!r}, which is neither declared nor live",
                "declare it under gateway.models, or name one that exists in this workspace",
                addr,
            )
            return
        depends = {address(MODEL, m) for m in [*after["routes"], *spec.fallback] if m in gateway.models}
        depends |= {address(GUARDRAIL, g) for g in spec.guardrails or () if g in gateway.guardrails}
        live = facts.endpoints.get(name)
        if live is None:
            identity = {"name": name, "id": None}
            ctx.changes.append(
                created(addr, TYPE, after, recorded, identity=identity, depends_on=tuple(sorted(depends)))
            )
            return
        before = values(live, facts.guardrails.get(name) if spec.guardrails is not None else None)
        keys = owned(spec.tags, recorded.attributes if recorded else None, "tags")
        before["tags"] = picked(before["tags"], keys)
        identity = {"name": name, "id": live.id}
        ctx.changes.append(decide(addr, TYPE, before, after, recorded, identity, depends_on=tuple(sorted(depends))))

    def judge(self, diff: Diff, live: LiveSnapshot) -> Findings:
        """The review's Traffic section: every endpoint whose split or fallback changes."""
        moves = []
        for c in diff.of_type(TYPE):
            if c.action not in (Action.CREATE, Action.UPDATE) or not c.after:
                continue
            before = (c.before or {}).get("routes")
            if before != c.after["routes"] or (c.before or {}).get("fallback") != c.after["fallback"]:
                moves.append(
                    TrafficMove(c.identity["name"], c.address, before, c.after["routes"], tuple(c.after["fallback"]))
                )
        return Findings(highlights=tuple(moves))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        live = ctx.live[EndpointFacts].endpoints.get(name)
        if live is None:
            return None
        return values(live), {"name": name, "id": live.id}

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        return ((TYPE, change.identity.get("id")), (TYPE, "name", change.identity.get("name")))

    def granted_as(self, name: str, live: LiveSnapshot) -> str | None:
        found = live[EndpointFacts].endpoints.get(name)
        return found.id if found else None

    def grant_name(self, pattern: str, live: LiveSnapshot) -> str:
        return next((e.name for e in live[EndpointFacts].endpoints.values() if e.id == pattern), pattern)

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        facts = live[EndpointFacts]
        found = facts.endpoints.get(rs.identity.get("name"))
        if found is None or found.id != rs.identity.get("id"):
            return None, None, None
        guardrails = facts.guardrails.get(found.name, ()) if "guardrails" in rs.attributes else None
        return values(found, guardrails), found.last_updated, found.last_updated_by

    def gone_note(self, rs: ResourceState) -> str:
        return f"gateway endpoint {rs.identity.get('id')} no longer exists"


KIND = GatewayEndpointKind()
