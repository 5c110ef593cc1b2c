"""A newcomer's first hour against real servers: errors that point at the one mistake, CI-safe
edges (exit codes, targets, paths, secrets offline), adoption said aloud, import that asks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.support.workspace import Workspace


def _model_with_description(ws: Workspace, description: str) -> str:
    m = ws.model()
    ws.write({"models": {m: {"description": description}}})
    return m


def test_every_error_exits_1_even_usage_errors(ws):
    for args in (("plan", "--auto-approve"), ("no-such-command",), ("apply", "--parallelism", "many")):
        out = ws.run(*args)
        assert out.returncode == 1, (args, out.returncode, out.stderr)
        assert "Error" in out.stderr and "Traceback" not in out.stderr
    # --detailed-exitcode keeps 2 for "changes present" only
    _model_with_description(ws, "d")
    assert ws.run("plan", "--detailed-exitcode").returncode == 2
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_a_target_matching_nothing_is_an_error_and_a_targeted_plan_says_so(ws):
    m = _model_with_description(ws, "first")
    ws.run("apply", "--auto-approve", check=0)
    ws.write({"models": {m: {"description": "second"}}})
    typo = ws.run("plan", "--target", f"model.{m}x")
    assert typo.returncode == 1 and "No changes" not in typo.stdout
    assert f"--target model.{m}x matches nothing in the file or in state; did you mean 'model.{m}'?" in typo.stdout
    right = ws.run("plan", "--target", f"model.{m}", "--detailed-exitcode", check=2)
    assert "Warning: Resource targeting is in effect" in right.stdout
    assert '~ description = "first" -> "second"' in right.stdout
    ws.run("apply", "--auto-approve", "--target", f"model.{m}", check=0)
    assert ws.client.get_registered_model(m).description == "second"
    ws.assert_converged()


def test_relative_paths_resolve_beside_the_file_from_any_folder(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    text = "version: 1\nmlflow: {tracking_uri: 'sqlite:///mlflow.db'}\ndatabase: {url: 'sqlite:///mlreg.db'}\n"
    text += "models:\n  planner_first_model: {description: beside the file}\n"
    (repo / "registry.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLREG_"))} | {"NO_COLOR": "1"}

    def mlreg(*args, cwd):
        return subprocess.run([sys.executable, "-m", "mlreg", *args], cwd=cwd, env=env, capture_output=True, text=True)

    applied = mlreg("apply", "--auto-approve", cwd=repo)
    assert applied.returncode == 0, applied.stderr
    plan = mlreg("-f", "repo/registry.yaml", "plan", "--detailed-exitcode", cwd=tmp_path)
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout + plan.stderr
    first = plan.stdout.splitlines()[0]
    assert f"sqlite:///{repo}/mlflow.db" in first and f"{repo}/.mlreg" in first  # printed absolute
    assert not list(tmp_path.glob("*.db")) and not (tmp_path / ".mlreg").exists()  # nothing made here
    again = mlreg("-f", str(repo / "registry.yaml"), "plan", "--detailed-exitcode", cwd=elsewhere)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not list(elsewhere.iterdir())


def test_offline_commands_need_no_secrets(ws):
    m = ws.model()
    doc = {
        "models": {m: {}},
        "webhooks": {
            f"hook-{ws.tag}": {
                "url": "https://hooks.example.com/x",
                "events": ["model_version.created"],
                "secret": "${MLREG_SECRET_TEST_HOOK}",
            }
        },
    }
    ws.write(doc)
    env = {k: v for k, v in ws.env.items() if k != "MLREG_SECRET_TEST_HOOK"}
    env.pop("MLFLOW_TRACKING_URI")
    env.pop("MLREG_DATABASE_URL")  # CI's validate step has neither secrets nor servers
    valid = ws.run("validate", env=env, check=0)
    assert "is valid: 1 model, 1 webhook" in valid.stdout
    assert "graph LR" in ws.run("graph", "--format", "mermaid", env=env, check=0).stdout
    plan = ws.run("plan", env=env)
    assert plan.returncode == 1 and "Environment variable MLREG_SECRET_TEST_HOOK is not set" in plan.stderr
    doc["webhooks"][f"hook-{ws.tag}"]["secret"] = "${1_NOT_A_NAME}"
    ws.write(doc)
    assert ws.run("validate", env=env).returncode == 1  # malformed is still refused offline


def test_adoption_is_shown_and_counted(ws):
    m = ws.model()
    ws.client.create_registered_model(m, description="made by hand")
    ws.write({"models": {m: {"description": "made by hand"}}})
    plan = ws.run("plan", "--detailed-exitcode", check=2)
    assert f"  # model.{m} will be adopted (it exists live; apply only records it)" in plan.stdout
    assert f'  = model.{m} {{\n        id = "{m}"' in plan.stdout
    assert "Plan: 1 to adopt, 0 to add, 0 to change, 0 to delete, 0 to forget." in plan.stdout
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert md.startswith("📝 **Plan: 1 to adopt,") and "| = adopt |" in md
    (rc,) = [r for r in json.loads(ws.run("plan", "--format", "json", check=0).stdout)["resource_changes"]]
    assert rc["change"]["actions"] == ["no-op"] and rc["change"]["importing"] == {"id": m}
    applied = ws.run("apply", "--auto-approve", check=0)
    assert "Apply complete! Resources: 1 adopted, 0 added" in applied.stdout
    assert f"model.{m}" in ws.state()["resources"]
    ws.assert_converged()


def test_import_asks_before_overwriting_says_what_it_left_and_prints_a_refusal_whole(ws):
    m, other = ws.model(), ws.model("other")
    ws.write({"models": {m: {"description": "a"}, other: {"description": "b"}}})
    ws.run("apply", "--auto-approve", check=0)
    hook = f"hook-{ws.tag}"
    ws.client.create_webhook(hook, "https://hooks.example.com/h", ["model_version.created"], status="DISABLED")
    try:
        out = ws.run("import", "--model", m, "--model", other, "--out", "imported.yaml", check=0)
        assert "Not imported, since not asked for:" in out.stderr and "(--webhook '*')" in out.stderr
        assert yaml.safe_load((ws.path / "imported.yaml").read_text())["models"][other]["description"] == "b"
        again = ws.run("import", "--model", m, "--model", other, "--out", "imported.yaml")
        assert again.returncode == 1 and "imported.yaml exists; pass --force" in again.stderr
        # a file of one of the two models the state manages would leave the other unmanaged:
        # refused, and the refusal is printed whole, not cut at its first line
        refused = ws.run("import", "--model", m, "--out", "registry.yaml", "--force")
        assert refused.returncode == 1
        assert "does not declare; nothing adopted:" in refused.stderr
        assert f"  model.{other}\n" in refused.stderr and "import them too" in refused.stderr
        assert yaml.safe_load((ws.path / "registry.yaml").read_text())["models"][other] == {"description": "b"}
        ws.assert_converged()
    finally:
        for w in ws.client.list_webhooks():
            if w.name == hook:
                ws.client.delete_webhook(w.webhook_id)


def test_a_webhook_to_a_private_address_explains_the_server_setting(tmp_path):
    # the embedded default (no server) with MLflow's own protection on: the demo's one dead end
    (tmp_path / "registry.yaml").write_text(
        "version: 1\nwebhooks:\n  local-hook:\n    url: https://localhost/hook\n"
        "    events: [model_version.created]\n    status: disabled\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLREG_"))}
    out = subprocess.run(
        [sys.executable, "-m", "mlreg", "apply", "--auto-approve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
    # with the setting the message names, the rerun applies and converges
    allowed = {**env, "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true"}

    run = {"cwd": tmp_path, "env": allowed, "capture_output": True, "text": True}
    assert subprocess.run([sys.executable, "-m", "mlreg", "apply", "--auto-approve"], **run).returncode == 0
    plan = subprocess.run([sys.executable, "-m", "mlreg", "plan", "--detailed-exitcode"], **run)
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout + plan.stderr
