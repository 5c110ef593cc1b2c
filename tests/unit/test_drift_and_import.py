"""Drift (live against what was last applied) and import (live to registry.yaml and back), on
plain data."""

from __future__ import annotations

import textwrap

import yaml

from mlreg.planner.changes import Action
from mlreg.planner.config.load import parse_config
from mlreg.planner.drift import detect
from mlreg.planner.importer import render_registry
from mlreg.planner.kinds.base import Chosen
from mlreg.planner.plan import build_plan
from mlreg.planner.recorded import StateSnapshot
from mlreg.planner.render.text import drift_text
from tests.unit.engine_support import live_from, state_from

STATE = {
    "model.m_model": {
        "type": "model",
        "identity": {"name": "m_model"},
        "attributes": {"description": "d", "tags": {"team": "a"}, "aliases": {"champion": "1"}},
    },
    "model_version.m_model[v1]": {
        "type": "model_version",
        "identity": {"name": "m_model", "version": "1", "key": "v1"},
        "attributes": {"version": "1", "stage": "candidate", "tags": {"owner": "ana"}},
    },
    "webhook.hook": {
        "type": "webhook",
        "identity": {"name": "hook", "id": "wh-1"},
        "attributes": {"url": "https://h/x", "events": ["model_version.created"], "status": "active", "secret": "h"},
    },
}


def test_drift_compares_owned_keys_and_never_secrets():
    live = live_from(
        {
            "models": {"m_model": {"description": "d", "tags": {"team": "b", "other": "x"}, "aliases": {}}},
            "versions": {"m_model": [{"version": 1, "source": "s", "tags": {"stage": "production", "owner": "ana"}}]},
            "webhooks": [{"id": "wh-1", "name": "hook", "url": "https://h/x", "events": ["model_version.created"]}],
        }
    )
    items = detect(state_from(STATE), live)
    found = {(d.address, d.attribute): (d.recorded, d.live) for d in items}
    assert found == {
        ("model.m_model", "tags.team"): ("a", "b"),  # a key mlreg owns; "other" is not looked at
        ("model.m_model", "aliases.champion"): ("1", None),
        ("model_version.m_model[v1]", "stage"): ("candidate", "production"),
    }
    text = drift_text(items)
    assert 'model_version.m_model[v1]: stage = "candidate" -> "production"' in text


def test_drift_notes_vanished_resources_and_unmanaged_versions():
    live = live_from(
        {
            "models": {"m_model": {"description": "d", "tags": {"team": "a"}, "aliases": {"champion": 1}}},
            "versions": {
                "m_model": [
                    {"version": 1, "source": "s", "tags": {"stage": "candidate", "owner": "ana"}},
                    {"version": 2, "source": "s3://new", "tags": {}},
                ]
            },
        }
    )
    items = detect(state_from(STATE), live)
    vanished = [d for d in items if d.vanished]
    assert [(d.address, d.note) for d in vanished] == [("webhook.hook", "webhook wh-1 no longer exists")]
    (note,) = [d for d in items if d.note and "unmanaged" in d.note]
    assert note.address == "model.m_model" and "unmanaged version 2 appeared (source s3://new)" in note.note
    assert detect(StateSnapshot(), live) == []


LIVE = {
    "models": {
        "planner_model": {"description": "planner", "tags": {"team": "a", "mlflow.x": "y"}, "aliases": {"c": 2}}
    },
    "versions": {
        "planner_model": [
            {"version": 1, "run_id": "r1", "source": "runs:/r1/model", "tags": {"stage": "archived"}},
            {"version": 2, "run_id": "r2", "source": "runs:/r2/model", "tags": {"stage": "production", "k": "v"}},
            {"version": 3, "run_id": "r2", "source": "runs:/r2/model", "tags": {}},  # the same run twice
            {"version": 4, "source": "s3://b/m", "tags": {"stage": "weird"}, "description": "imported"},
        ]
    },
    "runs": [{"run_id": "r1"}, {"run_id": "r2"}],
    "policy_versions": [
        {
            "policy_id": "2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11",
            "version": 1,
            "model": "planner_model",
            "model_version": 4,
        }
    ],
    "prompts": {"p": {"tags": {"team": "a"}, "aliases": {"prod": 2}}},
    "prompt_versions": {"p": [{"version": 1, "template": "A"}, {"version": 2, "template": "B", "commit_message": "m"}]},
    "webhooks": [{"id": "wh-9", "name": "hook", "url": "https://h/x", "events": ["model_version.created"]}],
}
CHOSEN = {
    "model": [Chosen("planner_model", "planner_model")],
    "policy_version": [Chosen("2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11", "planner_policy")],
    "prompt": [Chosen("p", "p")],
    "webhook": [Chosen("hook", "hook")],
}
BACKENDS = "mlflow:\n  tracking_uri: http://mlflow:5000\ndatabase:\n  url: sqlite:///y.db\n"


def test_import_writes_stable_matchers_and_round_trips(tmp_path):
    live = live_from(LIVE)
    text = render_registry(live, CHOSEN, BACKENDS)
    doc = yaml.safe_load(text)
    versions = doc["models"]["planner_model"]["versions"]
    assert versions[0] == {"run_id": "r1", "stage": "archived"}
    assert versions[1] == {"version": 2, "stage": "production", "tags": {"k": "v"}}  # r2 is not unique
    assert versions[2] == {"version": 3, "stage": "none"}
    assert versions[3] == {"source": "s3://b/m", "description": "imported"}  # 'weird' stays unmanaged
    assert "stage tag 'weird' is not a known stage" in text
    assert doc["models"]["planner_model"]["tags"] == {"team": "a"}  # no mlflow.* tags
    assert doc["policies"]["planner_policy"]["versions"][1]["model_version"] == 4
    assert doc["prompts"]["p"]["versions"] == [
        {"template": "A"},
        {"template": "B", "commit_message": "m", "aliases": ["prod"]},
    ]
    assert "secret" not in doc["webhooks"]["hook"]
    loaded, diags = parse_config(text.encode(), "registry.yaml", str(tmp_path), env={})
    assert not diags, [d.summary for d in diags]
    plan = build_plan(loaded, StateSnapshot(), live)
    assert not plan.has_errors and not plan.actionable, [(c.address, c.action) for c in plan.actionable]
    assert plan.summary.adopt == len(plan.changes) and plan.has_changes  # adopting is a change to state
    assert {c.address for c in plan.pending} == {c.address for c in plan.changes}  # everything adopted
    assert all(c.action is Action.NOOP and c.record_only for c in plan.pending)


def test_import_of_odd_model_names_relaxes_the_naming_rule(tmp_path):
    live = live_from({"models": {"Legacy": {}}, "versions": {}})
    text = render_registry(live, {"model": [Chosen("Legacy", "Legacy")]}, BACKENDS)
    assert "model_name_pattern: '^.+$'" in text
    loaded, diags = parse_config(text.encode(), "registry.yaml", str(tmp_path), env={})
    assert not diags and loaded is not None
    assert textwrap.dedent(text).count("rules:") == 1
