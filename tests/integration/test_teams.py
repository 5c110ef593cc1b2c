"""Many teams, one registry: a folder of files merged into one configuration; what was live, and
when (history and state at a past time, on both state backends); state bound to the endpoints it
was recorded against. Through the `mlreg` command, on the real servers; every apply converges."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import yaml

from tests.support.faultproxy import HttpFaultProxy
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration

SETTINGS = {
    "version": 1,
    "mlflow": {"tracking_uri": "${MLFLOW_TRACKING_URI}"},
    "database": {"url": "${MLREG_DATABASE_URL}"},
}


def _files(ws: Workspace, folder: str, files: dict[str, dict]) -> None:
    d = ws.path / folder
    d.mkdir(exist_ok=True)
    for name in d.glob("*.yaml"):
        name.unlink()
    for name, doc in files.items():
        (d / name).write_text(yaml.safe_dump(doc, sort_keys=False))


def _converged(ws: Workspace, *args: str) -> None:
    plan = ws.run(*args, "plan", "--detailed-exitcode")
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout + plan.stderr
    before = json.loads(ws.run(*args, "state", "pull", check=0).stdout)["serial"]
    ws.run(*args, "apply", "--auto-approve", check=0)
    assert json.loads(ws.run(*args, "state", "pull", check=0).stdout)["serial"] == before


def test_a_folder_of_team_files_is_one_registry(ws):
    planner, ranker = ws.model("planner"), ws.model("ranker")
    a, b = ws.log_run("run-a"), ws.log_run("run-b")
    pid = ws.policy_id()
    _files(
        ws,
        "registry",
        {
            "_settings.yaml": SETTINGS,
            "planning.yaml": {"models": {planner: {"versions": [{"run_id": a, "stage": "candidate"}]}}},
            "ranking.yaml": {
                "models": {ranker: {"versions": [{"run_id": b}]}},
                "policies": {  # points at a model another team's file declares
                    "planner_policy": {"id": pid, "versions": {1: {"model": planner, "model_version": {"run_id": a}}}}
                },
            },
        },
    )
    out = ws.run("-f", "registry", "validate", check=0)
    assert "Success! registry is valid: 2 models, 2 model versions, 1 policy version." in out.stdout
    md = ws.run("-f", "registry", "plan", "--format", "markdown", check=0).stdout
    planning, ranking = (
        md.index("#### In <code>registry/planning.yaml</code>"),
        md.index("#### In <code>registry/ranking.yaml</code>"),
    )
    assert planning < md.index(f"model.{planner}") < ranking < md.index("policy_version.planner_policy&#91;1&#93;")
    doc = json.loads(ws.run("-f", "registry", "plan", "--format", "json", check=0).stdout)
    files = {r["address"]: (r["file"], r["line"]) for r in doc["configuration"]["root_module"]["resources"]}
    assert files[f"model.{ranker}"] == ("registry/ranking.yaml", 2)
    assert files["policy_version.planner_policy[1]"][0] == "registry/ranking.yaml"
    ws.run("-f", "registry", "apply", "--auto-approve", check=0)
    assert (ws.path / "registry" / ".mlreg" / "state.json").exists()  # relative to the folder
    assert ws.policy_rows(pid)[0]["mlflow_model_version"] == "1"
    _converged(ws, "-f", "registry")


def test_a_name_or_a_setting_in_two_files_is_refused_naming_both(ws):
    m = ws.model()
    _files(
        ws,
        "registry",
        {
            "_settings.yaml": SETTINGS,
            "a.yaml": {"models": {m: {"description": "a"}}, "mlflow": {"tracking_uri": "${MLFLOW_TRACKING_URI}"}},
            "b.yaml": {"models": {m: {"description": "b"}}},
        },
    )
    out = ws.run("-f", "registry", "validate")
    assert out.returncode == 1
    assert f"model '{m}' is declared in two files: registry/a.yaml:2 and registry/b.yaml:2" in out.stderr
    assert "`mlflow` is declared in two files: registry/_settings.yaml:2 and registry/a.yaml:4" in out.stderr
    assert "at registry/b.yaml:2" in out.stderr and "Traceback" not in out.stderr


def test_a_plan_diagnostic_names_the_file_that_holds_the_resource(ws):
    m = ws.model()
    _files(ws, "registry", {"_settings.yaml": SETTINGS, "team.yaml": {"models": {m: {"versions": [{"version": 9}]}}}})
    out = ws.run("-f", "registry", "plan")
    assert out.returncode == 1
    assert f"Error: Version 9 of '{m}' does not exist\n  at registry/team.yaml:4: model_version.{m}[v9]" in out.stdout


def test_import_into_a_folder_writes_a_file_per_model_and_prompt_and_round_trips(ws):
    import mlflow

    planner, ranker = ws.model("planner"), ws.model("ranker")
    mlflow.set_tracking_uri(ws.direct_uri)
    for m in (planner, ranker):
        mlflow.register_model(f"runs:/{ws.log_run(m)}/model", m)
    prompt = ws.model("p").replace("_model", "_prompt")
    mlflow.genai.register_prompt(prompt, "Plan {{days}} days")
    ws.write({})
    ws.run("import", "--model", planner, "--model", ranker, "--prompt", prompt, "--out", "imported/", check=0)
    names = sorted(p.name for p in (ws.path / "imported").glob("*.yaml"))
    assert names == ["_settings.yaml", f"models.{planner}.yaml", f"models.{ranker}.yaml", f"prompts.{prompt}.yaml"]
    _converged(ws, "-f", "imported")
    again = ws.run("import", "--model", planner, "--out", "imported/")
    assert again.returncode == 1 and "pass --force" in again.stderr


def _now() -> str:
    time.sleep(0.05)
    t = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    time.sleep(0.05)
    return t


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_what_was_production_when(ws, backend):
    m = ws.model()
    a, b = ws.log_run("run-a"), ws.log_run("run-b")
    state = {"state": {"backend": "postgres", "workspace": f"audit-{ws.tag}"}} if backend == "postgres" else {}

    def declare(*versions):
        ws.write({**state, "models": {m: {"versions": list(versions)}}})
        ws.run("apply", "--auto-approve", check=0)
        return _now()

    t1 = declare({"run_id": a, "stage": "candidate"})
    t2 = declare({"run_id": a, "stage": "production"})
    t3 = declare({"run_id": a, "stage": "production"}, {"run_id": b, "stage": "candidate"})
    t4 = declare({"run_id": a, "stage": "archived"}, {"run_id": b, "stage": "production"})
    va, vb = f"model_version.{m}[run:{a}/model]", f"model_version.{m}[run:{b}/model]"

    def stage_at(address, when):
        out = ws.run("state", "show", address, "--at", when)
        return json.loads(out.stdout)["attributes"]["stage"] if out.returncode == 0 else None

    assert [stage_at(va, t) for t in (t1, t2, t3, t4)] == ["candidate", "production", "production", "archived"]
    assert [stage_at(vb, t) for t in (t1, t2, t3, t4)] == [None, None, "candidate", "production"]
    pulled = json.loads(ws.run("state", "pull", "--at", t3, check=0).stdout)
    production = [a for a, r in pulled["resources"].items() if r["attributes"].get("stage") == "production"]
    assert production == [va]
    history = json.loads(ws.run("history", va, "--format", "json", check=0).stdout)
    assert [(e["before"] or {}).get("stage") for e in history] == ["production", "candidate", None]
    assert [e["after"]["stage"] for e in history] == ["archived", "production", "candidate"]
    applies = {r["id"] for r in json.loads(ws.run("history", "--format", "json", check=0).stdout)}
    assert {e["apply"] for e in history} <= applies
    text = ws.run("history", va, check=0).stdout
    assert '~ stage = "production" -> "archived"' in text.splitlines()[3]  # newest first
    serial = history[-1]["serial"]
    assert json.loads(ws.run("state", "pull", "--serial", str(serial), check=0).stdout)["serial"] == serial
    out = ws.run("state", "pull", "--at", "2001-01-01T00:00:00Z")
    assert out.returncode == 1 and "no state was recorded at 2001-01-01T00:00:00Z" in out.stderr
    _converged(ws)


def test_history_shows_drift_that_apply_put_back(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    (v,) = ws.client.search_model_versions(f"name = '{m}'")
    ws.client.set_model_version_tag(m, v.version, "stage", "production")  # by hand
    ws.run("apply", "--auto-approve", check=0)
    text = ws.run("history", f"model_version.{m}[run:{a}/model]", check=0).stdout
    assert '(drift put back: live had stage = "production")' in text
    _converged(ws)


def test_state_is_not_planned_against_another_mlflow(services, tmp_path):
    proxy = HttpFaultProxy(services.mlflow.url)  # the same server, at another address
    try:
        ws = Workspace(tmp_path, services.mlflow.url, services.database_url)
        m = ws.model()
        ws.write({"models": {m: {"description": "x"}}})
        ws.run("apply", "--auto-approve", check=0)
        moved = {**ws.env, "MLFLOW_TRACKING_URI": proxy.url}
        for command in (["plan"], ["apply", "--auto-approve"], ["drift"]):
            out = ws.run(*command, env=moved)
            assert out.returncode == 1, out.stdout
            assert "state was recorded against mlflow http://127.0.0.1:" in out.stderr
            assert f"but this configuration uses mlflow {proxy.url}" in out.stderr and "--reconfigure" in out.stderr
        assert proxy.requests() == [], "planned against the other server anyway"
        out = ws.run("plan", "--reconfigure", "--detailed-exitcode", env=moved)
        assert out.returncode == 0 and "No changes." in out.stdout  # the same registry behind it
        ws.run("apply", "--auto-approve", "--reconfigure", env=moved, check=0)
        assert ws.state()["endpoints"]["mlflow"] == proxy.url
        ws.assert_converged(env=moved)
    finally:
        proxy.stop()
