"""Checkov, a scanner of Terraform plans, reads mlreg's JSON plan of a real registry (it
recognises a plan by `terraform_version`) and runs the README's custom policy on it: a model
version in production names its owner. Checkov lives in its own venv (its pins clash with ours):
`make checkov` makes it, and CI always does (MLREG_TEST_REQUIRE_CHECKOV=1 fails the test without it).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support.workspace import ROOT

pytestmark = pytest.mark.integration

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
POLICY = ROOT / "examples" / "policy" / "checkov"


def checkov(plan: str) -> dict[str, list[str]]:
    """Addresses that passed and failed CKV2_MLREG_1."""
    out = subprocess.run(
        [str(CHECKOV), "-f", plan, "--framework", "terraform_plan", "--external-checks-dir", str(POLICY)]
        + ["--check", "CKV2_MLREG_1", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode in (0, 1), out.stderr  # 1: a check failed
    results = json.loads(out.stdout)["results"]
    return {k: sorted(c["resource"] for c in results.get(f"{k}_checks", [])) for k in ("passed", "failed")}


def rego_owner(doc: dict) -> list[str]:
    """examples/policy/owner.rego, the same rule for conftest / OPA (regopy: OPA's language)."""
    from regopy import Input, Interpreter

    interp = Interpreter()
    interp.add_module("owner", (ROOT / "examples" / "policy" / "owner.rego").read_text())
    interp.set_input(Input(doc))
    return json.loads(str(interp.query("data.mlreg.deny")))["expressions"][0]


def test_checkov_runs_a_custom_policy_on_a_real_plan(ws):
    """And the same rule in Rego; Checkov only where its venv is (skipped locally without it)."""
    here = CHECKOV.exists()
    if not here and os.environ.get("MLREG_TEST_REQUIRE_CHECKOV"):
        pytest.fail(f"Checkov is required here and {CHECKOV} is missing: run `make checkov`")
    owned, unowned = ws.model("owned"), ws.model("unowned")
    a, b = ws.log_run("run-a"), ws.log_run("run-b")

    def registry(stage: str, owner_of_b: dict) -> dict:
        return {
            "models": {
                owned: {"versions": [{"run_id": a, "stage": stage, "tags": {"owner": "ana"}}]},
                unowned: {"versions": [{"run_id": b, "stage": stage, "tags": owner_of_b}]},
            }
        }

    ws.write(registry("candidate", {}))
    ws.run("apply", "--auto-approve", check=0)
    va, vb = f"model_version.{owned}[run:{a}/model]", f"model_version.{unowned}[run:{b}/model]"
    plan = str(ws.path / "plan.json")

    ws.write(registry("production", {}))  # both promoted; one names no owner
    (ws.path / "plan.json").write_text(ws.run("plan", "--format", "json", check=0).stdout)
    doc = json.loads((ws.path / "plan.json").read_text())
    assert doc["terraform_version"] == "1.9.0"
    assert rego_owner(doc) == [f"{vb} goes to production without tags.owner"]
    if here:
        assert checkov(plan) == {"passed": [va], "failed": [vb]}

    ws.write(registry("production", {"owner": "ben"}))
    (ws.path / "plan.json").write_text(ws.run("plan", "--format", "json", check=0).stdout)
    assert rego_owner(json.loads((ws.path / "plan.json").read_text())) == []
    if here:
        assert checkov(plan) == {"passed": sorted([va, vb]), "failed": []}
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()
    if not here:
        pytest.skip(f"Checkov's own venv is absent ({CHECKOV}): `make checkov` makes it (CI always does)")
