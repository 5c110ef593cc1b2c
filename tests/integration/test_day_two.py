"""Day two: a registry that exists before mlreg, adopted and lived with, against the real servers.

Import writes the rules in effect and plans empty for runs that never followed the guide's
logging; `defaults: none` starts from a clean slate; archiving is never judged by the logging
rules; versions a training pipeline registers are a note, not drift; history follows a version
whose address the file changes (a move) and survives moving state to PostgreSQL and back;
apply names the numbers MLflow assigns; refused logins are said at once.
"""

from __future__ import annotations

import json
import stat
import time

import mlflow
import yaml

from tests.support.workspace import Workspace

# What a run logged by a pipeline that never heard of the MLflow guide carries.
FOREIGN = (
    "learning_rate",
    "batch_size",
    "epochs",
    "dataset_version",
    "model_base",
    "fine_tuning_method",
    "train_loss",
    "val_loss",
    "plan_alignment_score",
    "constraint_respect_score",
    "policy_id",
    "task",
)


def _register(ws: Workspace, model: str, run_id: str, stage: str | None = None) -> str:
    mlflow.set_tracking_uri(ws.direct_uri)
    v = mlflow.register_model(f"runs:/{run_id}/model", model).version
    if stage:
        ws.client.set_model_version_tag(model, v, "stage", stage)
    return str(v)


def _line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_import_writes_the_rules_and_an_adopted_registry_promotes_and_archives(ws):
    """A live model whose runs lack the guide's logging: `import --out DIR/` writes the rules in
    effect into `_settings.yaml` (readable, no MLflow tags, backends as references) and plans
    empty; archiving its old production version plans cleanly, and the rules that file states
    are what `mlreg rules` shows, with their lines."""
    m = ws.model()
    old, new = ws.log_run("legacy-old", omit=FOREIGN), ws.log_run("legacy-new", omit=FOREIGN)
    c = ws.client
    c.create_registered_model(m, tags={"team": "ranking", "_mlflow_experiment_ids": "1,2"})
    v_old = _register(ws, m, old, "production")
    v_new = _register(ws, m, new, "candidate")
    ws.run("import", "--model", m, "--out", "registry/", check=0)
    folder = ws.path / "registry"
    settings = folder / "_settings.yaml"
    for f in folder.glob("*.yaml"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    assert stat.S_IMODE((folder / ".mlreg" / "state.json").stat().st_mode) == 0o600
    doc = yaml.safe_load(settings.read_text())
    assert doc["rules"]["defaults"] == "seed" and doc["rules"]["required_run_logging"]["params"][0] == "learning_rate"
    assert doc["mlflow"] == {"tracking_uri": "${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"}
    assert ws.tracking_uri not in settings.read_text() and ws.database_url not in settings.read_text()
    assert "come from runs without the required logging" in settings.read_text()
    model_file = (folder / f"models.{m}.yaml").read_text()
    assert "_mlflow_" not in model_file and "team: ranking" in model_file
    ws.run("-f", "registry/", "plan", "--detailed-exitcode", check=0)

    rules = ws.run("-f", "registry/", "rules", check=0).stdout
    line = _line_of(settings, "required_run_logging:")
    assert "required_run_logging:" in rules and f"# registry/_settings.yaml:{line}" in rules

    # the first promotion through the file: archive the old production version (its run lacks
    # the logging: never judged for archiving), promote the candidate under rules that fit
    text = settings.read_text().replace("defaults: seed", "defaults: none")
    text = text[: text.index("  model_name_pattern:")] + "  unmanaged_versions: note\n"
    settings.write_text(text)
    assert "# default (none)" in ws.run("-f", "registry/", "rules", check=0).stdout
    model_path = folder / f"models.{m}.yaml"
    edited = model_path.read_text().replace("stage: production", "stage: archived")
    model_path.write_text(edited.replace("stage: candidate", "stage: production"))
    plan = ws.run("-f", "registry/", "plan", "--detailed-exitcode", check=2)
    assert "lacks required logging" not in plan.stdout and "Promotion gate" not in plan.stdout
    assert f"{m} version {v_new}: candidate -> production" in plan.stdout
    ws.run("-f", "registry/", "apply", "--auto-approve", check=0)
    assert c.get_model_version(m, v_old).tags["stage"] == "archived"
    assert c.get_model_version(m, v_new).tags["stage"] == "production"
    ws.run("-f", "registry/", "plan", "--detailed-exitcode", check=0)


def _two(model: str, run: str, stage: str, number: str, other: str) -> dict:
    versions = [{"run_id": run, "stage": stage}, {"version": int(number), "stage": other}]
    return {"models": {model: {"versions": versions}}}


def test_archiving_under_the_seed_rules_needs_no_logging_but_promoting_does(ws):
    m = ws.model()
    bare = ws.log_run("bare", omit=FOREIGN)
    good = ws.log_run("good")
    ws.write({"models": {m: {"versions": [{"run_id": good, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    v_bare = _register(ws, m, bare, "production")  # promoted by hand long ago, adopted now
    ws.write(_two(m, good, "production", v_bare, "archived"))
    plan = ws.run("plan", "--detailed-exitcode", check=2)
    assert "Error" not in plan.stdout, plan.stdout
    ws.run("apply", "--auto-approve", check=0)
    # promoting a version whose run lacks the logging is still refused, naming the stage it enters
    ws.write(_two(m, good, "archived", v_bare, "candidate"))
    refused = ws.run("plan", check=1)
    assert "lacks required logging" in refused.stdout and "the version enters candidate" in refused.stdout
    ws.write(_two(m, good, "production", v_bare, "archived"))
    ws.assert_converged()


def test_rules_name_their_origin_and_a_given_rule_replaces_its_default_whole(ws):
    ws.write({"rules": {"required_run_logging": {"params": ["C"], "metrics": ["accuracy"]}}, "models": {}})
    out = ws.run("rules", check=0).stdout
    line = _line_of(ws.path / "registry.yaml", "required_run_logging:")
    assert "required_run_logging:" in out and f"# registry.yaml:{line}" in out
    assert "tags: []" in out and "params: [C]" in out  # the tags are not demanded any more
    assert "model_name_pattern: '^[a-z][a-z0-9_]*_model$'   # default (seed)" in out


def test_defaults_none_lets_another_naming_promote_without_gates(ws):
    name = f"Legacy-Ranker-{ws.tag}"
    run = ws.log_run("foreign", omit=FOREIGN)
    ws.write({"rules": {"defaults": "none"}, "models": {name: {"versions": [{"run_id": run, "stage": "production"}]}}})
    plan = ws.run("plan", "--detailed-exitcode", check=2)
    assert "none -> production" in plan.stdout
    ws.run("apply", "--auto-approve", check=0)
    (v,) = ws.client.search_model_versions(f"name = '{name}'")
    assert v.tags["stage"] == "production"
    ws.assert_converged()


def test_a_version_a_pipeline_registers_is_a_note_not_drift(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    b = ws.log_run("run-b")
    v = _register(ws, m, b)  # the training pipeline's inflow
    drift = ws.run("drift", "--detailed-exitcode", check=0).stdout
    assert f"unmanaged version {v} appeared" in drift and "No drift." in drift
    assert f"`- {{run_id: {b}}}`" in drift and f"`- {{version: {v}}}`" in drift
    plan = ws.run("plan", "--detailed-exitcode", check=0).stdout
    assert "Notes (not changes):" in plan and f"unmanaged version {v} appeared" in plan
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert "### Notes" in md
    doc = {"rules": {"unmanaged_versions": "fail"}, "models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}}
    ws.write(doc)
    ws.run("drift", "--detailed-exitcode", check=2)
    # taken in as the note says: no note left
    doc["models"][m]["versions"].append({"version": int(v)})
    ws.write(doc)
    ws.run("apply", "--auto-approve", check=0)
    assert "unmanaged" not in ws.run("drift", "--detailed-exitcode", check=0).stdout
    ws.assert_converged()


def test_a_pinned_version_keeps_its_history_and_history_moves_to_postgres_and_back(ws, services):
    m = ws.model()
    a = ws.log_run("run-a")
    old = f"model_version.{m}[run:{a}/model]"
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    applied = ws.run("apply", "--auto-approve", check=0).stdout
    assert f"{old} created: version 1" in applied
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "production"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    before_move = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)

    # pinned by number: the same MLflow version, planned as a move (state only), not forget + adopt
    new = f"model_version.{m}[v1]"
    ws.write({"models": {m: {"versions": [{"version": 1, "stage": "production"}]}}})
    plan = ws.run("plan", "--detailed-exitcode", check=2).stdout
    assert f"# {old} has moved to {new}" in plan and "Plan: 1 to move, 0 to add" in plan
    assert "will be forgotten" not in plan and "will be adopted" not in plan and "0 to forget" in plan
    doc = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    (moved,) = [r for r in doc["resource_changes"] if r["address"] == new]
    assert moved["previous_address"] == old and moved["change"]["actions"] == ["no-op"]
    assert doc["summary"]["move"] == 1 and doc["summary"]["forget"] == 0
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert "> moved" in md and "Plan: 1 to move" in md
    serial = ws.serial()
    out = ws.run("apply", "--auto-approve", check=0).stdout
    assert f"{new}: Moved from {old}" in out and "1 moved" in out
    assert ws.serial() == serial + 1
    assert json.loads(ws.run("state", "show", new, check=0).stdout)["identity"]["version"] == "1"
    ws.assert_converged()

    hist = ws.run("history", new, check=0).stdout
    assert f"moved from {old} to {new}" in hist and '~ stage = "candidate" -> "production"' in hist
    model_hist = ws.run("history", f"model.{m}", check=0).stdout
    assert f"recorded {old}" in model_hist and f"moved from {old}" in model_hist

    # local -> postgres: the applies and the journal go along
    pulled = ws.path / "state-local.json"
    pulled.write_text(ws.run("state", "pull", check=0).stdout)
    pinned = {m: {"versions": [{"version": 1, "stage": "production"}]}}
    pg = {"state": {"backend": "postgres", "workspace": f"day2_{ws.tag}"}, "models": pinned}
    ws.write(pg)
    ws.run("state", "push", str(pulled), check=0)
    applies = json.loads(ws.run("history", "--format", "json", check=0).stdout)
    assert len(applies) == 3 and all(r["outcome"] == "succeeded" for r in applies)
    assert "moved from" in ws.run("history", new, check=0).stdout
    then = json.loads(ws.run("state", "pull", "--at", before_move, check=0).stdout)
    assert old in then["resources"] and new not in then["resources"]
    ws.assert_converged()

    # and back, into a fresh local file
    pulled_pg = ws.path / "state-pg.json"
    pulled_pg.write_text(ws.run("state", "pull", check=0).stdout)
    ws.write({"state": {"backend": "local", "path": "again/state.json"}, "models": pg["models"]})
    ws.run("state", "push", str(pulled_pg), check=0)
    assert len(json.loads(ws.run("history", "--format", "json", check=0).stdout)) == 3
    assert old in json.loads(ws.run("state", "pull", "--at", before_move, check=0).stdout)["resources"]
    ws.assert_converged()


def test_the_markdown_table_names_new_versions_then_their_numbers(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert f"model_version.{m}&#91;run:{a}/model&#93;</code> (new) | + create" in md
    ws.run("apply", "--auto-approve", check=0)
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate", "description": "ok"}]}}})
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert f"model_version.{m}&#91;run:{a}/model&#93;</code> (v1) | ~ update" in md
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_history_and_state_need_only_the_state_settings(ws):
    m = ws.model()
    ws.write({"models": {m: {"description": "d"}}})
    ws.run("apply", "--auto-approve", check=0)
    doc = {
        "webhooks": {
            f"hook_{ws.tag}": {
                "url": "https://hooks.example.com/x",
                "events": ["model_version.created"],
                "secret": "${DAY_TWO_UNSET_WEBHOOK_SECRET}",
            }
        },
        "models": {m: {"description": "d"}},
    }
    ws.write(doc)
    env = {k: v for k, v in ws.env.items() if k != "MLFLOW_TRACKING_URI"}
    assert "DAY_TWO_UNSET_WEBHOOK_SECRET" in ws.run("plan", env=env).stderr  # plan needs it
    assert f"model.{m}" in ws.run("state", "list", check=0, env=env).stdout
    ws.run("state", "show", f"model.{m}", check=0, env=env)
    ws.run("state", "pull", check=0, env=env)
    assert "succeeded" in ws.run("history", check=0, env=env).stdout
    assert "recorded" in ws.run("history", f"model.{m}", check=0, env=env).stdout


def test_drift_says_when_only_where_mlflow_records_it(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write({"models": {m: {"description": "d", "versions": [{"run_id": a, "tags": {"owner": "ana"}}]}}})
    ws.run("apply", "--auto-approve", check=0)
    c = ws.client
    (v,) = c.search_model_versions(f"name = '{m}'")
    c.set_model_version_tag(m, v.version, "owner", "bob")  # MLflow keeps no time for a tag
    c.update_registered_model(m, "changed by hand")  # it does for a description
    items = {(d["address"], d["attribute"]): d for d in json.loads(ws.run("drift", "--format", "json").stdout)["drift"]}
    tag = items[(f"model_version.{m}[run:{a}/model]", "tags.owner")]
    assert tag["last_updated"] is None and tag["user"] is None
    assert items[(f"model.{m}", "description")]["last_updated"]
    text = ws.run("drift").stdout
    assert "tags.owner" in text and "(last updated" not in text.split("tags.owner", 1)[1].splitlines()[0]
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_db_init_and_import_without_a_registry_file(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    _register(ws, m, a, "candidate")
    assert not (ws.path / "registry.yaml").exists()
    out = ws.run("db", "init", check=0).stdout
    assert "Nothing to do" in out or "Created" in out
    ws.run("import", "--model", m, "--out", "registry.yaml", check=0)
    assert stat.S_IMODE((ws.path / "registry.yaml").stat().st_mode) == 0o644
    assert "rules:" in (ws.path / "registry.yaml").read_text()
    ws.assert_converged()


def _auth_env(ws: Workspace, url: str, user: str, password: str) -> dict:
    env = {**ws.env, "MLFLOW_TRACKING_URI": url}
    env.update({"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password})
    return env


def test_a_wrong_mlflow_password_is_one_line_at_once(ws, auth_server):
    ws.write({"models": {ws.model(): {"description": "d"}}})
    env = _auth_env(ws, auth_server.url, "admin", "not-the-password")
    started = time.monotonic()
    out = ws.run("plan", env=env)
    took = time.monotonic() - started
    print(f"refused MLflow login reported in {took:.2f} s")
    assert out.returncode == 1 and took < 5, (took, out.stderr)
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("Error:")]
    assert f"MLflow at {auth_server.url} refused the login (HTTP 401)" in line
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD are set; the server refused them" in line
    assert "not-the-password" not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_a_refused_postgres_login_is_said_at_once_reason_first(ws, services):
    role, password = f"day2_{ws.tag}", "right-password-day2"
    services.postgres.require_password(role, password)
    good = services.database_url.replace("postgres@", f"{role}:{password}@", 1)
    ws.write({"state": {"backend": "postgres", "workspace": f"day2_{ws.tag}"}, "models": {ws.model(): {}}})
    for url, reason in (
        (good.replace(password, "wrong-password"), f'password authentication failed for user "{role}"'),
        (services.database_url.replace("postgres@", f"nobody_{ws.tag}@", 1), f'role "nobody_{ws.tag}" does not exist'),
    ):
        started = time.monotonic()
        out = ws.run("plan", env={**ws.env, "MLREG_DATABASE_URL": url})
        took = time.monotonic() - started
        print(f"refused PostgreSQL login reported in {took:.2f} s")
        assert out.returncode == 1 and took < 5, (took, out.stderr)
        (line,) = [x for x in out.stderr.splitlines() if x.startswith("Error:")]
        assert line.startswith(f"Error: {reason}"), line
        assert "wrong-password" not in out.stderr and "did not answer" not in out.stderr
    ws.run("plan", "--detailed-exitcode", check=2, env={**ws.env, "MLREG_DATABASE_URL": good})
