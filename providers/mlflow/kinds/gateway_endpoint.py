"""AI Gateway endpoints (`gateway_endpoint`): read by name (`endpoints/get`: `endpoints/list` omits
an endpoint whose routes were all detached), with their guardrails in order; written in place by
id.

A route or fallback change sends the whole routing (`model_configs`, the traffic-split strategy,
the fallback settings) in one update, as MLflow's UI does: MLflow replaces every mapping and
resets the fallback settings unless they come in the same request. Model names become ids at
write time (a definition made earlier in the same apply is there). A create is sent once
(`create_once`): its answer lost, an endpoint of the name is adopted and brought to the declared
values. Guardrails are made exactly the declared list by the guardrail provider's
`attach_in_order`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.gateway_endpoint import EndpointFacts, EndpointRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow import gateway_api as gw
from mlreg.providers.mlflow.kinds.gateway_guardrail import attach_in_order, attached_names
from mlreg.providers.mlflow.kinds.gateway_model import all_models
from mlreg.providers.mlflow.transport import DOES_NOT_EXIST, MlflowApiError

if TYPE_CHECKING:
    from mlreg.planner.kinds.gateway_facts import LiveEndpoint
    from mlreg.providers.mlflow.provider import Mlflow


def by_name(mf: Mlflow, name: str) -> LiveEndpoint | None:
    try:
        return gw.endpoint_of(mf.api.call(gw.GET_ENDPOINT, {"name": name})["endpoint"])
    except MlflowApiError as e:
        if e.error_code == DOES_NOT_EXIST or e.status == 404:
            return None
        raise


@DISPATCH.reads(EndpointRequest)
def read(mf: Mlflow, request: EndpointRequest) -> EndpointFacts:
    if not mf.api.exists():
        return EndpointFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    found, guardrails = {}, {}
    for name in sorted(request.names):
        e = by_name(mf, name)
        if e is not None:
            found[name] = e
            guardrails[name] = tuple(attached_names(mf, e.id))
    if not request.related:
        return EndpointFacts(found, guardrails)
    models = {m.name: m for m in all_models(mf)}
    secrets = {s.name: s for s in (gw.secret_of(d) for d in mf.api.call(gw.LIST_SECRETS, {}).get("secrets", ()))}
    return EndpointFacts(found, guardrails, models, secrets)


@DISPATCH.lists("gateway_endpoint")
def names(mf: Mlflow) -> list[str]:
    return sorted(gw.endpoint_of(e).name for e in mf.api.call(gw.LIST_ENDPOINTS, {}).get("endpoints", ()))


@DISPATCH.writes("gateway_endpoint")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    return WriteResult(_write(mf, request.change))


def _routing(mf: Mlflow, after: dict) -> dict:
    ids = {m.name: m.id for m in all_models(mf)}
    missing = sorted(n for n in [*after["routes"], *after["fallback"]] if n not in ids)
    if missing:
        raise MlflowApiError(f"gateway model definition {missing[0]!r} does not exist", DOES_NOT_EXIST, 404)
    configs = gw.route_configs(after["routes"], after["fallback"], ids)
    return {"model_configs": configs, **gw.routing_fields(after["routes"], after["fallback"])}


def _write(mf: Mlflow, change: Change) -> dict:
    name = change.identity["name"]
    if change.action is Action.DELETE:
        mf.api.call(gw.DELETE_ENDPOINT, {"endpoint_id": change.identity["id"]})
        return dict(change.identity)
    after = dict(change.after or {})
    if change.before is None:
        body = {"name": name, **_routing(mf, after), "usage_tracking": after["usage_tracking"]}
        made = mf.api.create_once(gw.CREATE_ENDPOINT, body, lambda: _id(by_name(mf, name)))
        if made.answer is not None:
            endpoint_id = made.answer["endpoint"]["endpoint_id"]
            before = {
                "routes": after["routes"],
                "fallback": after["fallback"],
                "usage_tracking": after["usage_tracking"],
            }
        else:  # made by an attempt whose answer was lost: converge it below
            endpoint_id, before = made.found, {}
    else:
        before, endpoint_id = dict(change.before), change.identity["id"]
    fields: dict = {}
    if before.get("routes") != after["routes"] or before.get("fallback") != after["fallback"]:
        fields.update(_routing(mf, after))
    if before.get("usage_tracking") != after["usage_tracking"]:
        fields["usage_tracking"] = after["usage_tracking"]
    if fields:
        mf.api.call(gw.UPDATE_ENDPOINT, {"endpoint_id": endpoint_id, **fields})
    _tags(mf, endpoint_id, before.get("tags") or {}, after.get("tags") or {})
    if "guardrails" in after and before.get("guardrails") != after["guardrails"]:
        attach_in_order(mf, endpoint_id, after["guardrails"])
    return {"name": name, "id": endpoint_id}


def _tags(mf: Mlflow, endpoint_id: str, before: dict, after: dict) -> None:
    for key, value in after.items():
        if before.get(key) != value:
            mf.api.call(gw.SET_ENDPOINT_TAG, {"endpoint_id": endpoint_id, "key": key, "value": value})
    for key in before:
        if key not in after:
            mf.api.call(gw.DELETE_ENDPOINT_TAG, {"endpoint_id": endpoint_id, "key": key})


def _id(e: LiveEndpoint | None) -> str | None:
    return e.id if e is not None else None
