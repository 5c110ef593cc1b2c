"""AI Gateway secrets (`gateway_secret`): read all (MLflow lists them whole, masked, no pages),
write in place by id.

The values travel only in the create or update request (`change.secrets["value"]`, the mapping
as JSON text), never anywhere else; an update sends them whole (MLflow replaces every key). A
create is sent once (`create_once`): its answer lost, a secret of the name is adopted (names are
unique per workspace), then brought to the declared values.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.gateway_secret import SecretFacts, SecretRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow import gateway_api as gw

if TYPE_CHECKING:
    from mlreg.planner.kinds.gateway_facts import LiveSecret
    from mlreg.providers.mlflow.provider import Mlflow


def _all(mf: Mlflow) -> list[LiveSecret]:
    return [gw.secret_of(s) for s in mf.api.call(gw.LIST_SECRETS, {}).get("secrets", ())]


@DISPATCH.reads(SecretRequest)
def read(mf: Mlflow, request: SecretRequest) -> SecretFacts:
    if not mf.api.exists():
        return SecretFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    if not request.names:
        return SecretFacts()
    return SecretFacts({s.name: s for s in _all(mf) if s.name in request.names})


@DISPATCH.lists("gateway_secret")
def names(mf: Mlflow) -> list[str]:
    return sorted(s.name for s in _all(mf))


@DISPATCH.writes("gateway_secret")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    return WriteResult(_write(mf, request.change))


def _write(mf: Mlflow, change: Change) -> dict:
    name = change.identity["name"]
    if change.action is Action.DELETE:
        mf.api.call(gw.DELETE_SECRET, {"secret_id": change.identity["id"]})
        return dict(change.identity)
    after = dict(change.after or {})
    value = json.loads(change.secrets["value"])
    if change.before is None:
        body = {"secret_name": name, "secret_value": value}
        if after.get("provider"):
            body["provider"] = after["provider"]
        if after.get("auth_config"):
            body["auth_config"] = after["auth_config"]
        made = mf.api.create_once(gw.CREATE_SECRET, body, lambda: _by_name(mf, name))
        if made.answer is not None:
            return {"name": name, "id": made.answer["secret"]["secret_id"]}
        before, secret_id = {}, made.found  # made by an attempt whose answer was lost: converge it
    else:
        before, secret_id = dict(change.before), change.identity["id"]
    fields: dict = {}
    if before.get("value") != after.get("value") or before.get("masked") != after.get("masked"):
        fields["secret_value"] = value
    if after.get("auth_config") and after["auth_config"] != before.get("auth_config"):
        fields["auth_config"] = after["auth_config"]
    if fields:
        mf.api.call(gw.UPDATE_SECRET, {"secret_id": secret_id, **fields})
    return {"name": name, "id": secret_id}


def _by_name(mf: Mlflow, name: str) -> str | None:
    return next((s.id for s in _all(mf) if s.name == name), None)
