"""`gateway_budget`: budget policies in memory by id (no name: `created_by` carries `mlreg:NAME`),
their reads (with the endpoints' ids the world has), the case file's `gateway_budgets` facts, the
write (in place, keeping the id) and the sample."""

from __future__ import annotations

import itertools
from dataclasses import replace

from mlreg.planner.changes import Action
from mlreg.planner.kinds.gateway_budget import MARK, BudgetFacts, BudgetRequest, window_of
from mlreg.planner.kinds.gateway_facts import LiveBudget
from tests.unit.kinds import KindDouble


def store(world) -> None:
    world.budgets = {}  # id -> LiveBudget
    world.budget_ids = itertools.count(1)


def _endpoint_ids(world) -> dict[str, str]:
    """Endpoint name -> id, from the endpoint kind's part of the world when it has one."""
    return dict(getattr(world, "gateway_endpoint_ids", {}) or {})


def read(world, r: BudgetRequest) -> BudgetFacts:
    return BudgetFacts(dict(world.budgets), _endpoint_ids(world))


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.budgets.pop(change.identity["id"], None)
        return dict(change.identity)
    bid = change.identity.get("id") or f"bp-{next(world.budget_ids)}"
    value, unit = window_of(after["every"])
    target = after.get("target")
    if after["scope"] == "endpoint":
        target = _endpoint_ids(world)[target]
    made = LiveBudget(
        bid, float(after["amount_usd"]), "USD", value, unit, after["scope"], after["action"], target, MARK + name
    )
    old = world.budgets.get(bid)
    world.budgets[bid] = replace(made, created_by=old.created_by) if old else made
    return {"name": name, "id": bid}


def facts(data: dict) -> dict:
    """gateway_budgets: [{id, amount, every ("1 month"), scope, action, target?, created_by?}];
    gateway_endpoint_ids: {name: id}."""
    budgets = {}
    for b in data.get("gateway_budgets", []):
        value, unit = window_of(b["every"])
        budgets[b["id"]] = LiveBudget(
            b["id"],
            float(b["amount"]),
            "USD",
            value,
            unit,
            b["scope"],
            b["action"],
            b.get("target"),
            b.get("created_by"),
        )
    return {BudgetFacts: BudgetFacts(budgets, dict(data.get("gateway_endpoint_ids", {})))}


DOUBLE = KindDouble(
    type="gateway_budget",
    provider="mlreg/mlflow",
    sample=(
        "gateway:\n  budgets:\n    monthly:\n      amount_usd: 500\n      every: 1 month\n      scope: global\n"
        "      action: alert\n"
    ),
    store=store,
    write=write,
    reads={BudgetRequest: read},
    facts=facts,
    names=lambda world: sorted({b.created_by[len(MARK) :] for b in world.budgets.values() if b.created_by}),
)
