"""The benchmark's code path at a small scale, against the session's servers: correctness only
(every figure it prints comes from real runs; no timing is asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import populate as pop
from bench.run import ROOT, Bench, engine, measure

pytestmark = pytest.mark.integration


def test_bench_code_path_small(services, tmp_path):
    mlflow_db = services.postgres.url("mlreg_test_mlflow")
    pop.populate_registry(mlflow_db, models=20, versions=5, threads=2)
    pop.populate_policies(services.database_url, models=20, versions=5, count=20)
    b = Bench(services.mlflow.url, services.database_url, services.mlflow, tmp_path / "work", 20, 5, 20, 30)
    res = measure(b, rounds=1, engine_versions=2000)
    assert res["requests"] <= 6  # models + versions chunks, constant in versions per model
    assert res["floor"] > 0 and res["plan"] > 0 and res["apply"] > 0 and res["write_floor"] > 0
    # the floor reader sees the whole registry (earlier tests' models included)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "floor.py"), services.mlflow.url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert int(out[1]) >= 100
    seconds, rss, floor = engine(2000)
    assert seconds > 0 and rss > 0 and floor > 0
    # measure() leaves the registry converged with its registry.yaml
    plan = subprocess.run(
        [sys.executable, "-m", "mlreg", "plan", "--detailed-exitcode"],
        cwd=b.work,
        env=b.env,
        capture_output=True,
        text=True,
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
