"""The CI loop through the `mlreg` command, against the session's real MLflow and PostgreSQL and a
stand-in of each forge's REST API (tests/support/forge.py, every request recorded): one plan
comment per pull request, edited on every push; one drift issue, closed after apply; the
GitHub Action's own step; CI=true without endpoints; MLREG_FILE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.forge import GITHUB, GITLAB, ForgeStandIn
from tests.support.workspace import ROOT

pytestmark = pytest.mark.integration

TOKEN = "ghs_" + "q7Zr" * 9  # shaped like a GitHub token; never printed, sent only to the stand-in
SHA = "4f2c1e9a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e"
PLAN_MARK = "<!-- mlreg:plan:registry.yaml -->"
LOCAL_STATE = {"state": {"backend": "local"}}  # in CI, a local state file only when the file says so


@pytest.fixture
def github():
    forge = ForgeStandIn(GITHUB, TOKEN)
    yield forge
    forge.stop()


@pytest.fixture
def gitlab():
    forge = ForgeStandIn(GITLAB, TOKEN, repository="42")
    yield forge
    forge.stop()


def github_env(ws, forge: ForgeStandIn, number: int = 7) -> dict:
    event = ws.path / f"event-{number}.json"
    event.write_text(json.dumps({"action": "synchronize", "number": number, "pull_request": {"number": number}}))
    return {
        **ws.env,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": forge.url,
        "GITHUB_REPOSITORY": "acme/registry",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": SHA,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_OUTPUT": str(ws.path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(ws.path / "step_summary"),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "99",
    }


def gitlab_env(ws, forge: ForgeStandIn, iid: int | None = 3) -> dict:
    env = {
        **ws.env,
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_API_V4_URL": forge.url,
        "CI_PROJECT_ID": "42",
        "CI_COMMIT_SHA": SHA,
        "CI_JOB_URL": "https://gitlab.example/acme/registry/-/jobs/5",
        "MLREG_FORGE_TOKEN": TOKEN,
    }
    if iid is not None:
        env["CI_MERGE_REQUEST_IID"] = str(iid)
    return env


def _model(ws, m, run, **version):
    return {**LOCAL_STATE, "models": {m: {"description": "d", "versions": [{"run_id": run, **version}]}}}


def _no_token(*texts) -> None:
    for t in texts:
        assert TOKEN not in t


def _action_step(ws, env: dict, command: str, args: str = "") -> subprocess.CompletedProcess:
    """The GitHub Action's run step (action.yml), as the runner runs it: bash, inputs in the
    environment, mlreg on PATH (installed by the action's previous step)."""
    (step,) = [s for s in yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"] if s.get("id") == "mlreg"]
    bin_dir = str(Path(sys.executable).parent)
    step_env = {
        **env,
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        "RUNNER_TEMP": str(ws.path),
        "MLREG_FILE": "registry.yaml",
        "MLREG_COMMAND": command,
        "MLREG_LABEL": "",
        "MLREG_ARGS": args,
    }
    return subprocess.run(["bash", "-c", step["run"]], cwd=ws.path, env=step_env, capture_output=True, text=True)


def test_pull_request_gets_one_comment_edited_on_every_push(ws, github):
    m, a = ws.model(), ws.log_run("run-a")
    github.seed(7, [f"someone else's comment {i}" for i in range(120)])  # mlreg's lands on page 2
    github.seed(7, [f"{PLAN_MARK}\nno changes, says mallory"], author="mallory")  # the marker, not mlreg's
    env = github_env(ws, github)
    outputs = []

    ws.write(_model(ws, m, a, stage="candidate"))
    first = ws.run("plan", "--comment", env=env, check=0)
    outputs.append(first.stdout + first.stderr)
    assert "will be created" in first.stdout  # the plan is printed as always
    theirs, mine = github.marked(7, PLAN_MARK)
    assert theirs.author == "mallory" and theirs.body.endswith("says mallory") and mine.author == "github-actions[bot]"
    assert "Plan: 2 to add" in mine.body and f"at commit <code>{SHA[:12]}</code>" in mine.body
    assert "[the job](https://github.example/acme/registry/actions/runs/99)" in mine.body
    assert [(r.method, r.path) for r in github.writes()] == [("POST", "/repos/acme/registry/issues/7/comments")]
    pages = [r.query.get("page") for r in github.requests if r.method == "GET" and r.path.endswith("/comments")]
    assert pages == [None, "2"] and all(r.query.get("per_page") == "100" for r in github.requests[:1])
    assert (ws.path / "github_output").read_text() == "changes=true\nexitcode=0\n"
    assert "Plan: 2 to add" in (ws.path / "step_summary").read_text()

    # a second push, through the GitHub Action's own step: the same comment, edited
    ws.write(
        {
            **_model(ws, m, a, stage="candidate"),
            "models": {m: {"description": "second push", "versions": [{"run_id": a, "stage": "candidate"}]}},
        }
    )
    step = _action_step(ws, env, "plan", "--detailed-exitcode")
    outputs.append(step.stdout + step.stderr)
    assert step.returncode == 2, step.stderr
    assert [c.id for c in github.marked(7, PLAN_MARK)] == [theirs.id, mine.id]
    assert "second push" in github.marked(7, PLAN_MARK)[1].body
    assert [(r.method, r.path) for r in github.writes()][1:] == [
        ("PATCH", f"/repos/acme/registry/issues/comments/{mine.id}")
    ]
    assert (ws.path / "github_output").read_text().endswith("changes=true\nexitcode=2\n")

    # an invalid file: the errors, with their line, replace the plan; exit 1
    ws.write(
        f"version: 1\nstate: {{backend: local}}\nmodels:\n  {m}:\n"
        f"    versions:\n      - {{run_id: {a}, stage: candiate}}\n"
    )
    bad = ws.run("plan", "--comment", env=env, check=1)
    outputs.append(bad.stdout + bad.stderr)
    body = github.marked(7, PLAN_MARK)[-1].body
    assert "❌ **mlreg plan failed**" in body and "registry.yaml:6" in body and "| Address |" not in body
    # a rule violation (none -> production skips candidate): the errors in place of the changes
    ws.write(_model(ws, m, a, stage="production"))
    refused = ws.run("plan", "--comment", env=env, check=1)
    outputs.append(refused.stdout + refused.stderr)
    body = github.marked(7, PLAN_MARK)[-1].body
    assert "mlreg plan failed** with 1 error" in body and "### Errors" in body and "| Address |" not in body
    assert (ws.path / "github_output").read_text().endswith("changes=true\nexitcode=1\n")

    # a deletion is warned above everything else
    ws.write(_model(ws, m, a, stage="candidate"))
    ws.run("apply", "--auto-approve", check=0)
    (v,) = ws.client.search_model_versions(f"name = '{m}'")
    ws.write(
        {
            **LOCAL_STATE,
            "models": {m: {"description": "d"}},
            "removed": [{"address": f"model_version.{m}[v{v.version}]", "destroy": True}],
        }
    )
    deleting = ws.run("plan", "--comment", env=env, check=0)
    outputs.append(deleting.stdout + deleting.stderr)
    body = github.marked(7, PLAN_MARK)[-1].body
    caution, table = body.index("> [!CAUTION]"), body.index("| Address | Action |")
    assert caution < body.index("📝 **Plan:") < table
    assert f"> - model_version.{m}&#91;v{v.version}&#93; is deleted live" in body[caution:table]

    # applied: the comment says there is nothing left to do, at which commit
    ws.run("apply", "--auto-approve", check=0)
    done = ws.run("plan", "--comment", env=env, check=0)
    outputs.append(done.stdout + done.stderr)
    body = github.marked(7, PLAN_MARK)[-1].body
    assert "✅ No changes." in body and f"Planned at commit <code>{SHA[:12]}</code>" in body
    assert len(github.marked(7, PLAN_MARK)) == 2 and sum(r.method == "POST" for r in github.requests) == 1

    # a converged plan on another pull request: no comment is created
    quiet = ws.run("plan", "--comment", env=github_env(ws, github, number=8), check=0)
    outputs.append(quiet.stdout + quiet.stderr)
    assert "no changes: no comment on pull request #8" in quiet.stderr and not github.threads.get(8)

    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in github.requests)
    _no_token(*outputs, (ws.path / "github_output").read_text(), (ws.path / "step_summary").read_text())
    _no_token(*[c.body for c in github.threads[7]])
    ws.assert_converged()


def test_a_refusing_forge_fails_the_job_after_the_plan(ws, github):
    m, a = ws.model(), ws.log_run("run-a")
    ws.write(_model(ws, m, a, stage="candidate"))
    env = github_env(ws, github)
    github.refuse = 403
    out = ws.run("plan", "--comment", env=env, check=1)
    assert "will be created" in out.stdout  # printed first
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("Error:")]
    assert "GitHub answered 403 Forbidden" in line and "Resource not accessible by integration" in line
    assert (ws.path / "github_output").read_text() == "changes=true\nexitcode=1\n"

    github.refuse, github.requests = 502, []  # 5xx: retried, a bounded number of times
    out = ws.run("plan", "--comment", env=env, check=1)
    assert "GitHub answered 502" in out.stderr and "after 3 attempts" in out.stderr
    assert len(github.requests) == 3
    _no_token(out.stdout, out.stderr)
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_drift_keeps_one_issue_quiet_for_the_same_drift_and_closes_it_after_apply(ws, github, gitlab):
    m, a = ws.model(), ws.log_run("run-a")
    ws.write(
        {
            **LOCAL_STATE,
            "models": {
                m: {"description": "d", "versions": [{"run_id": a, "stage": "candidate", "tags": {"owner": "ana"}}]}
            },
        }
    )
    ws.run("apply", "--auto-approve", check=0)
    gh, gl = github_env(ws, github), gitlab_env(ws, gitlab, iid=None)  # a schedule: no pull request
    (v,) = ws.client.search_model_versions(f"name = '{m}'")
    ws.client.set_model_version_tag(m, v.version, "owner", "mallory")

    first = ws.run("drift", "--issue", env=gh, check=0)  # exit codes are drift's own
    assert "tags.owner" in first.stdout and "opened issue #1" in first.stderr
    (issue,) = github.issues.values()
    assert issue.title == "mlreg drift: registry.yaml" and issue.body.startswith("<!-- mlreg:drift:registry.yaml -->")
    assert f"model_version.{m}" in issue.body and not issue.comments

    ws.run("drift", "--issue", "--detailed-exitcode", env=gh, check=2)  # the same drift: the body, no comment
    assert len(github.issues) == 1 and not issue.comments and github.writes()[-1].method == "PATCH"

    ws.client.update_registered_model(m, "changed by hand")  # the drifted set changes: one comment
    ws.run("drift", "--issue", env=gh, check=0)
    (note,) = issue.comments
    assert "The drift changed: 2 resource(s)" in note.body and f"model.{m}" in note.body

    opened = ws.run("drift", "--issue", env=gl, check=0)  # GitLab: the same, through its issues API
    (gl_issue,) = gitlab.issues.values()
    assert "opened issue #1" in opened.stderr and gl_issue.state == "opened"
    assert all(r.headers.get("PRIVATE-TOKEN") == TOKEN for r in gitlab.requests)

    ws.write(
        {
            **LOCAL_STATE,
            "models": {
                m: {"description": "d", "versions": [{"run_id": a, "stage": "candidate", "tags": {"owner": "ana"}}]}
            },
        }
    )
    ws.run("apply", "--auto-approve", check=0)  # puts the drift back
    closed = ws.run("drift", "--issue", env=gh, check=0)
    assert issue.state == "closed" and "closed issue #1" in closed.stderr
    assert "No drift any more" in issue.comments[-1].body and "The last apply" in issue.comments[-1].body
    ws.run("drift", "--issue", env=gl, check=0)
    assert gl_issue.state == "closed" and "No drift any more" in gl_issue.comments[-1].body
    assert gitlab.writes()[-1].body == {"state_event": "close"}

    before = len(github.writes())
    ws.run("drift", "--issue", env=gh, check=0)  # nothing drifted, nothing open: nothing written
    assert len(github.writes()) == before
    _no_token(first.stdout, first.stderr, closed.stdout, closed.stderr, issue.body, gl_issue.body)
    ws.assert_converged()


def test_gitlab_merge_request_note_is_kept_the_same_way(ws, gitlab):
    m, a = ws.model(), ws.log_run("run-a")
    gitlab.seed(3, ["added 1 commit"], system=True)
    env = gitlab_env(ws, gitlab)
    ws.write(_model(ws, m, a, stage="candidate"))
    ws.run("plan", "--comment", env=env, check=0)
    ws.write(
        {
            **LOCAL_STATE,
            "models": {m: {"description": "second push", "versions": [{"run_id": a, "stage": "candidate"}]}},
        }
    )
    out = ws.run("plan", "--comment", env=env, check=0)
    assert "updated the plan comment on merge request !3 (GitLab)" in out.stderr
    (note,) = gitlab.marked(3, PLAN_MARK)
    assert "second push" in note.body and "[the job](https://gitlab.example/acme/registry/-/jobs/5)" in note.body
    assert [(r.method, r.path) for r in gitlab.writes()] == [
        ("POST", "/api/v4/projects/42/merge_requests/3/notes"),
        ("PUT", f"/api/v4/projects/42/merge_requests/3/notes/{note.id}"),
    ]
    assert all(r.headers.get("PRIVATE-TOKEN") == TOKEN and "Authorization" not in r.headers for r in gitlab.requests)
    assert not (ws.path / "github_output").exists()
    _no_token(out.stdout, out.stderr, note.body)
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_in_ci_there_is_no_embedded_default(ws, tmp_path):
    m, a = ws.model(), ws.log_run("run-a")
    bare = {k: v for k, v in ws.env.items() if k not in ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL")}
    (ws.path / "registry.yaml").write_text(f"version: 1\nmodels:\n  {m}:\n    versions: [{{run_id: {a}}}]\n")
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        out = ws.run(*command, env={**bare, "CI": "true"}, check=1)
        (line,) = out.stderr.splitlines()
        assert line.startswith("Error: CI=true") and "set MLFLOW_TRACKING_URI (MLflow)" in line
        assert "state: {backend: postgres}" in line
    assert not (ws.path / "mlflow.db").exists() and not (ws.path / "mlreg.db").exists()
    # policies declared without a database: MLREG_DATABASE_URL is named too
    pid = ws.policy_id()
    policies = (
        f"policies:\n  p:\n    id: {pid}\n    versions:\n      1: {{model: {m}, model_version: {{run_id: {a}}}}}\n"
    )
    (ws.path / "registry.yaml").write_text(
        f"version: 1\nstate: {{backend: local}}\nmodels:\n  {m}:\n    versions: [{{run_id: {a}}}]\n{policies}"
    )
    out = ws.run("plan", env={**bare, "CI": "true", "MLFLOW_TRACKING_URI": ws.tracking_uri}, check=1)
    assert "set MLREG_DATABASE_URL (the policy database)" in out.stderr and "MLFLOW_TRACKING_URI" not in out.stderr
    # configured: planned against the real servers
    ok = ws.run("plan", env={**ws.env, "CI": "true"}, check=0)
    assert "will be created" in ok.stdout
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_mlreg_file_names_a_folder(ws):
    m, a = ws.model(), ws.log_run("run-a")
    folder = ws.path / "registry"
    folder.mkdir()
    settings = {"version": 1, "mlflow": {"tracking_uri": "${MLFLOW_TRACKING_URI}"}, **LOCAL_STATE}
    (folder / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (folder / "planner.yaml").write_text(yaml.safe_dump({"models": {m: {"versions": [{"run_id": a}]}}}))
    env = {**ws.env, "MLREG_FILE": "registry", "CI": "true"}
    out = ws.run("plan", env=env, check=0)
    assert f"model_version.{m}[run:{a}/model] will be created" in out.stdout
    assert "is valid" in ws.run("validate", "-f", "registry", env={**env, "MLREG_FILE": "nowhere.yaml"}, check=0).stdout
    ws.run("apply", "--auto-approve", env=env, check=0)
    ws.assert_converged(env=env)


def test_markdown_of_a_plan_that_cannot_be_made_is_never_empty(ws):
    ws.write("version: 1\nmodels:\n  bad name: {}\n")
    out = ws.run("plan", "--format", "markdown", check=1)
    assert out.stdout.startswith("❌ **mlreg plan failed**") and "<code>registry.yaml:3" in out.stdout
    ws.write({"models": {ws.model(): {}}})
    down = {**ws.env, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}  # nothing listens there
    out = ws.run("plan", "--format", "markdown", "--backend-timeout", "1", env=down, check=1)
    assert out.stdout.startswith("❌ **mlreg plan failed**") and "127.0.0.1:9" in out.stdout
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()
