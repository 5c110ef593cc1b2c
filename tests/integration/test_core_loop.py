"""registry.yaml -> plan -> apply -> converged, against a real mlflow server on PostgreSQL."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def _doc(ws, model, versions, aliases=None, policies=None, **model_extra):
    doc = {
        "models": {
            model: {
                "description": "planner",
                "tags": {"team": "planning"},
                **({"aliases": aliases} if aliases else {}),
                "versions": versions,
                **model_extra,
            }
        }
    }
    if policies:
        doc["policies"] = policies
    return doc


def test_create_then_converged(ws):
    m = ws.model()
    a = ws.log_run("run-a", "artifact")
    ws.log_run("run-b", "logged")
    pid = ws.policy_id()
    ws.write(
        _doc(
            ws,
            m,
            [
                {"run_id": a, "stage": "candidate", "tags": {"dataset_version": "2025-01-03"}},
                {"run": {"experiment": ws.experiment, "name": "run-b"}, "stage": "candidate", "description": "second"},
            ],
            aliases={"champion": {"run_id": a}},
            policies={
                "planner_policy": {
                    "id": pid,
                    "versions": {
                        1: {"model": m, "model_version": {"run_id": a}, "config_defaults": {"temperature": 0.7}},
                        2: {
                            "model": m,
                            "model_version": {"run": {"experiment": ws.experiment, "name": "run-b"}},
                            "config_defaults": {"temperature": 0.5},
                        },
                    },
                }
            },
        )
    )
    ws.run("validate", check=0)
    plan = ws.run("plan", "--detailed-exitcode", check=2)
    assert "Plan: 5 to add, 0 to change, 0 to delete, 0 to forget." in plan.stdout
    assert "(known after apply)" in plan.stdout
    ws.run("apply", "--auto-approve", check=0)

    c = ws.client
    rm = c.get_registered_model(m)
    assert rm.description == "planner" and rm.tags == {"team": "planning"}
    versions = {v.run_id: v for v in c.search_model_versions(f"name = '{m}'")}
    assert len(versions) == 2
    va = versions[a]
    # mlreg's own tag: the id of the apply that registered it (see `mlreg history`)
    history = json.loads(ws.run("history", "--format", "json", check=0).stdout)
    assert va.tags == {"stage": "candidate", "dataset_version": "2025-01-03", "mlreg.apply_id": history[-1]["id"]}
    assert rm.aliases == {"champion": str(va.version)}
    vb = next(v for v in versions.values() if v.run_id != a)
    assert vb.description == "second" and vb.source.startswith("models:/m-")
    assert (va.version, vb.version) == ("1", "2")  # new versions are registered in the file's order
    rows = ws.policy_rows(pid)
    assert [(r["version"], r["mlflow_model_version"]) for r in rows] == [(1, str(va.version)), (2, str(vb.version))]
    assert rows[0]["config_defaults"] == {"temperature": 0.7}
    ws.assert_converged()


def test_updates_tag_removal_and_forget(ws):
    m = ws.model()
    a, b = ws.log_run("run-a"), ws.log_run("run-b")
    ws.write(
        _doc(
            ws,
            m,
            [
                {"run_id": a, "stage": "candidate", "tags": {"owner": "ana", "note": "x"}},
                {"run_id": b, "stage": "candidate"},
            ],
        )
    )
    ws.run("apply", "--auto-approve", check=0)
    c = ws.client
    va = next(v for v in c.search_model_versions(f"name = '{m}'") if v.run_id == a)
    # A pipeline tag that is not declared must survive everything below.
    c.set_model_version_tag(m, va.version, "pipeline", "keep-me")

    ws.write(
        _doc(
            ws,
            m,
            [{"run_id": a, "stage": "archived", "tags": {"owner": "bo"}, "description": "old"}],
            description="planner v2",
        )
    )
    plan = ws.run("plan", check=0).stdout
    flat = " ".join(plan.split())
    assert '~ stage = "candidate" -> "archived"' in flat
    assert '- tags.note = "x"' in flat
    assert '~ tags.owner = "ana" -> "bo"' in flat
    assert f"# model_version.{m}[run:{b}/model] will be forgotten" in plan
    assert "1 to forget" in plan
    ws.run("apply", "--auto-approve", check=0)
    va = c.get_model_version(m, va.version)
    assert ws.user_tags(va) == {"stage": "archived", "owner": "bo", "pipeline": "keep-me"}
    assert va.description == "old"
    assert c.get_registered_model(m).description == "planner v2"
    # forgotten, not deleted
    assert len(c.search_model_versions(f"name = '{m}'")) == 2
    assert f"model_version.{m}[run:{b}/model]" not in ws.state()["resources"]
    ws.assert_converged()


def test_adopts_a_version_registered_by_hand(ws):
    import mlflow

    m = ws.model()
    a = ws.log_run("run-a")
    mlflow.set_tracking_uri(ws.tracking_uri)
    mv = mlflow.register_model(f"runs:/{a}/model", m)
    ws.write(_doc(ws, m, [{"run_id": a, "stage": "candidate"}]))
    plan = ws.run("plan", check=0).stdout
    assert "model_version" in plan and "will be created" not in plan.split("model_version", 1)[1]
    ws.run("apply", "--auto-approve", check=0)
    versions = ws.client.search_model_versions(f"name = '{m}'")
    assert [v.version for v in versions] == [mv.version]
    assert versions[0].tags.get("stage") == "candidate"
    ws.assert_converged()


def test_version_matcher_errors_are_listed(ws):
    m = ws.model()
    ws.log_run("twin")
    ws.log_run("twin-2")
    # two runs with the same name in one experiment
    import mlflow

    with mlflow.start_run(run_name="twin", experiment_id=mlflow.get_experiment_by_name(ws.experiment).experiment_id):
        pass
    ws.write(
        _doc(
            ws,
            m,
            [
                {"run": {"experiment": ws.experiment, "name": "twin"}},
                {"run": {"experiment": ws.experiment, "name": "nope"}},
                {"version": 7},
            ],
        )
    )
    out = ws.run("plan")
    assert out.returncode == 1
    assert "2 runs named 'twin'" in out.stdout
    assert "No run named 'nope'" in out.stdout
    assert "Version 7 of" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_json_plan_has_binding_keys(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write(_doc(ws, m, [{"run_id": a, "stage": "candidate"}]))
    doc = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    assert set(doc) >= {
        "format_version",
        "mlreg_version",
        "config",
        "state",
        "resource_changes",
        "resource_drift",
        "promotions",
        "diagnostics",
        "summary",
        "applyable",
    }
    assert doc["format_version"] == "1.2"
    rc = {c["address"]: c for c in doc["resource_changes"]}
    v = rc[f"model_version.{m}[run:{a}/model]"]
    assert v["type"] == "model_version" and v["mode"] == "managed" and v["provider_name"] == "mlreg/mlflow"
    assert v["name"] == m and v["index"] == f"run:{a}/model"
    assert v["change"]["actions"] == ["create"] and v["change"]["before"] is None
    assert v["change"]["after"]["stage"] == "candidate" and v["change"]["after_unknown"] == {"version": True}
    assert v["depends_on"] == [f"model.{m}"]
    assert doc["summary"] == {"adopt": 0, "create": 2, "update": 0, "delete": 0, "forget": 0, "move": 0}
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_target_limits_the_plan(ws):
    m1, m2 = ws.model("planner"), ws.model("ranker")
    a, b = ws.log_run("run-a"), ws.log_run("run-b")
    ws.write({"models": {m1: {"versions": [{"run_id": a}]}, m2: {"versions": [{"run_id": b}]}}})
    out = ws.run("plan", "--target", f"model.{m1}", check=0).stdout
    assert m1 in out and m2 not in out
    ws.run("apply", "--auto-approve", "--target", f"model.{m1}", check=0)
    assert ws.client.search_registered_models(f"name = '{m2}'") == []
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_apply_without_terminal_refuses(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write(_doc(ws, m, [{"run_id": a}]))
    out = ws.run("apply", input="")
    assert out.returncode == 1 and "--auto-approve" in out.stderr
    assert ws.client.search_registered_models(f"name = '{m}'") == []


def test_secrets_never_printed(ws, services):
    url = services.database_url.replace("postgres@", "postgres:hunter2secret@")
    ws.write({"models": {}, "database": {"url": url}})
    env = {**ws.env, "MLREG_DATABASE_URL": url, "MY_API_TOKEN": "tok-abcdef123"}
    for args in (["plan"], ["plan", "--format", "json"], ["db", "init"]):
        out = ws.run(*args, env=env)
        assert "hunter2secret" not in out.stdout + out.stderr
    bad = services.database_url.replace("postgres@", "postgres:hunter2secret@").rsplit("/", 1)[0] + "/nodb_x"
    ws.write({"models": {m: {} for m in []}, "policies": {}, "database": {"url": bad}})
    out = ws.run("db", "init", env=env)
    assert out.returncode == 1 and "hunter2secret" not in out.stdout + out.stderr
    assert "***" in out.stderr
