"""Saved plans, Markdown for pull requests, drift, import, state commands and history."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.integration


def _one_model(ws, **version):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write(
        {
            "models": {
                m: {
                    "description": "d",
                    "tags": {"team": "t"},
                    "versions": [{"run_id": a, "stage": "candidate", "tags": {"owner": "ana"}, **version}],
                }
            }
        }
    )
    return m, a


def test_saved_plan_applies_without_prompt(ws):
    m, _ = _one_model(ws)
    ws.run("plan", "--out", "pr.plan", check=0)
    doc = json.loads((ws.path / "pr.plan").read_text())
    assert doc["format_version"] == "1.2" and doc["summary"]["create"] == 2
    out = ws.run("apply", "pr.plan", input="")  # no terminal, no --auto-approve: a saved plan needs none
    assert out.returncode == 0, out.stderr
    assert len(ws.client.search_model_versions(f"name = '{m}'")) == 1
    ws.assert_converged()


def test_stale_saved_plan_refused_after_out_of_band_change(ws):
    m, a = _one_model(ws)
    ws.run("apply", "--auto-approve", check=0)
    v = ws.client.search_model_versions(f"name = '{m}'")[0]
    ws.write(
        {
            "models": {
                m: {
                    "description": "d",
                    "tags": {"team": "t"},
                    "versions": [{"run_id": a, "stage": "archived", "tags": {"owner": "bo"}}],
                }
            }
        }
    )
    ws.run("plan", "--out", "pr.plan", check=0)
    # someone edits a resource the plan touches
    ws.client.set_model_version_tag(m, v.version, "owner", "carl")
    out = ws.run("apply", "pr.plan")
    assert out.returncode == 1 and "stale" in out.stderr
    v = ws.client.get_model_version(m, v.version)
    assert v.tags["stage"] == "candidate" and v.tags["owner"] == "carl"  # nothing applied

    # state moved since the plan: refused too
    ws.run("plan", "--out", "pr2.plan", check=0)
    ws.run("apply", "--auto-approve", check=0)
    out = ws.run("apply", "pr2.plan")
    assert out.returncode == 1 and "serial" in out.stderr
    ws.assert_converged()


def test_markdown_plan_for_pull_requests(ws):
    m, a = _one_model(ws)
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert md.splitlines()[0].startswith("📝 **Plan: 2 to add")
    assert "| Address | Action | What changes |" in md
    assert f"| <code>model_version.{m}&#91;run:{a}/model&#93;</code> (new) | + create |" in md
    assert "<details><summary>Full plan</summary>" in md and "</details>" in md
    ws.run("apply", "--auto-approve", check=0)
    assert ws.run("plan", "--format", "markdown", check=0).stdout.startswith("✅ No changes.")
    ws.assert_converged()


def test_drift_detected_reported_and_reverted(ws):
    m, a = _one_model(ws, description="reviewed")
    ws.run("apply", "--auto-approve", check=0)
    assert ws.run("drift", "--detailed-exitcode", check=0).stdout.startswith("No drift")
    c = ws.client
    v = c.search_model_versions(f"name = '{m}'")[0]
    c.set_model_version_tag(m, v.version, "owner", "mallory")
    c.update_registered_model(m, "changed by hand")
    time.sleep(0.01)

    out = ws.run("drift", "--detailed-exitcode", check=2).stdout
    assert f'model_version.{m}[run:{a}/model]: tags.owner = "ana" -> "mallory"' in out
    assert f'model.{m}: description = "d" -> "changed by hand"' in out
    doc = json.loads(ws.run("drift", "--format", "json", check=0).stdout)
    items = {(d["address"], d["attribute"]): d for d in doc["drift"]}
    shaped = {d["address"]: d for d in doc["resource_drift"]}  # Terraform's shape: before = recorded, after = live
    assert shaped[f"model.{m}"]["change"] == {
        "actions": ["update"],
        "before": {"description": "d"},
        "after": {"description": "changed by hand"},
        "after_unknown": {},
        "before_sensitive": {},
        "after_sensitive": {},
    }
    assert items[(f"model.{m}", "description")]["recorded"] == "d"
    assert items[(f"model.{m}", "description")]["live"] == "changed by hand"
    assert items[(f"model.{m}", "description")]["last_updated"]  # MLflow records when a description changed
    assert items[(f"model_version.{m}[run:{a}/model]", "tags.owner")]["last_updated"] is None  # not a tag
    md = ws.run("drift", "--format", "markdown", check=0).stdout
    assert "Drift detected" in md and "| Address | Attribute | Recorded | Live | Note |" in md

    plan = ws.run("plan", check=0).stdout
    assert "Objects have changed outside of mlreg" in plan
    ws.run("apply", "--auto-approve", check=0)
    assert c.get_model_version(m, v.version).tags["owner"] == "ana"
    ws.run("drift", "--detailed-exitcode", check=0)
    ws.assert_converged()


def test_drift_notes_unmanaged_versions(ws):
    import mlflow

    m, _ = _one_model(ws)
    ws.run("apply", "--auto-approve", check=0)
    b = ws.log_run("run-b")
    mlflow.set_tracking_uri(ws.tracking_uri)
    mlflow.register_model(f"runs:/{b}/model", m)
    out = ws.run("drift", "--detailed-exitcode", check=0).stdout  # a note, not drift
    assert "unmanaged version 2 appeared" in out
    # an unmanaged version is not a change to the file's resources
    ws.assert_converged()


def test_import_then_plan_is_empty(ws):
    import mlflow

    m = ws.model()
    mlflow.set_tracking_uri(ws.tracking_uri)
    runs = [ws.log_run(f"r{i}", "logged" if i == 2 else "artifact") for i in range(3)]
    c = ws.client
    c.create_registered_model(m, tags={"team": "x", "mlflow.internal": "y"}, description="live model")
    for i, r in enumerate(runs):
        mv = mlflow.register_model(f"runs:/{r}/model", m)
        c.set_model_version_tag(m, mv.version, "stage", ["archived", "production", "candidate"][i])
        c.set_model_version_tag(m, mv.version, "mlflow.pipeline", "ci")
    c.create_model_version(m, "s3://bucket/legacy/model")  # no run
    c.set_registered_model_alias(m, "champion", "2")
    pid = ws.policy_id()
    import sqlalchemy as sa

    engine = sa.create_engine(ws.database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO exp.policy_versions VALUES (gen_random_uuid(), :p, 1, :m, '2', '{\"temperature\": 0.3}')"
            ),
            {"p": pid, "m": m},
        )
    engine.dispose()

    (ws.path / "registry.yaml").write_text(
        "version: 1\nmlflow:\n  tracking_uri: ${MLFLOW_TRACKING_URI}\ndatabase:\n  url: ${MLREG_DATABASE_URL}\n"
    )
    ws.run("import", "--model", m, "--policy", f"planner_policy={pid}", "--out", "imported.yaml", check=0)
    text = (ws.path / "imported.yaml").read_text()
    assert "mlflow.internal" not in text and "mlflow.pipeline" not in text
    assert "${MLFLOW_TRACKING_URI}" in text
    assert f"run_id: {runs[0]}" in text, text
    assert "source: 's3://bucket/legacy/model'" in text, text
    assert "stage: production" in text and "aliases: {champion: 2}" in text
    out = ws.run("-f", "imported.yaml", "plan", "--detailed-exitcode")
    assert out.returncode == 0, out.stdout + out.stderr
    listed = ws.run("-f", "imported.yaml", "state", "list", check=0).stdout.split()
    assert f"model.{m}" in listed and "policy_version.planner_policy[1]" in listed and len(listed) == 6
    (ws.path / "registry.yaml").write_text(text)
    ws.assert_converged()


def test_state_commands_and_history(ws):
    m, a = _one_model(ws)
    ws.run("apply", "--auto-approve", check=0)
    addr = f"model_version.{m}[run:{a}/model]"
    assert ws.run("state", "list", check=0).stdout.split() == [f"model.{m}", addr]
    shown = json.loads(ws.run("state", "show", addr, check=0).stdout)
    assert shown["identity"]["version"] == "1" and shown["attributes"]["stage"] == "candidate"
    ws.run("state", "rm", addr, check=0)
    assert addr not in ws.run("state", "list", check=0).stdout
    assert len(ws.client.search_model_versions(f"name = '{m}'")) == 1  # live untouched
    # the next plan adopts it again, without registering anything
    plan = ws.run("plan", check=0).stdout
    assert f"  = {addr} {{" in plan and "Plan: 1 to adopt, 0 to add, 0 to change" in plan
    ws.run("apply", "--auto-approve", check=0)
    assert addr in ws.run("state", "list", check=0).stdout
    hist = json.loads(ws.run("history", "--format", "json", check=0).stdout)
    assert hist[0]["outcome"] == "succeeded" and hist[0]["summary"]["create"] == 2
    assert addr in hist[0]["changed"] and hist[0]["plan_digest"].startswith("sha256:")
    assert "succeeded" in ws.run("history", check=0).stdout
    ws.assert_converged()
