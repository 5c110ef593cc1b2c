"""The in-process forms of the AI Gateway endpoints (gateway_api.py): REST's request JSON onto the
tracking store's gateway methods (MlflowClient has no public ones), answering REST's response
JSON. Each function is `(client, body) -> dict`, as `Endpoint.local` expects.

The store skips the REST handlers' request checks; those that matter are repeated here (endpoint
names, reserved secret keys, user-scoped budgets needing server authentication).
"""

from __future__ import annotations

from typing import Any

from mlreg.providers.mlflow.endpoints import as_json, done


def store(client):
    """The tracking store behind an in-process MlflowClient: it carries the gateway methods."""
    return client._tracking_client.store


def _opt(b: dict, key: str):
    return b.get(key) or None


def _paged(paged, key: str) -> dict:
    return {key: [as_json(e) for e in paged], "next_page_token": paged.token}


# --- secrets ----------------------------------------------------------------------------------------


def _secret_value(b: dict) -> dict | None:
    from mlflow.utils.validation import _validate_gateway_secret_value

    value = b.get("secret_value") or None
    _validate_gateway_secret_value(value)
    return value


def list_secrets(c, b: dict) -> dict:
    return {"secrets": [as_json(s) for s in store(c).list_secret_infos(provider=_opt(b, "provider"))]}


def get_secret(c, b: dict) -> dict:
    return {"secret": as_json(store(c).get_secret_info(b["secret_id"]))}


def create_secret(c, b: dict) -> dict:
    s = store(c).create_gateway_secret(
        secret_name=b["secret_name"],
        secret_value=_secret_value(b) or {},
        provider=_opt(b, "provider"),
        auth_config=_opt(b, "auth_config"),
        created_by=_opt(b, "created_by"),
    )
    return {"secret": as_json(s)}


def update_secret(c, b: dict) -> dict:
    s = store(c).update_gateway_secret(
        b["secret_id"],
        secret_value=_secret_value(b),
        auth_config=b.get("auth_config") or None,
        updated_by=_opt(b, "updated_by"),
    )
    return {"secret": as_json(s)}


def delete_secret(c, b: dict) -> dict:
    return done(store(c).delete_gateway_secret(b["secret_id"]))


# --- model definitions ------------------------------------------------------------------------------


def list_models(c, b: dict) -> dict:
    found = store(c).list_gateway_model_definitions(provider=_opt(b, "provider"), secret_id=_opt(b, "secret_id"))
    return {"model_definitions": [as_json(m) for m in found]}


def get_model(c, b: dict) -> dict:
    return {"model_definition": as_json(store(c).get_gateway_model_definition(b["model_definition_id"]))}


def create_model(c, b: dict) -> dict:
    m = store(c).create_gateway_model_definition(
        name=b["name"],
        secret_id=b["secret_id"],
        provider=b["provider"],
        model_name=b["model_name"],
        created_by=_opt(b, "created_by"),
    )
    return {"model_definition": as_json(m)}


def update_model(c, b: dict) -> dict:
    m = store(c).update_gateway_model_definition(
        b["model_definition_id"],
        name=_opt(b, "name"),
        secret_id=_opt(b, "secret_id"),
        model_name=_opt(b, "model_name"),
        updated_by=_opt(b, "updated_by"),
        provider=_opt(b, "provider"),
    )
    return {"model_definition": as_json(m)}


def delete_model(c, b: dict) -> dict:
    return done(store(c).delete_gateway_model_definition(b["model_definition_id"]))


# --- endpoints --------------------------------------------------------------------------------------


def _model_config(m: dict):
    from mlflow.entities import GatewayEndpointModelConfig, GatewayModelLinkageType

    return GatewayEndpointModelConfig(
        model_definition_id=m["model_definition_id"],
        linkage_type=GatewayModelLinkageType(m["linkage_type"]),
        weight=float(m.get("weight", 1.0)),
        fallback_order=m.get("fallback_order"),
    )


def _routing(b: dict):
    from mlflow.entities import RoutingStrategy

    return RoutingStrategy(b["routing_strategy"]) if b.get("routing_strategy") else None


def _fallback(b: dict):
    from mlflow.entities import FallbackConfig, FallbackStrategy

    fc = b.get("fallback_config")
    if fc is None:
        return None
    strategy = FallbackStrategy(fc["strategy"]) if fc.get("strategy") else None
    return FallbackConfig(strategy=strategy, max_attempts=fc.get("max_attempts"))


def _endpoint_name(name: str | None) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.gateway.utils import is_valid_endpoint_name

    if name and not is_valid_endpoint_name(name):
        raise MlflowException.invalid_parameter_value(
            f"Invalid endpoint name '{name}'. Name can only contain letters, numbers, underscores, hyphens, and dots."
        )


def list_endpoints(c, b: dict) -> dict:
    return {"endpoints": [as_json(e) for e in store(c).list_gateway_endpoints(provider=_opt(b, "provider"))]}


def get_endpoint(c, b: dict) -> dict:
    e = store(c).get_gateway_endpoint(endpoint_id=_opt(b, "endpoint_id"), name=_opt(b, "name"))
    return {"endpoint": as_json(e)}


def create_endpoint(c, b: dict) -> dict:
    _endpoint_name(b["name"])
    e = store(c).create_gateway_endpoint(
        name=b["name"],
        model_configs=[_model_config(m) for m in b["model_configs"]],
        created_by=_opt(b, "created_by"),
        routing_strategy=_routing(b),
        fallback_config=_fallback(b),
        experiment_id=_opt(b, "experiment_id"),
        usage_tracking=b.get("usage_tracking", True),
    )
    return {"endpoint": as_json(e)}


def update_endpoint(c, b: dict) -> dict:
    _endpoint_name(b.get("name"))
    configs = [_model_config(m) for m in b.get("model_configs") or ()]
    e = store(c).update_gateway_endpoint(
        endpoint_id=b["endpoint_id"],
        name=_opt(b, "name"),
        updated_by=_opt(b, "updated_by"),
        routing_strategy=_routing(b),
        fallback_config=_fallback(b),
        model_configs=configs or None,  # as REST: no configs leaves the routes as they are
        experiment_id=_opt(b, "experiment_id"),
        usage_tracking=b.get("usage_tracking"),
    )
    return {"endpoint": as_json(e)}


def delete_endpoint(c, b: dict) -> dict:
    return done(store(c).delete_gateway_endpoint(b["endpoint_id"]))


def set_endpoint_tag(c, b: dict) -> dict:
    from mlflow.entities import GatewayEndpointTag

    return done(store(c).set_gateway_endpoint_tag(b["endpoint_id"], GatewayEndpointTag(b["key"], b.get("value", ""))))


def delete_endpoint_tag(c, b: dict) -> dict:
    return done(store(c).delete_gateway_endpoint_tag(b["endpoint_id"], b["key"]))


def attach_model(c, b: dict) -> dict:
    m = store(c).attach_model_to_endpoint(
        b["endpoint_id"], _model_config(b["model_config"]), created_by=_opt(b, "created_by")
    )
    return {"mapping": as_json(m)}


def detach_model(c, b: dict) -> dict:
    return done(store(c).detach_model_from_endpoint(b["endpoint_id"], b["model_definition_id"]))


def list_bindings(c, b: dict) -> dict:
    found = store(c).list_endpoint_bindings(
        endpoint_id=_opt(b, "endpoint_id"), resource_type=_opt(b, "resource_type"), resource_id=_opt(b, "resource_id")
    )
    return {"bindings": [as_json(x) for x in found]}


def create_binding(c, b: dict) -> dict:
    from mlflow.entities import GatewayResourceType

    x = store(c).create_endpoint_binding(
        b["endpoint_id"], GatewayResourceType(b["resource_type"]), b["resource_id"], created_by=_opt(b, "created_by")
    )
    return {"binding": as_json(x)}


def delete_binding(c, b: dict) -> dict:
    return done(store(c).delete_endpoint_binding(b["endpoint_id"], b["resource_type"], b["resource_id"]))


# --- guardrails -------------------------------------------------------------------------------------


def list_guardrails(c, b: dict) -> dict:
    found = store(c).list_gateway_guardrails(max_results=b.get("max_results") or 1000, page_token=_opt(b, "page_token"))
    return _paged(found, "guardrails")


def get_guardrail(c, b: dict) -> dict:
    return {"guardrail": as_json(store(c).get_gateway_guardrail(b["guardrail_id"]))}


def create_guardrail(c, b: dict) -> dict:
    from mlflow.entities.gateway_guardrail import GuardrailAction, GuardrailStage

    g = store(c).create_gateway_guardrail(
        name=b["name"],
        scorer_id=b["scorer_id"],
        scorer_version=int(b["scorer_version"]),
        stage=GuardrailStage(b["stage"]),
        action=GuardrailAction(b["action"]),
        action_endpoint_id=_opt(b, "action_endpoint_id"),
    )
    return {"guardrail": as_json(g)}


def delete_guardrail(c, b: dict) -> dict:
    return done(store(c).delete_gateway_guardrail(b["guardrail_id"]))


def list_attachments(c, b: dict) -> dict:
    return {"configs": [as_json(x) for x in store(c).list_endpoint_guardrail_configs(b["endpoint_id"])]}


def attach_guardrail(c, b: dict) -> dict:
    x = store(c).add_guardrail_to_endpoint(b["endpoint_id"], b["guardrail_id"], b.get("execution_order"))
    return {"config": as_json(x)}


def order_guardrail(c, b: dict) -> dict:
    x = store(c).update_endpoint_guardrail_config(b["endpoint_id"], b["guardrail_id"], b.get("execution_order"))
    return {"config": as_json(x)}


def detach_guardrail(c, b: dict) -> dict:
    return done(store(c).remove_guardrail_from_endpoint(b["endpoint_id"], b["guardrail_id"]))


# --- budgets ----------------------------------------------------------------------------------------


def _budget_fields(b: dict) -> dict:
    from mlflow.entities import BudgetAction, BudgetDuration, BudgetDurationUnit, BudgetTargetScope, BudgetUnit
    from mlflow.exceptions import MlflowException

    if b.get("target_scope") == "USER":  # as a server without authentication: it would never match
        raise MlflowException.invalid_parameter_value(
            "USER-scoped budget policies require server authentication to be enabled."
        )
    out: dict[str, Any] = {}
    if "budget_unit" in b:
        out["budget_unit"] = BudgetUnit(b["budget_unit"])
    if "budget_amount" in b:
        out["budget_amount"] = float(b["budget_amount"])
    if "duration" in b:
        d = b["duration"]
        out["duration"] = BudgetDuration(unit=BudgetDurationUnit(d["unit"]), value=int(d["value"]))
    if "target_scope" in b:
        out["target_scope"] = BudgetTargetScope(b["target_scope"])
    if "budget_action" in b:
        out["budget_action"] = BudgetAction(b["budget_action"])
    if b.get("target_value"):
        out["target_value"] = b["target_value"]
    return out


def list_budgets(c, b: dict) -> dict:
    found = store(c).list_budget_policies(max_results=b.get("max_results") or 1000, page_token=_opt(b, "page_token"))
    return _paged(found, "budget_policies")


def get_budget(c, b: dict) -> dict:
    return {"budget_policy": as_json(store(c).get_budget_policy(b["budget_policy_id"]))}


def create_budget(c, b: dict) -> dict:
    p = store(c).create_budget_policy(created_by=_opt(b, "created_by"), **_budget_fields(b))
    return {"budget_policy": as_json(p)}


def update_budget(c, b: dict) -> dict:
    p = store(c).update_budget_policy(b["budget_policy_id"], updated_by=_opt(b, "updated_by"), **_budget_fields(b))
    return {"budget_policy": as_json(p)}


def delete_budget(c, b: dict) -> dict:
    return done(store(c).delete_budget_policy(b["budget_policy_id"]))


# --- registered scorers -----------------------------------------------------------------------------


def list_scorers(c, b: dict) -> dict:
    return {"scorers": [as_json(s) for s in store(c).list_scorers(b["experiment_id"])]}


def get_scorer(c, b: dict) -> dict:
    return {"scorer": as_json(store(c).get_scorer(b["experiment_id"], b["name"], b.get("version")))}


def register_scorer(c, b: dict) -> dict:
    v = store(c).register_scorer(b["experiment_id"], b["name"], b["serialized_scorer"])
    return {
        "version": v.scorer_version,
        "scorer_id": v.scorer_id,
        "experiment_id": str(v.experiment_id),
        "name": v.scorer_name,
        "serialized_scorer": v._serialized_scorer,
        "creation_time": v.creation_time,
    }
