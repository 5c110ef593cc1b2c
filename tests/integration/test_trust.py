"""Trust, second pass: creates that keep getting "not now", credentials that must not follow a
pull request's file to another host, applies that succeed while nothing changed, and the rest of
Terraform's plan JSON read by a real Rego engine. Every test that applies ends converged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.listeners import FakePostgres, HttpRecorder
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CREATE = "/model-versions/create"


@pytest.fixture
def recorder():
    r = HttpRecorder()
    yield r
    r.stop()


@pytest.mark.parametrize("mode", ["503", "504"])
def test_a_create_refused_again_and_again_registers_exactly_once(pws, proxy, mode):
    """503: refused before the server acted; 504: after it acted. Three times on the same
    request, with versions created in parallel: one version per run, in this one apply."""
    m = pws.model()
    runs = [pws.log_run(f"run-{i}") for i in range(3)]
    pws.write({"models": {m: {"versions": [{"run_id": r, "stage": "candidate"} for r in runs]}}})
    proxy.add(mode, "POST", CREATE, times=3)
    out = pws.run("apply", "--auto-approve", "--parallelism", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(proxy.requests(mode)) == 3
    pws.assert_one_version_per_run(m, runs)
    pws.assert_converged()


def test_a_create_refused_for_longer_than_the_backend_timeout_stops_in_bounded_time(pws, proxy):
    m = pws.model()
    run = pws.log_run("run-0")
    pws.write({"models": {m: {"versions": [{"run_id": run}]}}})
    proxy.add("503", "POST", CREATE, times=None)
    out = pws.run("apply", "--auto-approve", "--backend-timeout", "5")
    assert out.returncode == 1
    assert "gave no clear answer to a create" in out.stderr and "run `mlreg plan` again" in out.stderr
    assert pws.client.search_model_versions(f"name = '{m}'") == []
    proxy.clear()
    pws.run("apply", "--auto-approve", check=0)
    pws.assert_one_version_per_run(m, [run])
    pws.assert_converged()


def _file_naming(ws: Workspace, tracking_uri: str, database_url: str = "${MLREG_DATABASE_URL}") -> None:
    m = ws.model()
    policy = {"p": {"id": ws.policy_id(), "versions": {1: {"model": m, "model_version": {"source": "s3://b/m"}}}}}
    (ws.path / "registry.yaml").write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "mlflow": {"tracking_uri": tracking_uri},
                "database": {"url": database_url},
                "models": {m: {"description": "x", "versions": [{"source": "s3://b/m"}]}},
                "policies": policy,  # so that a plan reads the policy database
            }
        )
    )


def test_a_file_naming_another_mlflow_than_the_environment_is_refused_before_any_request(ws, recorder):
    _file_naming(ws, recorder.url)
    env = {**ws.env, "MLFLOW_TRACKING_TOKEN": "tok-s3cret-value"}
    for command in (["plan"], ["apply", "--auto-approve"], ["drift"]):
        out = ws.run(*command, env=env)
        assert out.returncode == 1, out.stdout + out.stderr
        errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, out.stderr
        assert f"registry.yaml names MLflow '{recorder.url}', but MLFLOW_TRACKING_URI is" in errors[0]
        assert "MLREG_ENDPOINTS_FROM_FILE=1" in errors[0] and "tok-s3cret" not in out.stderr
    assert recorder.requests == []


def test_the_same_server_spelled_differently_needs_the_environments_word(ws, services):
    url = services.mlflow.url.replace("127.0.0.1", "localhost")
    _file_naming(ws, url)
    assert ws.run("plan").returncode == 1
    out = ws.run("plan", env={**ws.env, "MLREG_ENDPOINTS_FROM_FILE": "1"})
    assert out.returncode == 0 and "will be created" in out.stdout, out.stderr


def test_a_file_cannot_put_another_secret_of_the_environment_in_a_url(ws, recorder):
    _file_naming(ws, "${AWS_SECRET_ACCESS_KEY}")
    env = {k: v for k, v in ws.env.items() if k != "MLFLOW_TRACKING_URI"}
    env["AWS_SECRET_ACCESS_KEY"] = "aws-s3cret-value"
    out = ws.run("plan", env=env)
    assert out.returncode == 1
    assert "Environment variable AWS_SECRET_ACCESS_KEY may not be used here" in out.stderr
    assert "registry.yaml:" in out.stderr and "aws-s3cret" not in out.stdout + out.stderr
    assert recorder.requests == []


def test_mlflow_credentials_go_only_to_the_server_the_environment_names(ws, recorder):
    _file_naming(ws, recorder.url)
    env = {k: v for k, v in ws.env.items() if k != "MLFLOW_TRACKING_URI"}
    env["MLFLOW_TRACKING_TOKEN"] = "tok-s3cret-value"
    out = ws.run("plan", env=env)
    assert out.returncode == 0, out.stderr
    assert recorder.requests and not any("Authorization" in h for _, _, h in recorder.requests)
    recorder.requests.clear()
    out = ws.run("plan", env={**env, "MLFLOW_TRACKING_URI": recorder.url})  # now the environment names it
    assert out.returncode == 0, out.stderr
    assert recorder.requests and all(
        h.get("Authorization") == "Bearer tok-s3cret-value" for _, _, h in recorder.requests
    )


def test_libpq_gives_no_implicit_password_to_a_host_the_environment_did_not_name(ws, tmp_path):
    fake = FakePostgres()
    try:
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{fake.port}:*:*:passfile-s3cret\n")
        pgpass.chmod(0o600)
        url = f"postgresql+psycopg://ci@127.0.0.1:{fake.port}/exp"
        _file_naming(ws, "${MLFLOW_TRACKING_URI}", url)
        env = {k: v for k, v in ws.env.items() if k != "MLREG_DATABASE_URL"}
        env.update({"PGPASSWORD": "env-s3cret", "PGPASSFILE": str(pgpass)})
        out = ws.run("plan", "--backend-timeout", "5", env=env)
        assert out.returncode == 1 and fake.connections >= 1
        assert fake.passwords == [], fake.passwords
        assert "s3cret" not in out.stdout + out.stderr
        # the environment names that host: its password may go there (the mechanism is the host)
        ws.run("plan", "--backend-timeout", "5", env={**env, "MLREG_DATABASE_URL": url})
        assert b"env-s3cret" in fake.passwords
    finally:
        fake.stop()


def test_apply_that_succeeds_while_nothing_changed_is_an_error(pws, proxy):
    m = pws.model()
    run = pws.log_run("run-0")
    doc = {"models": {m: {"versions": [{"run_id": run, "stage": "candidate", "tags": {"team": "a"}}]}}}
    pws.write(doc)
    pws.run("apply", "--auto-approve", check=0)
    doc["models"][m]["versions"][0]["tags"]["team"] = "b"
    pws.write(doc)
    proxy.add("fake200", "POST", "/model-versions/set-tag", times=None)  # says done, does nothing
    out = pws.run("apply", "--auto-approve")
    assert out.returncode == 1
    address = f"model_version.{m}[run:{run}/model]"
    assert f'apply reported success, but {address} reads back tags.team = "a" (planned "b")' in out.stderr
    assert pws.history()[-1]["outcome"] == "failed"
    proxy.clear()
    plan = pws.run("plan", "--detailed-exitcode")
    assert plan.returncode == 2 and '~ tags.team = "a" -> "b"' in plan.stdout  # still to do, not recorded as done
    pws.run("apply", "--auto-approve", check=0)
    (v,) = pws.client.search_model_versions(f"name = '{m}'")
    assert v.tags["team"] == "b"
    pws.assert_converged()


def _rego(policy: Path, doc: dict, query: str):
    from regopy import Input, Interpreter

    interp = Interpreter()
    interp.add_module(policy.stem, policy.read_text())
    interp.set_input(Input(doc))
    return json.loads(str(interp.query(query)))["expressions"][0]


def test_planned_values_prior_state_configuration_and_importing(ws):
    import mlflow

    m = ws.model()
    run = ws.log_run("run-0")
    mlflow.set_tracking_uri(ws.direct_uri)
    mlflow.register_model(f"runs:/{run}/model", m)  # exists before the file declares it
    pid = ws.policy_id()
    doc = {
        "models": {m: {"versions": [{"version": 1, "stage": "candidate", "tags": {"team": "a"}}]}},
        "policies": {
            "p": {"id": pid, "versions": {1: {"model": m, "model_version": 1, "config_defaults": {"temperature": 1.5}}}}
        },
    }
    ws.write(doc)
    plan = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    by_address = {rc["address"]: rc for rc in plan["resource_changes"]}
    assert by_address[f"model.{m}"]["change"]["importing"] == {"id": m}
    assert by_address[f"model_version.{m}[v1]"]["change"]["importing"] == {"id": f"{m}/1"}  # adopted, updated
    assert by_address[f"model_version.{m}[v1]"]["change"]["actions"] == ["update"]
    assert "importing" not in by_address["policy_version.p[1]"]["change"]  # created, not adopted
    planned = {r["address"]: r for r in plan["planned_values"]["root_module"]["resources"]}
    assert planned[f"model_version.{m}[v1]"]["values"]["stage"] == "candidate"
    assert planned["policy_version.p[1]"]["index"] == 1 and planned["policy_version.p[1]"]["sensitive_values"] == {}
    assert plan["prior_state"]["values"]["root_module"]["resources"] == []
    config = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    text = (ws.path / "registry.yaml").read_text().splitlines()
    entry = config[f"model_version.{m}[v1]"]
    assert entry["file"] == "registry.yaml" and "version: 1" in text[entry["line"] - 1]
    assert config["policy_version.p[1]"]["provider_config_key"] == "mlreg/postgres"

    policy = ROOT / "examples" / "policy" / "planned_values.rego"
    assert _rego(policy, plan, "data.mlreg.planned.deny") == [
        "policy_version.p[1] sets temperature 1.5, outside [0, 1]"
    ]
    doc["models"][m]["versions"][0]["stage"] = "production"
    doc["policies"]["p"]["versions"][1]["config_defaults"]["temperature"] = 0.5
    doc["rules"] = {"stages": {"transitions": {"none": ["candidate", "production"], "candidate": ["production"]}}}
    ws.write(doc)
    plan = json.loads(ws.run("plan", "--format", "json").stdout)
    assert _rego(policy, plan, "data.mlreg.planned.deny") == [
        f"model_version.{m}[v1] would serve production without an owner tag"
    ]
    doc["models"][m]["versions"][0]["tags"]["owner"] = "ana"
    ws.write(doc)
    ws.run("apply", "--auto-approve", check=0)
    plan = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    assert _rego(policy, plan, "data.mlreg.planned.deny") == []
    prior = {r["address"] for r in plan["prior_state"]["values"]["root_module"]["resources"]}
    assert {f"model.{m}", f"model_version.{m}[v1]", "policy_version.p[1]"} <= prior
    ws.assert_converged()
