"""Promotion review and lifecycle rules, against the real servers."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def _versions(ws, m):
    return {v.run_id: v for v in ws.client.search_model_versions(f"name = '{m}'")}


def test_clean_promotion_archives_old_moves_alias_and_converges(ws):
    m = ws.model()
    old = ws.log_run("old", scores=(0.87, 1.0))
    new = ws.log_run("new", scores=(0.91, 1.0))
    rules = {"production_alias": "production"}
    ws.write({"rules": rules, "models": {m: {"versions": [{"run_id": old, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.write(
        {
            "rules": rules,
            "models": {
                m: {"versions": [{"run_id": old, "stage": "production"}, {"run_id": new, "stage": "candidate"}]}
            },
        }
    )
    ws.run("apply", "--auto-approve", check=0)
    v_old, v_new = _versions(ws, m)[old], _versions(ws, m)[new]
    assert ws.client.get_registered_model(m).aliases == {"production": v_old.version}

    ws.write(
        {
            "rules": rules,
            "models": {m: {"versions": [{"run_id": old, "stage": "archived"}, {"run_id": new, "stage": "production"}]}},
        }
    )
    out = ws.run("plan", check=0).stdout
    assert "Promotions:" in out
    assert f"{m} version {v_new.version}: candidate -> production" in out
    assert f"plan_alignment_score = 0.91   (replaces version {v_old.version}: 0.87)" in out
    assert f'~ aliases.production = "{v_old.version}" -> "{v_new.version}"' in " ".join(out.split())
    doc = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    (promo,) = doc["promotions"]
    assert promo["from"] == "candidate" and promo["to"] == "production" and promo["run_id"] == new
    assert promo["metrics"]["plan_alignment_score"] == 0.91
    assert promo["replaces"]["version"] == v_old.version
    assert promo["replaces"]["metrics"]["plan_alignment_score"] == 0.87
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert "### Promotions" in md and "candidate → production" in md

    ws.run("apply", "--auto-approve", check=0)
    vs = _versions(ws, m)
    assert vs[old].tags["stage"] == "archived" and vs[new].tags["stage"] == "production"
    assert ws.client.get_registered_model(m).aliases == {"production": v_new.version}
    ws.assert_converged()


def _refused(ws, *needles):
    out = ws.run("plan")
    assert out.returncode == 1, out.stdout
    text = " ".join(out.stdout.split())
    for n in needles:
        assert n in text, (n, out.stdout)
    assert "Traceback" not in out.stdout + out.stderr
    return out


def test_none_to_production_refused(ws):
    m = ws.model()
    a = ws.log_run("a")
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "production"}]}}})
    _refused(
        ws,
        "Stage transition none -> production is not allowed",
        f"model_version.{m}[run:{a}/model]",
        "allowed from none: candidate",
    )
    out = ws.run("apply", "--auto-approve")
    assert out.returncode == 1
    assert ws.client.search_registered_models(f"name = '{m}'") == []


def test_two_production_versions_refused(ws):
    m = ws.model()
    a, b = ws.log_run("a"), ws.log_run("b")
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}, {"run_id": b, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "production"}, {"run_id": b, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.write(
        {"models": {m: {"versions": [{"run_id": a, "stage": "production"}, {"run_id": b, "stage": "production"}]}}}
    )
    vs = _versions(ws, m)
    _refused(
        ws,
        "would have 2 production versions (at most 1 allowed)",
        f"version {vs[a].version}",
        f"model_version.{m}[run:{b}/model]",
        "archive the old production version",
    )
    assert _versions(ws, m)[b].tags["stage"] == "candidate"
    # the fix the message suggests: archive the old one in the same change
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "archived"}, {"run_id": b, "stage": "production"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_gate_failure_shows_the_numbers(ws):
    m = ws.model()
    a = ws.log_run("weak", scores=(0.5, 1.0))
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "production"}]}}})
    _refused(ws, "Promotion gate failed: plan_alignment_score >= 0.85, actual 0.5")
    assert _versions(ws, m)[a].tags["stage"] == "candidate"
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    ws.assert_converged()  # the refused plan left nothing half-done


def test_run_missing_epochs_refused(ws):
    m = ws.model()
    a = ws.log_run("sloppy", omit=("epochs",))
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    _refused(ws, "lacks required logging: param epochs")
    assert ws.client.search_registered_models(f"name = '{m}'") == []


def test_policy_version_edit_refused_table_unchanged(ws):
    m = ws.model()
    a = ws.log_run("a")
    pid = ws.policy_id()
    doc = {
        "models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}},
        "policies": {
            "planner_policy": {
                "id": pid,
                "versions": {1: {"model": m, "model_version": {"run_id": a}, "config_defaults": {"temperature": 0.7}}},
            }
        },
    }
    ws.write(doc)
    ws.run("apply", "--auto-approve", check=0)
    before = ws.policy_rows(pid)
    doc["policies"]["planner_policy"]["versions"][1]["config_defaults"] = {"temperature": 0.9}
    ws.write(doc)
    _refused(
        ws, "Policy versions are immutable: add a new version instead", "policy_version.planner_policy[1]", "0.7", "0.9"
    )
    assert ws.run("apply", "--auto-approve").returncode == 1
    assert ws.policy_rows(pid) == before
    doc["policies"]["planner_policy"]["versions"][2] = {
        "model": m,
        "model_version": {"run_id": a},
        "config_defaults": {"temperature": 0.9},
    }
    doc["policies"]["planner_policy"]["versions"][1]["config_defaults"] = {"temperature": 0.7}
    ws.write(doc)  # the advice: add a new version instead
    ws.run("apply", "--auto-approve", check=0)
    assert [r["config_defaults"] for r in ws.policy_rows(pid)] == [{"temperature": 0.7}, {"temperature": 0.9}]
    ws.assert_converged()


def test_deletion_only_by_explicit_opt_in(ws):
    import uuid

    import sqlalchemy as sa

    m = ws.model()
    a, b = ws.log_run("a"), ws.log_run("b")
    pid = ws.policy_id()
    versions = [{"run_id": a, "stage": "candidate"}, {"run_id": b, "stage": "candidate"}]
    policies = {
        "planner_policy": {
            "id": pid,
            "versions": {
                1: {"model": m, "model_version": {"run_id": a}},
                2: {"model": m, "model_version": {"run_id": b}},
            },
        }
    }
    ws.write({"models": {m: {"aliases": {"champion": {"run_id": a}}, "versions": versions}}, "policies": policies})
    ws.run("apply", "--auto-approve", check=0)
    rows = {r["version"]: r for r in ws.policy_rows(pid)}
    engine = sa.create_engine(ws.database_url)
    variant = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO exp.variants (id, config) VALUES (:i, CAST(:c AS jsonb))"),
            {"i": variant, "c": f'{{"policy_version_id": "{rows[1]["id"]}"}}'},
        )
    engine.dispose()

    # Taking things out of the file forgets them: nothing live changes.
    ws.write(
        {
            "models": {m: {"versions": [versions[0]]}},
            "policies": {"planner_policy": {"id": pid, "versions": {1: policies["planner_policy"]["versions"][1]}}},
        }
    )
    out = ws.run("plan", check=0).stdout
    assert "0 to delete" in out and "2 to forget" in out
    ws.run("apply", "--auto-approve", check=0)
    assert len(ws.policy_rows(pid)) == 2 and len(ws.client.search_model_versions(f"name = '{m}'")) == 2
    assert ws.client.get_registered_model(m).aliases  # the forgotten alias is still there

    # A variant holds policy version 1: never deleted, the plan names the variant.
    ws.write(
        {
            "models": {m: {"versions": [versions[0]]}},
            "removed": [{"address": "policy_version.planner_policy[1]", "destroy": True}],
        }
    )
    _refused(ws, f"Policy version is held by experiment variants: {variant}")

    # The opt-in: per resource, in the file, shown loudly, counted.
    v_b = _versions(ws, m)[b].version
    ws.write(
        {
            "models": {m: {"versions": [versions[0]]}},
            "policies": {"planner_policy": {"id": pid, "versions": {1: policies["planner_policy"]["versions"][1]}}},
            "removed": [
                {"address": "policy_version.planner_policy[2]", "destroy": True, "reason": "retired"},
                {"address": f"model_version.{m}[v{v_b}]", "destroy": True},
                {"address": f"model.{m}", "alias": "champion", "destroy": True},
            ],
        }
    )
    out = ws.run("plan", check=0).stdout
    assert "!! WARNING: this plan DELETES live objects" in out
    assert "# policy_version.planner_policy[2] will be deleted" in out and "(retired)" in out
    assert f"# model_version.{m}[v{v_b}] will be deleted" in out
    assert "Deletes alias 'champion'" in out
    assert "2 to delete" in out
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert "[!CAUTION]" in md and "- delete" in md
    ws.run("apply", "--auto-approve", check=0)
    assert [r["version"] for r in ws.policy_rows(pid)] == [1]
    assert [v.run_id for v in ws.client.search_model_versions(f"name = '{m}'")] == [a]
    assert ws.client.get_registered_model(m).aliases == {}
    ws.assert_converged()
