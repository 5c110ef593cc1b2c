"""Faults between mlreg and the real servers, through a fault-injecting proxy: answers lost after
the server acted, gateways answering 5xx, servers going away mid-apply. Every test ends with
exactly one version per matcher, every policy row present, and a converged registry."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.faultproxy import HttpFaultProxy, TcpFaultProxy
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration

CREATE = "/model-versions/create"


def _declare(ws: Workspace, n: int, with_policies: bool = False) -> tuple[str, list[str], str]:
    m = ws.model()
    runs = [ws.log_run(f"run-{i:02d}") for i in range(n)]
    pid = ws.policy_id()
    doc = {"models": {m: {"versions": [{"run_id": r, "stage": "candidate"} for r in runs]}}}
    if with_policies:
        doc["policies"] = {
            "planner_policy": {
                "id": pid,
                "versions": {i + 1: {"model": m, "model_version": {"run_id": r}} for i, r in enumerate(runs)},
            }
        }
    ws.write(doc)
    return m, runs, pid


@pytest.mark.parametrize("mode", ["lose", "504"])
def test_create_whose_answer_is_lost_registers_once(pws, proxy, mode):
    m, runs, _ = _declare(pws, 4)
    proxy.add(mode, "POST", CREATE, times=2)  # the server registers; mlreg never hears back
    out = pws.run("apply", "--auto-approve", "--parallelism", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(proxy.requests(mode)) == 2
    pws.assert_one_version_per_run(m, runs)
    history = json.loads(pws.run("history", "--format", "json", check=0).stdout)
    for v in pws.client.search_model_versions(f"name = '{m}'"):
        assert v.tags["mlreg.apply_id"] == history[-1]["id"]  # the token it was found again by
    pws.assert_converged()


def test_503_on_every_third_request_is_ridden_out(pws, proxy):
    m, runs, pid = _declare(pws, 4, with_policies=True)
    proxy.add("503", times=None, every=3)
    out = pws.run("apply", "--auto-approve")
    assert out.returncode == 0, out.stdout + out.stderr
    assert proxy.requests("503")
    pws.assert_one_version_per_run(m, runs)
    assert len(pws.policy_rows(pid)) == 4
    pws.assert_converged()


def test_plan_reports_duplicates_it_did_not_make(pws, proxy, services):
    m, runs, _ = _declare(pws, 1)
    pws.run("apply", "--auto-approve", check=0)
    import mlflow

    mlflow.set_tracking_uri(services.mlflow.url)
    mlflow.register_model(f"runs:/{runs[0]}/model", m)  # a second version of the same run, by hand
    out = pws.run("plan")
    assert out.returncode == 1 and "No changes" not in out.stdout
    assert f"run:{runs[0]}/model matches 2 live versions of '{m}': 1, 2; state records version 1" in out.stdout
    hint = re.search(r"or delete the extras: (removed: \[.*\])", out.stdout)
    assert hint, out.stdout
    removed = yaml.safe_load(hint.group(1))["removed"]  # the hint is YAML that pastes as printed
    assert removed == [{"address": f"model_version.{m}[v2]", "destroy": True}]
    pws.write({"models": {m: {"versions": [{"run_id": runs[0], "stage": "candidate"}]}}, "removed": removed})
    pws.run("apply", "--auto-approve", check=0)
    pws.assert_one_version_per_run(m, runs)
    pws.assert_converged()


def _kill_when(proxy: HttpFaultProxy, count: int, action) -> None:
    """Run `action` when the `count`-th version create reaches the server."""
    proxy.add("call", "POST", CREATE, times=1, every=count, callback=action)


def test_server_gone_mid_apply_stops_in_bounded_time_then_converges(pws, proxy):
    m, runs, _ = _declare(pws, 8)
    _kill_when(proxy, 3, proxy.refuse)
    started = time.monotonic()
    out = pws.run("apply", "--auto-approve", "--parallelism", "1", "--backend-timeout", "10")
    elapsed = time.monotonic() - started
    assert out.returncode == 1
    assert elapsed < 60, f"took {elapsed:.0f} s"
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out.stderr
    assert f"MLflow at {proxy.url} did not answer" in errors[0] and "run `mlreg plan`" in errors[0]
    assert json.loads(pws.run("history", "--format", "json", check=0).stdout)[-1]["outcome"] == "failed"
    recorded = {a for a in pws.state()["resources"] if a.startswith("model_version.")}
    made = {f"model_version.{m}[run:{v.run_id}/model]" for v in pws.client.search_model_versions(f"name = '{m}'")}
    assert len(recorded) >= 2 and recorded <= made  # what completed is recorded, and exists
    assert len(made) < len(runs)  # it stopped: nothing was started after the server went away
    proxy.clear()
    proxy.restore()
    pws.run("apply", "--auto-approve", check=0)
    pws.assert_one_version_per_run(m, runs)
    pws.assert_converged()


def test_server_gone_stops_within_60_s_by_default(pws, proxy):
    m, runs, _ = _declare(pws, 4)
    _kill_when(proxy, 2, proxy.refuse)
    started = time.monotonic()
    out = pws.run("apply", "--auto-approve", "--parallelism", "1")
    elapsed = time.monotonic() - started
    assert out.returncode == 1 and "did not answer" in out.stderr
    assert elapsed < 90, f"took {elapsed:.0f} s"  # the default budget is 60 s; generous bound
    proxy.clear()
    proxy.restore()
    pws.run("apply", "--auto-approve", check=0)
    pws.assert_one_version_per_run(m, runs)
    pws.assert_converged()


def test_unreachable_mlflow_at_plan_fails_fast_with_one_line(services, tmp_path):
    from tests.support.services import free_port

    ws = Workspace(tmp_path, f"http://127.0.0.1:{free_port()}", services.database_url)
    ws.write({"models": {ws.model(): {}}})
    started = time.monotonic()
    out = ws.run("plan")
    assert out.returncode == 1 and time.monotonic() - started < 30
    assert "did not answer" in out.stderr and "Traceback" not in out.stderr


def test_database_gone_mid_apply_then_every_row_lands(services, tmp_path, proxy):
    parts = urlsplit(services.database_url)
    db = TcpFaultProxy(parts.hostname, parts.port)
    try:
        ws = Workspace(
            tmp_path,
            proxy.url,
            db.url(services.database_url),
            direct_uri=services.mlflow.url,
            direct_database_url=services.database_url,
        )
        m, runs, pid = _declare(ws, 3, with_policies=True)
        _kill_when(proxy, 1, db.refuse)  # the database goes away once MLflow starts registering
        out = ws.run("apply", "--auto-approve", "--backend-timeout", "8")
        assert out.returncode == 1
        assert "database postgresql+psycopg://" in out.stderr and "did not answer" in out.stderr
        assert ws.policy_rows(pid) == []
        assert any(a.startswith("model_version.") for a in ws.state()["resources"])  # MLflow's part recorded
        db.restore()
        proxy.clear()
        ws.run("apply", "--auto-approve", check=0)
        ws.assert_one_version_per_run(m, runs)
        assert [r["version"] for r in ws.policy_rows(pid)] == [1, 2, 3]
        ws.assert_converged()
    finally:
        db.stop()


def test_edited_plan_file_is_refused_and_nothing_is_deleted(ws):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write({"models": {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.run("plan", "--out", "p.plan", check=0)
    doc = json.loads((ws.path / "p.plan").read_text())
    for rc in doc["resource_changes"]:
        if rc["type"] == "model_version":
            rc["change"]["actions"], rc["change"]["after"] = ["delete"], None
    (ws.path / "p.plan").write_text(json.dumps(doc))
    out = ws.run("apply", "p.plan")
    assert out.returncode == 1 and "does not match" in out.stderr and "nothing was applied" in out.stderr
    assert len(ws.client.search_model_versions(f"name = '{m}'")) == 1
    ws.assert_converged()
