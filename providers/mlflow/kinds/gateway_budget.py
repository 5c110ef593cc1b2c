"""AI Gateway budget policies (`gateway_budget`): read all (paged; they have no name), write in
place by id.

A budget on an endpoint targets its id: the file's endpoint name is looked up at apply (`endpoints/get`
by name, after the endpoint is made) and read back as a name from the endpoints MLflow lists. A
create carries `created_by: mlreg:NAME` and is sent once (`create_once`): its answer lost, the
budget made as `mlreg:NAME` is adopted (and brought to the declared values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action
from mlreg.planner.kinds.gateway_budget import MARK, BudgetFacts, BudgetRequest, named, window_of
from mlreg.planner.kinds.gateway_facts import LiveBudget
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow import gateway_api as gw
from mlreg.providers.mlflow.transport import DOES_NOT_EXIST, MlflowApiError

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow


def _all(mf: Mlflow) -> list[LiveBudget]:
    return [gw.budget_of(b) for b in mf.api.pages(gw.LIST_BUDGETS, {"max_results": 1000}, "budget_policies")]


def endpoint_id(mf: Mlflow, name: str) -> str | None:
    """The id of the endpoint named `name` (get by name: `list` leaves out endpoints without routes)."""
    try:
        return mf.api.call(gw.GET_ENDPOINT, {"name": name})["endpoint"]["endpoint_id"]
    except MlflowApiError as e:
        if e.error_code == DOES_NOT_EXIST or e.status == 404:
            return None
        raise


@DISPATCH.reads(BudgetRequest)
def read(mf: Mlflow, request: BudgetRequest) -> BudgetFacts:
    if not mf.api.exists():
        return BudgetFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    budgets = {b.id: b for b in _all(mf)}
    ids = {e["name"]: e["endpoint_id"] for e in mf.api.call(gw.LIST_ENDPOINTS, {}).get("endpoints") or ()}
    for name in sorted(request.endpoints - set(ids)):
        found = endpoint_id(mf, name)
        if found is not None:
            ids[name] = found
    return BudgetFacts(budgets, ids)


@DISPATCH.lists("gateway_budget")
def names(mf: Mlflow) -> list[str]:
    return sorted({n for b in _all(mf) if (n := named(b))})


def _body(mf: Mlflow, after: dict) -> dict:
    value, unit = window_of(after["every"])
    body = {
        "budget_unit": "USD",
        "budget_amount": float(after["amount_usd"]),
        "duration": {"unit": unit.upper(), "value": value},
        "target_scope": after["scope"].upper(),
        "budget_action": after["action"].upper(),
    }
    target = after.get("target")
    if after["scope"] == "endpoint":
        target = endpoint_id(mf, target)
        if target is None:
            raise MlflowApiError(f"no endpoint named {after['target']!r} for the budget to target", DOES_NOT_EXIST)
    if target is not None:
        body["target_value"] = target
    return body


@DISPATCH.writes("gateway_budget")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    name = change.identity["name"]
    if change.action is Action.DELETE:
        mf.api.call(gw.DELETE_BUDGET, {"budget_policy_id": change.identity["id"]})
        return WriteResult(dict(change.identity))
    body = _body(mf, dict(change.after or {}))
    if change.before is not None:
        mf.api.call(gw.UPDATE_BUDGET, {"budget_policy_id": change.identity["id"], **body})
        return WriteResult({"name": name, "id": change.identity["id"]})

    def find() -> str | None:
        mine = [b.id for b in _all(mf) if named(b) == name]
        return mine[0] if mine else None

    made = mf.api.create_once(gw.CREATE_BUDGET, {**body, "created_by": MARK + name}, find)
    if made.answer is not None:
        return WriteResult({"name": name, "id": made.answer["budget_policy"]["budget_policy_id"]})
    mf.api.call(gw.UPDATE_BUDGET, {"budget_policy_id": made.found, **body})  # made before the answer was lost
    return WriteResult({"name": name, "id": made.found})
