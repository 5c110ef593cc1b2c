"""Crash safety (SIGKILL mid-apply), loading what was registered, and bulk reads."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration


def test_sigkill_midway_then_rerun_converges_without_duplicates(ws):
    m = ws.model()
    runs = [ws.log_run(f"run-{i:02d}") for i in range(12)]
    ws.write({"models": {m: {"versions": [{"run_id": r, "stage": "candidate"} for r in runs]}}})
    ws.kill_apply_midway(m)
    client = ws.client

    # The state lock died with the process; the rerun finishes the job.
    ws.run("apply", "--auto-approve", check=0)
    versions = client.search_model_versions(f"name = '{m}'")
    per_run = {}
    for v in versions:
        per_run.setdefault(v.run_id, []).append(v.version)
    assert sorted(per_run) == sorted(runs)
    assert all(len(v) == 1 for v in per_run.values()), per_run
    assert all(v.tags.get("stage") == "candidate" for v in versions)
    ws.assert_converged()


def test_policy_versions_load_their_models(ws):
    import mlflow
    import mlflow.pyfunc

    m = ws.model()
    a = ws.log_run("plain", "artifact")
    b = ws.log_run("logged", "logged")
    pid = ws.policy_id()
    ws.write(
        {
            "models": {m: {"versions": [{"run_id": a, "stage": "candidate"}, {"run_id": b, "stage": "candidate"}]}},
            "policies": {
                "planner_policy": {
                    "id": pid,
                    "versions": {
                        1: {"model": m, "model_version": {"run_id": a}},
                        2: {"model": m, "model_version": {"run_id": b}},
                    },
                }
            },
        }
    )
    ws.run("apply", "--auto-approve", check=0)
    mlflow.set_tracking_uri(ws.tracking_uri)
    rows = ws.policy_rows(pid)
    assert len(rows) == 2
    for row in rows:
        model = mlflow.pyfunc.load_model(f"models:/{row['mlflow_model_name']}/{row['mlflow_model_version']}")
        assert model.predict(["abcd", "ef"]) == [4, 2]
    ws.assert_converged()


def _plan_requests(ws, services) -> int:
    offset = services.mlflow.log_size()
    ws.run("plan", check=0)
    time.sleep(0.3)  # let the server flush its access log
    return len(services.mlflow.requests_since(offset))


@pytest.mark.parametrize("n_models", [3])
def test_plan_requests_do_not_grow_with_versions(ws, services, n_models, capsys):
    """Count the requests a plan makes at the server, for N models x M versions."""
    counts = {}
    for m_versions in (1, 6):
        doc = {"models": {}}
        for i in range(n_models):
            name = ws.model(f"m{i}v{m_versions}")
            runs = [ws.log_run(f"r{i}-{m_versions}-{j}") for j in range(m_versions)]
            doc["models"][name] = {"versions": [{"run_id": r, "stage": "candidate"} for r in runs]}
        ws.write(doc)
        ws.run("apply", "--auto-approve", check=0)
        counts[m_versions] = _plan_requests(ws, services)
        ws.assert_converged()
    with capsys.disabled():
        print(f"\nplan requests for {n_models} models: {counts} (versions per model -> requests)")
    assert counts[1] == counts[6], counts
    assert counts[6] <= 6, counts
