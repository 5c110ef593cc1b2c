"""Access and workspaces as code, through the `mlreg` command, on real servers: MLflow's
basic-auth app (users, roles, permissions, members) and a server with workspaces. What the file
grants can write (MLflow answers 200) and nothing else can (403); hand-made grants and members
are drift that apply takes away; globs follow models registered later; two workspaces keep one
model name apart with one state database. No password appears anywhere mlreg writes."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.services import ADMIN
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration

PASSWORDS = {
    "REGISTRY_CI_PASSWORD": "ci-pw-Zq81!-long-enough",
    "ANA_PASSWORD": 'ana-pw-Yx72"\\-long-enough',
    "BEN_PASSWORD": "ben-pw-Wv63-long-enough",
}


def _as(server_url: str, user, password, method: str, path: str, body: dict | None = None, workspace=None):
    headers = {"X-MLFLOW-WORKSPACE": workspace} if workspace else {}
    auth = (user, password) if user else None
    return requests.request(method, f"{server_url}{path}", json=body, auth=auth, headers=headers, timeout=30)


def _tag(server_url: str, user: str, password: str, model: str) -> int:
    """What MLflow answers when `user` sets a tag on `model`."""
    body = {"name": model, "key": "touched_by", "value": user}
    return _as(server_url, user, password, "POST", "/api/2.0/mlflow/registered-models/set-tag", body).status_code


@pytest.fixture
def aws(auth_server, services, tmp_path) -> Workspace:
    """A workspace on the basic-auth server, run as its admin (the bootstrap identity)."""
    w = Workspace(tmp_path, auth_server.url, services.database_url)
    w.admin_env = {
        **w.env,
        "MLFLOW_TRACKING_USERNAME": ADMIN[0],
        "MLFLOW_TRACKING_PASSWORD": ADMIN[1],
        **PASSWORDS,
    }
    return w


def _registry(aws: Workspace, planner: str, ranker: str, **roles) -> dict:
    return {
        "models": {planner: {"description": "planner"}, ranker: {"description": "ranker"}},
        "access": {
            "users": {
                f"ci_{aws.tag}": {"password": "${REGISTRY_CI_PASSWORD}"},
                f"ana_{aws.tag}": {"password": "${ANA_PASSWORD}"},
                f"ben_{aws.tag}": {"password": "${BEN_PASSWORD}"},
            },
            "roles": {
                f"writer_{aws.tag}": {
                    "description": "the identity that applies registry.yaml",
                    "permissions": [
                        {"resource_type": "registered_model", "resource_pattern": "*", "permission": "MANAGE"},
                        {"resource_type": "workspace", "resource_pattern": "*", "permission": "MANAGE"},
                    ],
                    "members": [f"ci_{aws.tag}"],
                },
                f"planners_{aws.tag}": {
                    "permissions": [
                        {
                            "resource_type": "registered_model",
                            "resource_pattern": f"planner_{aws.tag}_*",
                            "permission": "EDIT",
                        }
                    ],
                    "members": [f"ana_{aws.tag}"],
                },
                **roles,
            },
        },
    }


def test_only_what_the_file_grants_can_write(aws, auth_server):
    t = aws.tag
    planner, ranker = f"planner_{t}_a_model", f"ranker_{t}_model"
    doc = _registry(aws, planner, ranker)
    aws.write(doc)
    outputs = [aws.run("plan", env=aws.admin_env, check=0).stdout]
    assert f"+ role_permission.planners_{t}[registered_model:{planner}]" in outputs[0]  # the glob, expanded
    assert "+ password = (sensitive value)" in outputs[0]
    md = aws.run("plan", "--format", "markdown", env=aws.admin_env, check=0).stdout
    outputs.append(md)
    access = md.split("### Access\n\n", 1)[1].split("\n\n", 1)[0]  # who gains or loses what
    assert f"- role planners_{t} gains EDIT on registered_model {planner}" in access
    assert f"- user ana_{t} joins role planners_{t} (and gains its grants)" in access
    outputs.append(aws.run("apply", "--auto-approve", env=aws.admin_env, check=0).stdout)
    aws.assert_converged(env=aws.admin_env)

    url, ana, ben = auth_server.url, f"ana_{t}", f"ben_{t}"
    assert _tag(url, ana, PASSWORDS["ANA_PASSWORD"], planner) == 200  # granted: planner_*
    assert _tag(url, ana, PASSWORDS["ANA_PASSWORD"], ranker) == 403  # not granted
    assert _tag(url, ben, PASSWORDS["BEN_PASSWORD"], planner) == 403  # not a member

    # a model registered later, by anyone, is taken in by the glob at the next plan
    later = f"planner_{t}_b_model"
    admin = (ADMIN[0], ADMIN[1])
    assert _as(url, *admin, "POST", "/api/2.0/mlflow/registered-models/create", {"name": later}).status_code == 200
    plan = aws.run("plan", "--detailed-exitcode", env=aws.admin_env)
    assert plan.returncode == 2 and f"+ role_permission.planners_{t}[registered_model:{later}]" in plan.stdout
    aws.run("apply", "--auto-approve", env=aws.admin_env, check=0)
    assert _tag(url, ana, PASSWORDS["ANA_PASSWORD"], later) == 200

    # a grant and a member added by hand are drift, taken away by the next apply
    roles = _as(url, *admin, "GET", "/api/3.0/mlflow/roles/list?workspace=default").json()["roles"]
    planners = next(r for r in roles if r["name"] == f"planners_{t}")
    body = {"role_id": planners["id"], "resource_type": "registered_model", "resource_pattern": ranker}
    assert _as(url, *admin, "POST", "/api/3.0/mlflow/roles/permissions/add", {**body, "permission": "MANAGE"}).ok
    assert _as(url, *admin, "POST", "/api/3.0/mlflow/roles/assign", {"username": ben, "role_id": planners["id"]}).ok
    assert _tag(url, ben, PASSWORDS["BEN_PASSWORD"], ranker) == 200  # the hand-made grant works…
    drift = aws.run("drift", "--detailed-exitcode", env=aws.admin_env)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert f"role_permission.planners_{t}[registered_model:{ranker}]: grant added outside mlreg" in drift.stdout
    assert f"role_member.planners_{t}[{ben}]: member added outside mlreg" in drift.stdout
    outputs.append(drift.stdout)
    plan = aws.run("plan", env=aws.admin_env, check=0).stdout
    assert f"- role_permission.planners_{t}[registered_model:{ranker}]" in plan
    assert "because the role's permissions and members are what the file lists" in plan
    outputs += [plan, aws.run("apply", "--auto-approve", env=aws.admin_env, check=0).stdout]
    assert _tag(url, ben, PASSWORDS["BEN_PASSWORD"], ranker) == 403  # …until apply takes it away
    aws.assert_converged(env=aws.admin_env)

    # the identity that applies the file from now on: CI, not an admin, and it cannot lock itself out
    ci = {"MLFLOW_TRACKING_USERNAME": f"ci_{t}", "MLFLOW_TRACKING_PASSWORD": PASSWORDS["REGISTRY_CI_PASSWORD"]}
    ci_env = {**aws.env, **ci, **PASSWORDS}
    aws.assert_converged(env=ci_env)
    doc["access"]["roles"][f"writer_{t}"]["members"] = []
    aws.write(doc)
    out = aws.run("plan", env=ci_env)
    assert out.returncode == 1
    assert (
        f"This plan would take from ci_{t}, the identity applying it, EDIT on registered_model {planner}" in out.stdout
    )
    assert f"role_member.writer_{t}[ci_{t}]" in out.stdout
    outputs += [out.stdout, out.stderr, json.dumps(aws.history()), (aws.path / ".mlreg" / "state.json").read_text()]
    for text in outputs:
        for secret in PASSWORDS.values():
            assert secret not in text and json.dumps(secret)[1:-1] not in text


def test_access_mistakes_are_refused_with_their_line(aws, auth_server):
    text = f"""\
version: 1
mlflow: {{tracking_uri: "${{MLFLOW_TRACKING_URI}}"}}
access:
  users:
    u_{aws.tag}: {{password: literal-pass-123}}
  roles:
    r_{aws.tag}:
      permissions:
        - {{resource_type: registered_model, resource_pattern: "*", permission: WRITE}}
        - {{resource_type: model, resource_pattern: "*", permission: READ}}
        - {{resource_type: workspace, resource_pattern: "*", permission: EDIT}}
        - {{resource_type: registered_model_version, resource_pattern: "m_model", permission: READ}}
        - {{resource_type: experiment, resource_pattern: "exp_*", permission: READ}}
"""
    (aws.path / "registry.yaml").write_text(text)
    out = aws.run("validate", env=aws.admin_env)
    assert out.returncode == 1
    err = out.stderr
    assert "registry.yaml:5:" in err and "A secret must be an environment reference" in err
    assert "literal-pass-123" not in out.stdout + err
    assert "registry.yaml:9:" in err and "permission" in err
    assert "registry.yaml:10:" in err and "unknown resource type 'model'" in err
    assert "registry.yaml:11:" in err and "on workspace MLflow grants only USE or MANAGE, not EDIT" in err
    assert "registry.yaml:12:" in err and 'registered_model_version grants take only resource_pattern "*"' in err
    assert "registry.yaml:13:" in err and "glob patterns are expanded only for registered_model, prompt, " in err
    # a member that is no user, live or declared, is a plan error naming it
    aws.write({"access": {"roles": {f"r_{aws.tag}": {"members": [f"ghost_{aws.tag}"]}}}})
    out = aws.run("plan", env=aws.admin_env)
    assert out.returncode == 1 and f"Member 'ghost_{aws.tag}' of role 'r_{aws.tag}' is not a user" in out.stdout


def test_access_on_a_server_without_authentication_is_one_clear_line(ws):
    ws.write({"access": {"roles": {f"r_{ws.tag}": {}}}})
    out = ws.run("plan")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    needs = "`access:` needs `mlflow server --app-name basic-auth`"
    assert errors == [f"Error: MLflow at {ws.tracking_uri} has no authentication: {needs}"]


def test_two_workspaces_keep_the_same_model_apart_with_one_state_database(workspace_server, services, tmp_path):
    name = "shared_name_model"
    teams = {}
    for team in ("team-a", "team-b"):
        w = Workspace(tmp_path / team, workspace_server.url, services.database_url)
        w.path.mkdir()
        w.write(
            {
                "workspace": f"{team}-{w.tag}",
                "workspaces": {f"{team}-{w.tag}": {"description": f"the {team} team"}},
                "state": {"backend": "postgres"},
                "models": {name: {"description": f"{team}'s"}},
            }
        )
        teams[team] = w
    for team, w in teams.items():
        plan = w.run("plan", check=0)
        assert plan.stdout.startswith(f"Reading MLflow at {workspace_server.url} (workspace {team}-{w.tag})")
        assert f"+ workspace.{team}-{w.tag}" in plan.stdout
        w.run("apply", "--auto-approve", check=0)
    for team, w in teams.items():
        path = f"/api/2.0/mlflow/registered-models/get?name={name}"
        found = _as(workspace_server.url, None, None, "GET", path, workspace=f"{team}-{w.tag}")
        assert found.json()["registered_model"]["description"] == f"{team}'s"
        w.assert_converged()
        listed = w.run("state", "list", check=0).stdout.split()
        assert listed == [f"model.{name}", f"workspace.{team}-{w.tag}"]  # its own state only


def test_a_workspace_that_does_not_exist_or_a_server_without_workspaces(workspace_server, ws, services, tmp_path):
    w = Workspace(tmp_path / "w", workspace_server.url, services.database_url)
    w.path.mkdir()
    w.write({"workspace": f"nowhere-{w.tag}", "models": {w.model(): {}}})
    out = w.run("plan")
    assert out.returncode == 1 and f"Workspace 'nowhere-{w.tag}' does not exist" in out.stdout
    ws.write({"workspace": "team-a", "models": {ws.model(): {}}})
    out = ws.run("plan")
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert out.returncode == 1 and len(errors) == 1 and "--enable-workspaces" in errors[0], out.stderr
    bad = ws.write("version: 1\nworkspace: Team_A\n")
    out = ws.run("-f", str(bad), "validate")
    assert out.returncode == 1 and "registry.yaml:2:" in out.stderr and "lowercase letters, digits" in out.stderr
