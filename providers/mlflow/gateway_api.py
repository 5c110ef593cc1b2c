"""MLflow's AI Gateway endpoints (`/api/3.0/mlflow/gateway/…`, MLflow 3.17), each defined once
with its in-process form, and the decoders from MLflow's JSON to the engine's live types
(planner/kinds/gateway_facts.py). The gateway kinds read and write through these.

What the definitions encode (measured against a real server):
- Creates are not idempotent. A duplicate secret, model definition, model attachment or
  guardrail attachment answers RESOURCE_ALREADY_EXISTS (HTTP 400); a duplicate endpoint name or
  binding answers BAD_REQUEST with the database's constraint message; guardrails and budgets
  have no unique key at all (a second create makes a second one).
- Every delete of something already gone answers RESOURCE_DOES_NOT_EXIST (404): `absent_ok`.
  Detaching a model is not idempotent: one detach removes one mapping, and a model may be mapped
  twice (primary and fallback).
- Gets and updates take the id only (`secrets/get` and `model-definitions/get` refuse a name;
  `endpoints/get` accepts `name`). Lists of secrets, model definitions and endpoints have no
  pages; budgets and guardrails are paged (`max_results` at most 50,000, offset page tokens).
- The local forms (gateway_local.py) call the tracking store's gateway methods; budget windows
  are the server's in-memory spend tracker: REST only.
"""

from __future__ import annotations

from typing import Any

from mlreg.planner.kinds.gateway_facts import (
    LiveBudget,
    LiveEndpoint,
    LiveGatewayModel,
    LiveGuardrail,
    LiveGuardrailAttachment,
    LiveRoute,
    LiveScorer,
    LiveSecret,
)
from mlreg.providers.mlflow import gateway_local as local
from mlreg.providers.mlflow.transport import Call

API = "/api/3.0/mlflow/gateway"
SCORERS = "/api/3.0/mlflow/scorers"
CAPABILITY = "gateway"
MAX_PAGE = 50_000  # MLflow's ceiling for `max_results` on budgets and guardrails


def _ep(method: str, path: str, form=None, **kw) -> Call:
    return Call(method, f"{API}/{path}", capability=CAPABILITY, local=form, **kw)


# --- secrets ----------------------------------------------------------------------------------------

LIST_SECRETS = _ep("GET", "secrets/list", local.list_secrets)
GET_SECRET = _ep("GET", "secrets/get", local.get_secret)
CREATE_SECRET = _ep("POST", "secrets/create", local.create_secret, idempotent=False)
# Replaces the whole value (every key) when `secret_value` is given; keeps the id.
UPDATE_SECRET = _ep("POST", "secrets/update", local.update_secret)
# Model definitions behind it keep existing with no secret (secret_id unset).
DELETE_SECRET = _ep("DELETE", "secrets/delete", local.delete_secret, absent_ok=True)

# --- model definitions ------------------------------------------------------------------------------

LIST_MODELS = _ep("GET", "model-definitions/list", local.list_models)
GET_MODEL = _ep("GET", "model-definitions/get", local.get_model)
CREATE_MODEL = _ep("POST", "model-definitions/create", local.create_model, idempotent=False)
UPDATE_MODEL = _ep("POST", "model-definitions/update", local.update_model)
# Refused with INVALID_STATE (HTTP 500) while an endpoint still maps it.
DELETE_MODEL = _ep("DELETE", "model-definitions/delete", local.delete_model, absent_ok=True)

# --- endpoints --------------------------------------------------------------------------------------

# Omits endpoints that have no model mapping left (MLflow lists them through an inner join).
LIST_ENDPOINTS = _ep("GET", "endpoints/list", local.list_endpoints)
GET_ENDPOINT = _ep("GET", "endpoints/get", local.get_endpoint)  # by endpoint_id or name
CREATE_ENDPOINT = _ep("POST", "endpoints/create", local.create_endpoint, idempotent=False)
# Keeps the id. `model_configs` replaces every mapping (new mapping ids) and, with it, the fallback
# settings: send `fallback_config` with every route change or it is reset.
UPDATE_ENDPOINT = _ep("POST", "endpoints/update", local.update_endpoint)
# No protection: deletes the endpoint with its mappings, tags, bindings and guardrail
# attachments, and leaves budgets that target it pointing at a missing id.
DELETE_ENDPOINT = _ep("DELETE", "endpoints/delete", local.delete_endpoint, absent_ok=True)
SET_ENDPOINT_TAG = _ep("POST", "endpoints/set-tag", local.set_endpoint_tag)
DELETE_ENDPOINT_TAG = _ep("DELETE", "endpoints/delete-tag", local.delete_endpoint_tag, absent_ok=True)
ATTACH_MODEL = _ep("POST", "endpoints/models/attach", local.attach_model, idempotent=False)
DETACH_MODEL = _ep("POST", "endpoints/models/detach", local.detach_model, idempotent=False)
# Bindings tie an endpoint to the MLflow resources that use it; `resource_type` must be "scorer"
# (anything else is an HTML 500 from the server).
LIST_BINDINGS = _ep("GET", "endpoints/bindings/list", local.list_bindings)
CREATE_BINDING = _ep("POST", "endpoints/bindings/create", local.create_binding, idempotent=False)
DELETE_BINDING = _ep("DELETE", "endpoints/bindings/delete", local.delete_binding, absent_ok=True)

# --- guardrails -------------------------------------------------------------------------------------

LIST_GUARDRAILS = _ep("GET", "guardrails/list", local.list_guardrails)  # paged
GET_GUARDRAIL = _ep("GET", "guardrails/get", local.get_guardrail)
CREATE_GUARDRAIL = _ep("POST", "guardrails/create", local.create_guardrail, idempotent=False)
DELETE_GUARDRAIL = _ep("DELETE", "guardrails/delete", local.delete_guardrail, absent_ok=True)
# Ordered by execution_order (unset last), then guardrail id.
LIST_ATTACHMENTS = _ep("GET", "guardrails/list-for-endpoint", local.list_attachments)
ATTACH_GUARDRAIL = _ep("POST", "guardrails/add-to-endpoint", local.attach_guardrail, idempotent=False)
# Sets execution_order; leaving it out clears it (unordered).
ORDER_GUARDRAIL = _ep("PATCH", "guardrails/update-config", local.order_guardrail)
DETACH_GUARDRAIL = _ep("DELETE", "guardrails/remove-from-endpoint", local.detach_guardrail, absent_ok=True)

# --- budgets ----------------------------------------------------------------------------------------

LIST_BUDGETS = _ep("GET", "budgets/list", local.list_budgets)  # paged
GET_BUDGET = _ep("GET", "budgets/get", local.get_budget)
CREATE_BUDGET = _ep("POST", "budgets/create", local.create_budget, idempotent=False)
UPDATE_BUDGET = _ep("POST", "budgets/update", local.update_budget)
DELETE_BUDGET = _ep("DELETE", "budgets/delete", local.delete_budget, absent_ok=True)
# Each policy's current window and spend, from the server's in-memory tracker (REST only).
BUDGET_WINDOWS = _ep("GET", "budgets/windows")

# --- registered scorers (what guardrails run; per experiment) ----------------------------------------

LIST_SCORERS = Call("GET", f"{SCORERS}/list", capability=CAPABILITY, local=local.list_scorers)
GET_SCORER = Call("GET", f"{SCORERS}/get", capability=CAPABILITY, local=local.get_scorer)
# Always adds a version (1, 2, …): not idempotent.
REGISTER_SCORER = Call(
    "POST", f"{SCORERS}/register", capability=CAPABILITY, idempotent=False, local=local.register_scorer
)


# --- decoders ---------------------------------------------------------------------------------------


def _int(v: Any) -> int | None:
    return int(v) if v is not None else None


def _audit(d: dict) -> dict:
    """Who made and last changed a gateway object, and when: every gateway answer carries them."""
    return {
        "created_by": _who(d.get("created_by")),
        "last_updated_by": _who(d.get("last_updated_by")),
        "created": _int(d.get("created_at")),
        "last_updated": _int(d.get("last_updated_at")),
    }


def _who(v: Any) -> str | None:
    return v or None  # MLflow answers "" for endpoints, budgets and guardrail configs made by nobody


def secret_of(d: dict) -> LiveSecret:
    return LiveSecret(
        id=d["secret_id"],
        name=d["secret_name"],
        masked=dict(d.get("masked_values") or {}),
        provider=d.get("provider") or None,
        auth_config=dict(d.get("auth_config") or {}),
        **_audit(d),
    )


def gateway_model_of(d: dict) -> LiveGatewayModel:
    return LiveGatewayModel(
        id=d["model_definition_id"],
        name=d["name"],
        provider=d.get("provider", ""),
        model_name=d.get("model_name", ""),
        secret_id=d.get("secret_id") or None,
        secret_name=d.get("secret_name") or None,
        **_audit(d),
    )


def route_of(m: dict) -> LiveRoute:
    return LiveRoute(
        mapping_id=m.get("mapping_id", ""),
        model_definition_id=m["model_definition_id"],
        model=(m.get("model_definition") or {}).get("name"),
        linkage=m.get("linkage_type", "PRIMARY").lower(),
        weight=float(m.get("weight", 0.0)),
        fallback_order=_int(m.get("fallback_order")),
    )


def endpoint_of(d: dict) -> LiveEndpoint:
    fallback = d.get("fallback_config")
    return LiveEndpoint(
        id=d["endpoint_id"],
        name=d["name"],
        routes=tuple(route_of(m) for m in d.get("model_mappings") or ()),
        routing_strategy=d.get("routing_strategy") or None,
        fallback_strategy=(fallback or {}).get("strategy") or None,
        fallback_max_attempts=_int((fallback or {}).get("max_attempts")),
        has_fallback_config=fallback is not None,
        usage_tracking=bool(d.get("usage_tracking", False)),
        experiment_id=d.get("experiment_id") or None,
        tags={t["key"]: t.get("value", "") for t in d.get("tags") or ()},
        **_audit(d),
    )


def scorer_of(d: dict) -> LiveScorer:
    """A scorer version, from a Scorer message (`scorers/get|list`, a guardrail's `scorer`) or the
    flat answer of `scorers/register`."""
    return LiveScorer(
        scorer_id=d["scorer_id"],
        experiment_id=str(d["experiment_id"]),  # an integer in Scorer messages, a string elsewhere
        name=d.get("scorer_name") or d.get("name", ""),
        version=int(d.get("scorer_version") or d.get("version")),
        serialized=d.get("serialized_scorer", ""),
        created=_int(d.get("creation_time")),
    )


def guardrail_of(d: dict) -> LiveGuardrail:
    return LiveGuardrail(
        id=d["guardrail_id"],
        name=d["name"],
        scorer=scorer_of(d["scorer"]),
        stage=d["stage"].lower(),
        action=d["action"].lower(),
        action_endpoint=d.get("action_endpoint_id") or None,
        **_audit(d),
    )


def attachment_of(d: dict) -> LiveGuardrailAttachment:
    return LiveGuardrailAttachment(
        endpoint_id=d["endpoint_id"],
        guardrail_id=d["guardrail_id"],
        guardrail_name=(d.get("guardrail") or {}).get("name"),
        execution_order=_int(d.get("execution_order")),
    )


def budget_of(d: dict) -> LiveBudget:
    duration = d.get("duration") or {}
    return LiveBudget(
        id=d["budget_policy_id"],
        amount=float(d.get("budget_amount", 0.0)),
        unit=d.get("budget_unit", "USD"),
        every_value=int(duration.get("value", 0)),
        every_unit=duration.get("unit", "").lower(),
        scope=d["target_scope"].lower(),
        action=d["budget_action"].lower(),
        target=d.get("target_value") or None,
        **_audit(d),
    )


# --- request bodies in MLflow's words ---------------------------------------------------------------


def route_configs(routes: dict[str, float], fallback: list[str], ids: dict[str, str]) -> list[dict]:
    """`model_configs` for a split given in percent (model name -> percent) and fallbacks in
    order, written as MLflow's UI writes them (weight = percent / 100, fallback_order from 1);
    `ids` maps model definition names to ids."""
    configs = [
        {"model_definition_id": ids[name], "linkage_type": "PRIMARY", "weight": pct / 100.0}
        for name, pct in routes.items()
    ]
    configs += [
        {"model_definition_id": ids[name], "linkage_type": "FALLBACK", "fallback_order": i}
        for i, name in enumerate(fallback, start=1)
    ]
    return configs


def routing_fields(routes: dict[str, float], fallback: list[str]) -> dict:
    """The routing settings that go with `route_configs` (as MLflow's UI sends them): the
    traffic-split strategy when more than one model takes traffic, and a sequential fallback over
    the fallbacks (max_attempts = fallbacks + 1) when there are any. Send these with every route
    change: MLflow resets the fallback settings whenever `model_configs` is given."""
    out: dict[str, Any] = {}
    if len(routes) > 1:
        out["routing_strategy"] = "REQUEST_BASED_TRAFFIC_SPLIT"
    if fallback:
        out["fallback_config"] = {"strategy": "SEQUENTIAL", "max_attempts": len(fallback) + 1}
    return out
