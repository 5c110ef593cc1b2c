"""A test's working folder: its registry.yaml, its state, and the CLI run as a user would."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _demo_train():
    spec = importlib.util.spec_from_file_location("mlreg_demo_train", ROOT / "examples" / "demo" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Workspace:
    def __init__(
        self,
        path: Path,
        tracking_uri: str,
        database_url: str,
        direct_uri: str | None = None,
        direct_database_url: str | None = None,
    ):
        """`tracking_uri` / `database_url`: what the CLI under test uses (maybe a fault proxy);
        `direct_*`: what the test itself uses to set things up and check the truth."""
        self.path = path
        self.tracking_uri = tracking_uri
        self.database_url = database_url
        self.direct_uri = direct_uri or tracking_uri
        self.direct_database_url = direct_database_url or database_url
        self.tag = uuid.uuid4().hex[:8]
        self.experiment = f"exp_{self.tag}"

    # names unique to this test, matching the default model_name_pattern
    def model(self, base: str = "planner") -> str:
        return f"{base}_{self.tag}_model"

    def policy_id(self, n: int = 1) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tag}/{n}"))

    @property
    def env(self) -> dict[str, str]:
        # mlflow.set_experiment in this process exports MLFLOW_EXPERIMENT_ID: not for the children
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_EXPERIMENT_")}
        return {
            **inherited,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLREG_DATABASE_URL": self.database_url,
            "NO_COLOR": "1",
        }

    def write(self, doc: dict | str, name: str = "registry.yaml") -> Path:
        if isinstance(doc, dict):
            doc = {
                "version": 1,
                "mlflow": {"tracking_uri": "${MLFLOW_TRACKING_URI}"},
                "database": {"url": "${MLREG_DATABASE_URL}"},
                **doc,
            }
            text = yaml.safe_dump(doc, sort_keys=False)
        else:
            text = doc
        p = self.path / name
        p.write_text(text)
        return p

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: int | None = None,
        env: dict | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "mlreg", *args],
            cwd=self.path,
            input=input,
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=timeout,
        )
        if check is not None and proc.returncode != check:
            raise AssertionError(
                f"mlreg {' '.join(args)} exited {proc.returncode}, expected {check}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "mlreg", *args],
            cwd=self.path,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def kill_apply_midway(self, model: str, after: int = 3, total: int = 12) -> int:
        """Start `apply --parallelism 1`, SIGKILL it once `after` versions of `model` exist
        (fewer than `total`: killed part-way, not after the end). Returns how many it saw."""
        import time

        proc = self.popen("apply", "--auto-approve", "--parallelism", "1")
        client = self.client
        seen = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            seen = len(client.search_model_versions(f"name = '{model}'"))
            if seen >= after:
                proc.kill()
                break
            time.sleep(0.01)
        proc.wait()
        assert after <= seen < total, f"apply was not killed part-way (saw {seen}; output: {proc.stdout.read()})"
        assert proc.returncode == -9
        return seen

    def log_run(self, name: str, kind: str = "artifact", scores=(0.91, 1.0), omit=()) -> str:
        import mlflow

        mlflow.set_tracking_uri(self.direct_uri)
        return _demo_train().log_run(self.experiment, name, kind, scores, tuple(omit))

    @staticmethod
    def user_tags(version) -> dict:
        """A version's tags without mlreg's own provenance tag (`mlreg.apply_id`)."""
        return {k: v for k, v in version.tags.items() if k != "mlreg.apply_id"}

    @property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.direct_uri)

    def state(self) -> dict:
        p = self.path / ".mlreg" / "state.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def history(self) -> list[dict]:
        p = self.path / ".mlreg" / "history.jsonl"
        return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []

    def assert_one_version_per_run(self, model: str, runs: list[str]) -> None:
        """Exactly one version of `model` per run: nothing registered twice, nothing missing."""
        per_run: dict[str, list[str]] = {}
        for v in self.client.search_model_versions(f"name = '{model}'"):
            per_run.setdefault(v.run_id, []).append(v.version)
        assert sorted(per_run) == sorted(runs), per_run
        assert all(len(v) == 1 for v in per_run.values()), f"registered twice: {per_run}"

    def assert_converged(self, *options: str, env: dict | None = None) -> None:
        """Terraform's provider-test rule: after apply, plan is empty and apply writes nothing.
        `options`: global options such as `-f registry/`."""
        plan = self.run(*options, "plan", "--detailed-exitcode", env=env)
        assert plan.returncode == 0, f"plan not empty after apply:\n{plan.stdout}\n{plan.stderr}"
        assert "No changes." in plan.stdout
        before = self.serial(env, *options)
        self.run(*options, "apply", "--auto-approve", check=0, env=env)
        assert self.serial(env, *options) == before, "a second apply wrote state"

    def serial(self, env: dict | None = None, *options: str) -> int:
        """The recorded state's serial, from whichever backend registry.yaml names."""
        return json.loads(self.run(*options, "state", "pull", check=0, env=env).stdout)["serial"]

    def policy_rows(self, policy_id: str) -> list[dict]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.direct_database_url)
        try:
            with engine.connect() as conn:
                table = "exp.policy_versions" if engine.dialect.name == "postgresql" else "policy_versions"
                rows = (
                    conn.execute(
                        sa.text(f"SELECT * FROM {table} WHERE policy_id = :p ORDER BY version"),
                        {"p": policy_id if engine.dialect.name == "postgresql" else policy_id.replace("-", "")},
                    )
                    .mappings()
                    .all()
                )
                return [dict(r) for r in rows]
        finally:
            engine.dispose()
