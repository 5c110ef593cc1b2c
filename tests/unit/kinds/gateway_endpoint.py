"""`gateway_endpoint`: endpoints in memory by id (routes as MLflow's UI writes them), their reads,
the case file's `gateway_endpoints` facts, the write (in place, keeping the id) and the sample."""

from __future__ import annotations

import itertools

from mlreg.planner.changes import Action
from mlreg.planner.kinds.gateway_endpoint import EndpointFacts, EndpointRequest
from mlreg.planner.kinds.gateway_facts import FALLBACK, PRIMARY, LiveEndpoint, LiveRoute
from tests.unit.kinds import KindDouble


def store(world) -> None:
    world.gateway_endpoints = {}  # id -> (LiveEndpoint, guardrails)
    world.gateway_endpoint_seq = itertools.count(1)
    world.gateway_endpoint_ids = {}  # name -> id (what the budget double resolves targets with)


def read(world, r: EndpointRequest) -> EndpointFacts:
    found = {e.name: (e, g) for e, g in world.gateway_endpoints.values() if e.name in r.names}
    return EndpointFacts({n: e for n, (e, _) in found.items()}, {n: g for n, (_, g) in found.items()})


def endpoint(eid: str, name: str, routes: dict, fallback=(), usage_tracking=True, tags=None) -> LiveEndpoint:
    mapped = [LiveRoute(f"m-{m}", f"d-{m}", m, PRIMARY, pct / 100.0) for m, pct in routes.items()]
    mapped += [LiveRoute(f"m-f{m}", f"d-{m}", m, FALLBACK, 1.0, i) for i, m in enumerate(fallback, start=1)]
    strategy = "REQUEST_BASED_TRAFFIC_SPLIT" if len(routes) > 1 else None
    return LiveEndpoint(eid, name, tuple(mapped), strategy, usage_tracking=usage_tracking, tags=dict(tags or {}))


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.gateway_endpoints.pop(change.identity["id"], None)
        world.gateway_endpoint_ids.pop(name, None)
        return dict(change.identity)
    eid = change.identity.get("id") or f"e-{next(world.gateway_endpoint_seq)}"
    e = endpoint(eid, name, after["routes"], after["fallback"], after["usage_tracking"], after["tags"])
    world.gateway_endpoints[eid] = (e, tuple(after.get("guardrails") or ()))
    world.gateway_endpoint_ids[name] = eid
    return {"name": name, "id": eid}


def facts(data: dict) -> dict:
    """gateway_endpoints: [{id, name, routes: {model: percent}, fallback, usage_tracking, tags, guardrails}]."""
    found, guardrails = {}, {}
    for e in data.get("gateway_endpoints", []):
        found[e["name"]] = endpoint(
            e["id"], e["name"], e["routes"], e.get("fallback", ()), e.get("usage_tracking", True), e.get("tags")
        )
        guardrails[e["name"]] = tuple(e.get("guardrails", ()))
    return {EndpointFacts: EndpointFacts(found, guardrails)}


DOUBLE = KindDouble(
    type="gateway_endpoint",
    provider="mlreg/mlflow",
    sample=(
        "gateway:\n  models:\n    gpt4o: {secret: openai_prod, provider: openai, model: gpt-4o}\n"
        "  endpoints:\n    chat:\n      routes: [{model: gpt4o, weight: 100}]\n"
    ),
    store=store,
    write=write,
    reads={EndpointRequest: read},
    facts=facts,
    names=lambda world: sorted(e.name for e, _ in world.gateway_endpoints.values()),
)
