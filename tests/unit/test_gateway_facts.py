"""The AI Gateway's masking and decoders, on values and JSON measured from a real MLflow 3.17
server (see the brief's gateway-facts.md)."""

from __future__ import annotations

import random
import string

import pytest

from mlreg.planner.kinds.gateway_facts import HIDDEN, mask_secret, mask_value, masks_differ
from mlreg.providers.mlflow.gateway_api import (
    attachment_of,
    budget_of,
    endpoint_of,
    gateway_model_of,
    guardrail_of,
    route_configs,
    routing_fields,
    scorer_of,
    secret_of,
)

# value sent -> masked value the server answered
MEASURED_MASKS = {
    "sk-proj-abcdefghijklmnop1234": "sk-...1234",
    "sk-new-value-9999": "sk-...9999",
    "sk-noprovider-123": "sk-...-123",
    "ghp_1234567890abcdef": "ghp...cdef",
    "12345678": "123...5678",  # 8 characters: the shortest shown
    "1234567": "***",  # 7: hidden
    "short": "***",
    "sk-x": "***",
    "": "***",
}


@pytest.mark.parametrize(("value", "masked"), sorted(MEASURED_MASKS.items()))
def test_mask_value_matches_the_server(value, masked):
    assert mask_value(value) == masked


def test_mask_secret_masks_each_key_as_measured():
    sent = {"a": "short", "b": "1234567", "c": "12345678", "d": "", "e": "ghp_1234567890abcdef"}
    assert mask_secret(sent) == {"c": "123...5678", "d": "***", "e": "ghp...cdef", "b": "***", "a": "***"}
    assert mask_value(12345678) == HIDDEN  # not a string


def test_mask_value_agrees_with_mlflows_own_function():
    from mlflow.utils.crypto import _mask_string_value

    rng = random.Random(7)
    for n in range(60):
        value = "".join(rng.choice(string.printable) for _ in range(n))
        assert mask_value(value) == _mask_string_value(value), repr(value)


def test_masks_differ_finds_replacements_the_mask_shows_and_only_those():
    live = {"api_key": "sk-...1234"}
    assert not masks_differ(live, {"api_key": "sk-proj-abcdefghijklmnop1234"})
    assert masks_differ(live, {"api_key": "sk-proj-abcdefghijklmnop9999"})
    assert masks_differ(live, {"api_key": "sk-proj-abcdefghijklmnop1234", "org": "org-1234567"})
    assert not masks_differ(live, {"api_key": "sk-completely-other-1234"})  # same ends: not detectable
    assert not masks_differ({"api_key": "***"}, {"api_key": "other"})  # short values: never detectable


SECRET = {
    "secret_id": "s-617f5f5fde204db3a01b456e8779c3d7",
    "secret_name": "multi",
    "masked_values": {"c": "123...5678", "d": "***"},
    "created_at": 1796374747983,
    "last_updated_at": 1796374747983,
    "provider": "bedrock",
    "auth_config": {"aws_region_name": "us-east-1", "auth_mode": "access_keys"},
}


def test_secret_of():
    s = secret_of(SECRET)
    assert (s.id, s.name, s.provider) == ("s-617f5f5fde204db3a01b456e8779c3d7", "multi", "bedrock")
    assert s.masked == {"c": "123...5678", "d": "***"}
    assert s.auth_config["aws_region_name"] == "us-east-1"
    assert s.created_by is None and s.created == 1796374747983
    empty = secret_of({"secret_id": "s-1", "secret_name": "nop", "created_at": 1, "last_updated_at": 1})
    assert empty.masked == {} and empty.provider is None  # `secret_value: {}` is accepted and shows no keys


def test_model_of_and_a_model_whose_secret_was_deleted():
    m = gateway_model_of(
        {
            "model_definition_id": "d-88ec",
            "name": "gpt4o",
            "secret_id": "s-585f",
            "secret_name": "openai_prod",
            "provider": "openai",
            "model_name": "gpt-4o-mini",
            "created_at": 1,
            "last_updated_at": 2,
        }
    )
    assert (m.id, m.name, m.secret_name, m.model_name) == ("d-88ec", "gpt4o", "openai_prod", "gpt-4o-mini")
    orphan = gateway_model_of(
        {"model_definition_id": "d-0343", "name": "orphan", "provider": "openai", "model_name": "x"}
    )
    assert orphan.secret_id is None and orphan.secret_name is None


def _mapping(mid, name, linkage, weight, order=None):
    m = {
        "mapping_id": f"m-{mid}",
        "endpoint_id": "e-5873",
        "model_definition_id": f"d-{name}",
        "model_definition": {"model_definition_id": f"d-{name}", "name": name},
        "weight": weight,
        "created_at": 1,
        "linkage_type": linkage,
    }
    if order is not None:
        m["fallback_order"] = order
    return m


ENDPOINT = {
    "endpoint_id": "e-5873",
    "name": "planner_chat",
    "created_at": 1796374760742,
    "last_updated_at": 1796374760952,
    "model_mappings": [
        _mapping("c143", "gpt4o", "PRIMARY", 90.0),
        _mapping("f358", "claude", "PRIMARY", 10.0),
        _mapping("e18e", "claude", "FALLBACK", 1.0, 1),
    ],
    "created_by": "",
    "last_updated_by": "",
    "tags": [{"key": "team", "value": "planning2"}],
    "routing_strategy": "REQUEST_BASED_TRAFFIC_SPLIT",
    "fallback_config": {"strategy": "SEQUENTIAL", "max_attempts": 2},
    "experiment_id": "1",
    "usage_tracking": False,
}


def test_endpoint_of_reads_routes_split_fallback_and_tags():
    e = endpoint_of(ENDPOINT)
    assert (e.id, e.name, e.usage_tracking, e.experiment_id) == ("e-5873", "planner_chat", False, "1")
    assert e.created_by is None  # MLflow answers "" when the client named nobody
    assert e.split() == {"gpt4o": 90.0, "claude": 10.0}
    assert e.fallback == ("claude",)
    assert (e.fallback_strategy, e.fallback_max_attempts, e.has_fallback_config) == ("SEQUENTIAL", 2, True)
    assert e.tags == {"team": "planning2"}


def test_split_as_the_gateway_computes_it():
    ui = endpoint_of(
        {**ENDPOINT, "model_mappings": [_mapping("1", "a", "PRIMARY", 0.9), _mapping("2", "b", "PRIMARY", 0.1)]}
    )
    assert ui.split() == {"a": 90.0, "b": 10.0}  # MLflow's UI writes fractions: same split
    no_strategy = endpoint_of({**ENDPOINT, "routing_strategy": None})
    assert no_strategy.split() == {"gpt4o": 100.0, "claude": 0.0}  # without the strategy: first primary only
    lone = endpoint_of(
        {
            "endpoint_id": "e-1",
            "name": "x",
            "model_mappings": [_mapping("1", "a", "PRIMARY", 0.5)],
            "fallback_config": {},
        }
    )
    assert lone.split() == {"a": 100.0} and lone.fallback == () and lone.has_fallback_config
    bare = endpoint_of({"endpoint_id": "e-2", "name": "empty", "usage_tracking": True})  # every model detached
    assert bare.routes == () and bare.split() == {} and not bare.has_fallback_config


def test_fallbacks_in_order_unordered_last():
    e = endpoint_of(
        {
            **ENDPOINT,
            "model_mappings": [
                _mapping("1", "a", "PRIMARY", 1.0),
                _mapping("2", "z", "FALLBACK", 1.0),
                _mapping("3", "c", "FALLBACK", 1.0, 2),
                _mapping("4", "b", "FALLBACK", 1.0, 1),
            ],
        }
    )
    assert e.fallback == ("b", "c", "z")


SCORER = {
    "experiment_id": 3,
    "scorer_name": "pii_judge",
    "scorer_version": 2,
    "serialized_scorer": '{"name": "pii_judge"}',
    "creation_time": 1796374810776,
    "scorer_id": "2d3c82d9-76af-41e3-8ec9-f7b73ae485cb",
}


def test_guardrail_and_attachment_of():
    g = guardrail_of(
        {
            "guardrail_id": "gr-2b44",
            "name": "tox",
            "scorer": SCORER,
            "stage": "AFTER",
            "action": "SANITIZATION",
            "action_endpoint_id": "planner_chat",
            "created_by": "root",
            "created_at": 1,
            "last_updated_by": "root",
            "last_updated_at": 1,
        }
    )
    assert (g.stage, g.action, g.action_endpoint, g.created_by) == ("after", "sanitization", "planner_chat", "root")
    assert (g.scorer.experiment_id, g.scorer.name, g.scorer.version) == ("3", "pii_judge", 2)
    a = attachment_of(
        {"endpoint_id": "e-5873", "guardrail_id": "gr-2b44", "created_by": "root", "guardrail": {"name": "tox"}}
    )
    assert (a.guardrail_name, a.execution_order) == ("tox", None)
    assert attachment_of({"endpoint_id": "e", "guardrail_id": "g", "execution_order": 0}).execution_order == 0


def test_scorer_of_the_register_answer():
    s = scorer_of(
        {"version": 2, "scorer_id": "2d3c", "experiment_id": "3", "name": "pii_judge", "serialized_scorer": "{}"}
    )
    assert (s.scorer_id, s.experiment_id, s.name, s.version) == ("2d3c", "3", "pii_judge", 2)
    assert scorer_of(SCORER) == scorer_of({**SCORER, "experiment_id": "3"})


def test_budget_of():
    b = budget_of(
        {
            "budget_policy_id": "bp-2945",
            "budget_unit": "USD",
            "budget_amount": 500.0,
            "duration": {"unit": "MONTHS", "value": 1},
            "target_scope": "ENDPOINT",
            "budget_action": "REJECT",
            "created_by": "",
            "created_at": 1,
            "last_updated_by": "",
            "last_updated_at": 1,
            "target_value": "e-5873",
        }
    )
    assert (b.amount, b.every, b.scope, b.target, b.action) == (500.0, "1 month", "endpoint", "e-5873", "reject")
    assert b.identity == ("endpoint", "e-5873", 1, "months", "reject")
    weekly = budget_of(
        {
            "budget_policy_id": "bp-c199",
            "budget_amount": 12.5,
            "duration": {"unit": "WEEKS", "value": 2},
            "target_scope": "GLOBAL",
            "budget_action": "ALERT",
        }
    )
    assert (weekly.every, weekly.target, weekly.created_by) == ("2 weeks", None, None)


def test_route_configs_write_what_mlflows_ui_writes():
    configs = route_configs({"gpt4o": 90, "claude": 10}, ["claude"], {"gpt4o": "d-1", "claude": "d-2"})
    assert configs == [
        {"model_definition_id": "d-1", "linkage_type": "PRIMARY", "weight": 0.9},
        {"model_definition_id": "d-2", "linkage_type": "PRIMARY", "weight": 0.1},
        {"model_definition_id": "d-2", "linkage_type": "FALLBACK", "fallback_order": 1},
    ]
    assert routing_fields({"gpt4o": 90, "claude": 10}, ["claude"]) == {
        "routing_strategy": "REQUEST_BASED_TRAFFIC_SPLIT",
        "fallback_config": {"strategy": "SEQUENTIAL", "max_attempts": 2},
    }
    assert routing_fields({"gpt4o": 100}, []) == {}
