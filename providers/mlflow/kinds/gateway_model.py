"""AI Gateway model definitions (`gateway_model`): read all (one list, no pages), write in place
by id. The secret is named in the change and its id read at write time (a secret made earlier in
the same apply is there). A create is sent once (`create_once`): its answer lost, a definition of
the name is adopted (names are unique per workspace), then brought to the declared values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.gateway_model import GatewayModelFacts, GatewayModelRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow import gateway_api as gw
from mlreg.providers.mlflow.transport import MlflowApiError

if TYPE_CHECKING:
    from mlreg.planner.kinds.gateway_facts import LiveGatewayModel
    from mlreg.providers.mlflow.provider import Mlflow


def all_models(mf: Mlflow) -> list[LiveGatewayModel]:
    return [gw.gateway_model_of(m) for m in mf.api.call(gw.LIST_MODELS, {}).get("model_definitions", ())]


@DISPATCH.reads(GatewayModelRequest)
def read(mf: Mlflow, request: GatewayModelRequest) -> GatewayModelFacts:
    if not mf.api.exists():
        return GatewayModelFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    if not request.names:
        return GatewayModelFacts()
    return GatewayModelFacts({m.name: m for m in all_models(mf) if m.name in request.names})


@DISPATCH.lists("gateway_model")
def names(mf: Mlflow) -> list[str]:
    return sorted(m.name for m in all_models(mf))


@DISPATCH.writes("gateway_model")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    return WriteResult(_write(mf, request.change))


def _secret_id(mf: Mlflow, name: str) -> str:
    found = [s["secret_id"] for s in mf.api.call(gw.LIST_SECRETS, {}).get("secrets", ()) if s["secret_name"] == name]
    if not found:
        raise MlflowApiError(f"gateway secret {name!r} does not exist", "RESOURCE_DOES_NOT_EXIST", 404)
    return found[0]


def _write(mf: Mlflow, change: Change) -> dict:
    name = change.identity["name"]
    if change.action is Action.DELETE:
        mf.api.call(gw.DELETE_MODEL, {"model_definition_id": change.identity["id"]})
        return dict(change.identity)
    after = dict(change.after or {})
    if change.before is None:
        body = {
            "name": name,
            "secret_id": _secret_id(mf, after["secret"]),
            "provider": after["provider"],
            "model_name": after["model"],
        }
        made = mf.api.create_once(gw.CREATE_MODEL, body, lambda: _by_name(mf, name))
        if made.answer is not None:
            return {"name": name, "id": made.answer["model_definition"]["model_definition_id"]}
        before, model_id = {}, made.found  # made by an attempt whose answer was lost: converge it
    else:
        before, model_id = dict(change.before), change.identity["id"]
    fields: dict = {}
    if before.get("secret") != after["secret"]:
        fields["secret_id"] = _secret_id(mf, after["secret"])
    if before.get("provider") != after["provider"]:
        fields["provider"] = after["provider"]
    if before.get("model") != after["model"]:
        fields["model_name"] = after["model"]
    if fields:
        mf.api.call(gw.UPDATE_MODEL, {"model_definition_id": model_id, **fields})
    return {"name": name, "id": model_id}


def _by_name(mf: Mlflow, name: str) -> str | None:
    return next((m.id for m in all_models(mf) if m.name == name), None)
