"""The whole loop on the embedded defaults (MLflow on SQLite, SQLite policy table): no server."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.support.workspace import ROOT, Workspace


def test_demo_registry_on_embedded_sqlite(tmp_path):
    # The CLI runs on the defaults (no variables set); the test reads the files by absolute path.
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path}/mlflow.db", f"sqlite:///{tmp_path}/mlreg.db")
    shutil.copy(ROOT / "registry.yaml", tmp_path / "registry.yaml")
    env = {k: v for k, v in ws.env.items() if k not in ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL")}
    env["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"] = "true"  # the demo's disabled webhook points at localhost (Makefile)
    train = [
        sys.executable,
        str(ROOT / "examples/demo/train.py"),
        "planner-2025-01-03:artifact",
        "planner-2025-01-10:logged",
    ]
    subprocess.run(train, cwd=tmp_path, check=True, capture_output=True, env=env)
    ws.run("db", "init", check=0, env=env)
    plan = ws.run("plan", "--detailed-exitcode", check=2, env=env)
    # 1 model + 2 versions + 2 policy versions + 1 prompt + 2 prompt versions + 1 webhook
    assert "Plan: 9 to add, 0 to change, 0 to delete, 0 to forget." in plan.stdout
    ws.run("apply", "--auto-approve", check=0, env=env)
    assert "No changes." in ws.run("plan", "--detailed-exitcode", check=0, env=env).stdout
    serial = ws.state()["serial"]
    ws.run("apply", "--auto-approve", check=0, env=env)
    assert ws.state()["serial"] == serial
    rows = ws.policy_rows("2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11")
    assert [r["version"] for r in rows] == [1, 2]
    load = (
        "import mlflow; mlflow.set_tracking_uri('sqlite:///mlflow.db'); "
        "print(mlflow.genai.load_prompt('prompts:/planner_prompt@production').template)"
    )
    out = subprocess.run([sys.executable, "-c", load], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "Plan {{meals}} meals for {{days}} days, within {{budget}}", out.stderr
