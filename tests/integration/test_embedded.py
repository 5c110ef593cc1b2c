"""The whole loop on the embedded defaults (MLflow on SQLite, SQLite policy table): no server."""

from __future__ import annotations

import shutil

from tests.support.workspace import ROOT, Workspace


def test_demo_registry_on_embedded_sqlite(tmp_path):
    # The CLI runs on the defaults (no variables set); the test reads the files by absolute path.
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path}/mlflow.db", f"sqlite:///{tmp_path}/mlreg.db")
    shutil.copy(ROOT / "registry.yaml", tmp_path / "registry.yaml")
    env = {k: v for k, v in ws.env.items() if k not in ("MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL")}
    import subprocess
    import sys

    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples/demo/train.py"),
            "planner-2025-01-03:artifact",
            "planner-2025-01-10:logged",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env=env,
    )
    ws.run("db", "init", check=0, env=env)
    plan = ws.run("plan", "--detailed-exitcode", check=2, env=env)
    assert "Plan: 5 to add, 0 to change, 0 to delete, 0 to forget." in plan.stdout
    ws.run("apply", "--auto-approve", check=0, env=env)
    assert "No changes." in ws.run("plan", "--detailed-exitcode", check=0, env=env).stdout
    serial = ws.state()["serial"]
    ws.run("apply", "--auto-approve", check=0, env=env)
    assert ws.state()["serial"] == serial
    rows = ws.policy_rows("2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11")
    assert [r["version"] for r in rows] == [1, 2]
