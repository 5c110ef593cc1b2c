"""The tools around mlreg read its output unchanged: a Terraform-style Rego policy on the JSON
plan, MLflow's own environment variables, read-only plans, drift put back, the lineage picture."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.workspace import ROOT, Workspace

pytestmark = pytest.mark.integration
POLICY = ROOT / "examples" / "policy" / "mlreg.rego"


def rego(doc: dict, query: str):
    """Evaluate the example policy with a real Rego engine (regopy: OPA's language, in-process)."""
    from regopy import Input, Interpreter

    interp = Interpreter()
    interp.add_module("mlreg", POLICY.read_text())
    interp.set_input(Input(doc))
    return json.loads(str(interp.query(query)))["expressions"][0]


def test_terraform_style_rego_policy_denies_a_delete_and_lists_a_promotion(ws):
    m = ws.model()
    old, new = ws.log_run("old", scores=(0.87, 1.0)), ws.log_run("new", scores=(0.91, 1.0))
    ws.write(
        {"models": {m: {"versions": [{"run_id": old, "stage": "candidate"}, {"run_id": new, "stage": "candidate"}]}}}
    )
    ws.run("apply", "--auto-approve", check=0)
    ws.write(
        {"models": {m: {"versions": [{"run_id": old, "stage": "production"}, {"run_id": new, "stage": "candidate"}]}}}
    )
    ws.run("apply", "--auto-approve", check=0)
    v_old = next(v for v in ws.client.search_model_versions(f"name = '{m}'") if v.run_id == old)

    # a promotion, and a deletion opted into in the same change
    ws.write(
        {
            "models": {m: {"versions": [{"run_id": new, "stage": "production"}]}},
            "removed": [{"address": f"model_version.{m}[v{v_old.version}]", "destroy": True}],
        }
    )
    ws.run("plan", "--out", "pr.plan", check=0)
    for doc in (
        json.loads(ws.run("plan", "--format", "json", check=0).stdout),
        json.loads((ws.path / "pr.plan").read_text()),
    ):
        assert doc["format_version"].startswith("1.") and float(doc["format_version"]) < 2.0
        assert rego(doc, "data.mlreg.deny") == [
            f"model_version.{m}[v{v_old.version}] would be deleted: get an explicit approval"
        ]
        assert rego(doc, "data.mlreg.promotions") == [f"model_version.{m}[run:{new}/model]"]
    # converged: nothing to deny, nothing promoted
    ws.run("apply", "pr.plan", check=0)
    ws.write({"models": {m: {"versions": [{"run_id": new, "stage": "production"}]}}})
    doc = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    assert rego(doc, "data.mlreg.deny") == [] and rego(doc, "data.mlreg.promotions") == []
    ws.assert_converged()


def test_mlflow_tracking_uri_is_honoured_without_an_mlflow_section(ws, services):
    m = ws.model()
    a = ws.log_run("run-a")
    (ws.path / "registry.yaml").write_text(f"version: 1\nmodels:\n  {m}:\n    versions: [{{run_id: {a}}}]\n")
    out = ws.run("plan", check=0)
    first = out.stdout.splitlines()[0]
    assert first.startswith(f"Reading MLflow at {services.mlflow.url}, database postgresql+psycopg://"), first
    assert "state in local file" in first
    assert "will be created" in out.stdout
    assert not (ws.path / "mlflow.db").exists() and not (ws.path / "mlreg.db").exists()
    ws.run("apply", "--auto-approve", check=0)
    assert len(ws.client.search_model_versions(f"name = '{m}'")) == 1
    ws.assert_converged()


def _bare_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL")} | {
        "NO_COLOR": "1"
    }


def test_plan_validate_drift_write_nothing_on_the_embedded_defaults(tmp_path):
    ws = Workspace(tmp_path, "unused", "unused")
    env = _bare_env()
    (tmp_path / "registry.yaml").write_text("version: 1\n")
    for args in (["validate"], ["plan", "--detailed-exitcode"], ["drift", "--detailed-exitcode"]):
        out = ws.run(*args, env=env, check=0)
        assert out.stderr == "", f"{args}: {out.stderr}"  # MLflow's own logs stay quiet
    assert "No changes." in ws.run("plan", env=env, check=0).stdout
    (tmp_path / "registry.yaml").write_text(
        "version: 1\nmodels:\n  a_model:\n    versions: [{source: 's3://b/m'}]\n"
        "policies:\n  p:\n    id: 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11\n"
        "    versions: {1: {model: a_model, model_version: {source: 's3://b/m'}}}\n"
    )
    out = ws.run("plan", env=env, check=0)
    assert f"{ws.path / 'mlflow.db'} does not exist yet: apply creates it" in out.stdout  # beside the file
    assert "Plan: 3 to add" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.yaml"], "a read-only command wrote files"
    # apply creates the embedded stores, as MLflow itself does
    ws.run("apply", "--auto-approve", env=env, check=0)
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlreg.db").exists()
    assert "No changes." in ws.run("plan", env=env, check=0).stdout


def test_stage_changed_by_hand_is_put_back_not_promoted(ws):
    m = ws.model()
    weak = ws.log_run("weak", scores=(0.5, 1.0))
    doc = {"models": {m: {"versions": [{"run_id": weak, "stage": "candidate"}]}}}
    ws.write(doc)
    ws.run("apply", "--auto-approve", check=0)
    v = ws.client.search_model_versions(f"name = '{m}'")[0]
    ws.client.set_model_version_tag(m, v.version, "stage", "production")  # out of band, past the gates

    out = ws.run("plan", "--detailed-exitcode", check=2).stdout
    assert "Objects have changed outside of mlreg" in out
    assert f'model_version.{m}[run:{weak}/model]: stage = "candidate" -> "production"' in out
    assert "(this plan puts it back)" in out and "Promotions:" not in out
    assert "putting back the values last applied" in out
    ws.run("apply", "--auto-approve", check=0)
    assert ws.client.get_model_version(m, v.version).tags["stage"] == "candidate"
    ws.assert_converged()

    # The file asks for production while live already says so: the gates still judge it.
    ws.client.set_model_version_tag(m, v.version, "stage", "production")
    doc["models"][m]["versions"][0]["stage"] = "production"
    ws.write(doc)
    out = ws.run("plan")
    assert out.returncode == 1
    assert "Promotion gate failed: plan_alignment_score >= 0.85, actual 0.5" in out.stdout
    assert "candidate -> production" in out.stdout
    doc["models"][m]["versions"][0]["stage"] = "candidate"
    ws.write(doc)
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_policy_row_edited_in_the_database_is_restored(ws):
    import sqlalchemy as sa

    m = ws.model()
    a = ws.log_run("a")
    pid = ws.policy_id()
    ws.write(
        {
            "models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}},
            "policies": {
                "planner_policy": {
                    "id": pid,
                    "versions": {
                        1: {"model": m, "model_version": {"run_id": a}, "config_defaults": {"temperature": 0.7}}
                    },
                }
            },
        }
    )
    ws.run("apply", "--auto-approve", check=0)
    (row,) = ws.policy_rows(pid)
    engine = sa.create_engine(ws.database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE exp.policy_versions SET config_defaults = '{\"temperature\": 0.9}' WHERE id = :i"),
            {"i": row["id"]},
        )
    engine.dispose()
    out = ws.run("drift", "--detailed-exitcode", check=2).stdout
    assert 'policy_version.planner_policy[1]: config_defaults = {"temperature": 0.7} -> {"temperature": 0.9}' in out
    plan = ws.run("plan", check=0).stdout
    assert "(this plan puts it back)" in plan and "immutable" not in plan
    ws.run("apply", "--auto-approve", check=0)
    (after,) = ws.policy_rows(pid)
    assert after["config_defaults"] == {"temperature": 0.7} and after["id"] == row["id"]
    ws.assert_converged()


def test_markdown_has_a_lineage_picture_and_graph_prints_dot_and_mermaid(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    pid = ws.policy_id()
    ws.write(
        {
            "models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}},
            "policies": {"planner_policy": {"id": pid, "versions": {1: {"model": m, "model_version": {"run_id": a}}}}},
        }
    )
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    picture = md.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert picture.startswith("graph LR")
    assert '"planner_policy v1"' in picture and f'"{m} run:{a}/model (new)"' in picture
    assert f'"run {a[:12]}…"' in picture
    assert "classDef create" in picture and picture.count("-->") == 2
    dot = ws.run("graph", check=0).stdout
    assert (
        dot.startswith("digraph mlreg {")
        and f'"policy_version.planner_policy[1]" -> "model_version.{m}[run:{a}/model]"' in dot
    )
    assert ws.run("graph", "--format", "mermaid", check=0).stdout.startswith("graph LR")
    ws.run("apply", "--auto-approve", check=0)
    assert "```mermaid" not in ws.run("plan", "--format", "markdown", check=0).stdout  # nothing touched
    ws.assert_converged()
