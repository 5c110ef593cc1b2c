"""A pull request's file against CI, through the `mlreg` CLI: the comment it renders, the log it
prints, the disks it may touch, the links it may commit. Nothing gets through."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.support.workspace import Workspace

INJECTED = "<img src=https://evil.example/x> @org/security-team ::add-mask::hidden"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_hostile_description_renders_as_text_in_the_comment_and_the_log(ws):
    m = ws.model()
    ws.write({"models": {m: {"description": INJECTED, "tags": {"note": "::notice title=ok::approved"}}}})
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    assert md.count("```") % 2 == 0
    rendered = re.sub(r"^```.*?^```", "", md, flags=re.S | re.M)  # code blocks show text as text
    assert "<img" not in rendered and "@org/security-team" not in rendered
    assert "&lt;img" in rendered and "&#64;org/security-team" in rendered
    text = ws.run("plan", "--out", "pr.plan", check=0)
    for line in (text.stdout + text.stderr).splitlines():
        assert not line.lstrip().startswith("::"), line
    ws.run("apply", "pr.plan", check=0)
    assert ws.client.get_registered_model(m).description == INJECTED  # stored as written
    ws.assert_converged()


def test_a_newline_in_a_version_key_is_refused_with_its_line(ws):
    m = ws.model()
    ws.write(
        f'version: 1\nmodels:\n  {m}:\n    versions:\n      - source: "s3://b/m\\n```\\n## Security review passed"\n'
    )
    out = ws.run("validate")
    assert out.returncode == 1 and "registry.yaml:5" in out.stderr and "ontrol character" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("driver", ["sqlite", "sqlite+pysqlite"])
def test_plan_drift_and_validate_create_no_store_anywhere(tmp_path, driver):
    ws = Workspace(tmp_path, "unused", "unused")
    elsewhere = tmp_path / "elsewhere"
    ws.write(
        f"version: 1\nmlflow: {{tracking_uri: '{driver}:///{elsewhere}/mlflow.db'}}\n"
        f"database: {{url: '{driver}:///{elsewhere}/mlreg.db'}}\nmodels:\n  planner_x_model: {{}}\n"
    )
    env = {k: v for k, v in ws.env.items() if k not in ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL")}
    plan = ws.run("plan", "--detailed-exitcode", env=env, check=2)
    assert "does not exist yet" in plan.stdout + plan.stderr
    assert "INFO" not in plan.stderr  # MLflow's store did not start up
    ws.run("drift", env=env, check=0)
    ws.run("validate", env=env, check=0)
    assert not elsewhere.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.yaml"]  # no state, no lock either


def test_a_foreign_sqlite_file_is_not_changed_by_a_byte(tmp_path):
    ws = Workspace(tmp_path, "unused", "unused")
    foreign = tmp_path / "someone_elses.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE payroll (name TEXT, amount INTEGER)")
        conn.execute("INSERT INTO payroll VALUES ('ana', 100)")
    before = _digest(foreign)
    ws.write(
        f"version: 1\nmlflow: {{tracking_uri: 'sqlite:///{foreign}'}}\ndatabase: {{url: 'sqlite:///{foreign}'}}\n"
        "models:\n  planner_x_model: {}\n"
    )
    env = {k: v for k, v in ws.env.items() if k not in ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL")}
    for args in (("plan",), ("drift",), ("validate",)):
        ws.run(*args, env=env)
        assert _digest(foreign) == before, args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.yaml", "someone_elses.db"]


def test_plan_does_not_create_the_postgres_state_schema(services, tmp_path):
    url = services.postgres.create_database("mlreg_test_fresh_state", drop=True)
    ws = Workspace(tmp_path, services.mlflow.url, services.database_url)
    ws.write({"models": {ws.model(): {}}, "state": {"backend": "postgres", "url": url}})
    ws.run("plan", "--detailed-exitcode", check=2)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            schemas = conn.execute(sa.text("SELECT schema_name FROM information_schema.schemata")).scalars().all()
    finally:
        engine.dispose()
    assert "mlreg" not in schemas  # only apply creates it
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_committed_symlinks_are_refused_not_followed(ws, tmp_path_factory):
    m = ws.model()
    ws.write({"models": {m: {}}})
    target = tmp_path_factory.mktemp("outside") / "stolen.jsonl"
    target.write_text("")
    (ws.path / ".mlreg").mkdir()
    os.symlink(target, ws.path / ".mlreg" / "history.jsonl")
    out = ws.run("apply", "--auto-approve")
    assert out.returncode == 1 and "history.jsonl is a symbolic link" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and target.read_text() == ""
    os.unlink(ws.path / ".mlreg" / "history.jsonl")

    os.symlink(target, ws.path / "pr.plan")
    saved = ws.run("plan", "--out", "pr.plan")
    assert saved.returncode == 1 and "pr.plan is a symbolic link" in saved.stderr and target.read_text() == ""
    os.unlink(ws.path / "pr.plan")

    for path in ("../elsewhere/state.json", "/tmp/mlreg-state.json"):
        ws.write({"models": {m: {}}, "state": {"path": path}})
        out = ws.run("plan")
        assert out.returncode == 1 and "state.path" in out.stderr and "outside" in out.stderr, out.stderr
    ws.write({"models": {m: {}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


def test_text_output_never_starts_a_workflow_command_even_from_errors(ws):
    ws.write("version: 1\nmodels:\n  '::add-mask::x': {}\n")
    out = ws.run("plan")
    assert out.returncode == 1
    lines = (out.stdout + out.stderr).splitlines()
    assert any(re.search(r"add-mask", line) for line in lines)
    assert not [line for line in lines if line.lstrip().startswith("::")]


def test_plan_never_writes_the_embedded_default_beside_the_file(tmp_path):
    (tmp_path / "registry.yaml").write_text("version: 1\nmodels:\n  planner_y_model: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLREG_"))}
    out = subprocess.run([sys.executable, "-m", "mlreg", "plan"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.yaml"]
