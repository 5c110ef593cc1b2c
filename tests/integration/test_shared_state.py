"""The PostgreSQL state backend: shared state, locks that name their holder, audit history."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from mlreg.planner.errors import StaleSerial
from mlreg.planner.recorded import StateSnapshot
from mlreg.state.postgres import PostgresState

pytestmark = pytest.mark.integration


def _pg_doc(ws, models: dict) -> dict:
    return {"state": {"backend": "postgres", "workspace": f"ws_{ws.tag}"}, "models": models}


def _backend(ws, services) -> PostgresState:
    return PostgresState(services.database_url, f"ws_{ws.tag}")


def test_postgres_backend_apply_converges_without_local_file(ws, services):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write(_pg_doc(ws, {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}))
    ws.run("apply", "--auto-approve", check=0)
    assert not (ws.path / ".mlreg").exists()
    st = _backend(ws, services).read()
    assert f"model_version.{m}[run:{a}/model]" in st.resources and st.serial > 0
    hist = json.loads(ws.run("history", "--format", "json", check=0).stdout)
    assert [h["outcome"] for h in hist] == ["succeeded"]
    ws.assert_converged()


def test_second_writer_fails_naming_holder_or_waits(ws, services):
    m = ws.model()
    a = ws.log_run("run-a")
    ws.write(_pg_doc(ws, {m: {"versions": [{"run_id": a}]}}))
    backend = _backend(ws, services)
    with backend.lock("apply") as holder:
        out = ws.run("apply", "--auto-approve")
        assert out.returncode == 1
        assert "State is locked" in out.stderr and f"pid {holder.pid}" in out.stderr
        assert holder.id in out.stderr and "for `apply`" in out.stderr
        assert ws.client.search_registered_models(f"name = '{m}'") == []

    release = threading.Event()

    def hold():
        with backend.lock("apply"):
            release.wait(20)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.5)
    threading.Timer(2.0, release.set).start()
    started = time.monotonic()
    ws.run("apply", "--auto-approve", "--lock-timeout", "30", check=0)
    assert time.monotonic() - started >= 1.5  # it waited for the holder
    t.join()
    assert len(ws.client.search_model_versions(f"name = '{m}'")) == 1
    ws.assert_converged()


def test_killed_holder_releases_lock_and_is_recorded_interrupted(ws, services):
    m = ws.model()
    runs = [ws.log_run(f"run-{i:02d}") for i in range(12)]
    ws.write(_pg_doc(ws, {m: {"versions": [{"run_id": r, "stage": "candidate"} for r in runs]}}))
    ws.kill_apply_midway(m)
    client = ws.client
    ws.run("apply", "--auto-approve", check=0)  # not blocked: the advisory lock died with the process
    hist = json.loads(ws.run("history", "--format", "json", check=0).stdout)
    assert [h["outcome"] for h in hist] == ["interrupted", "succeeded"]
    versions = client.search_model_versions(f"name = '{m}'")
    assert sorted(v.run_id for v in versions) == sorted(runs)
    ws.assert_converged()


def test_older_serial_is_refused(ws, services):
    backend = _backend(ws, services)
    backend.write(StateSnapshot(lineage="L", serial=5, resources={}))
    with pytest.raises(StaleSerial):
        backend.write(StateSnapshot(lineage="L", serial=4, resources={}))
    assert backend.read().serial == 5
    ws.write(_pg_doc(ws, {}))
    (ws.path / "old.json").write_text(json.dumps(StateSnapshot(lineage="L", serial=3).to_json()))
    out = ws.run("state", "push", "old.json")
    assert out.returncode == 1 and "not older" in out.stderr
    assert backend.read().serial == 5


def test_local_state_moves_to_postgres_then_plan_is_empty(ws, services):
    m = ws.model()
    a = ws.log_run("run-a")
    models = {m: {"versions": [{"run_id": a, "stage": "candidate"}]}}
    ws.write({"models": models})
    ws.run("apply", "--auto-approve", check=0)
    (ws.path / "moved.json").write_text(ws.run("state", "pull", check=0).stdout)
    ws.write(_pg_doc(ws, models))
    ws.run("state", "push", "moved.json", check=0)
    assert f"model_version.{m}[run:{a}/model]" in ws.run("state", "list", check=0).stdout
    ws.assert_converged()


def test_local_backend_names_its_holder_too(ws):
    ws.write({"models": {}})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from mlreg.state.local import LocalState\n"
                "with LocalState(sys.argv[1]).lock('apply'):\n"
                "    print('locked', flush=True); time.sleep(30)"
            ),
            str(ws.path / ".mlreg" / "state.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    try:
        out = ws.run("apply", "--auto-approve")
        assert out.returncode == 1 and f"pid {holder.pid}" in out.stderr and "force-unlock" in out.stderr
    finally:
        holder.kill()
        holder.wait()
    ws.run("apply", "--auto-approve", check=0)  # the OS released the dead holder's lock
    ws.assert_converged()
