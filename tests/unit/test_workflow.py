"""The engine's flows (plan with its read phases, apply, saved plans, history, adoption) and the
executor, driven through in-memory providers and state."""

from __future__ import annotations

import itertools
import json

import pytest

from mlreg.planner import planfile
from mlreg.planner.changes import ActionReason
from mlreg.planner.errors import BackendError, PlanRefused, StalePlan, StateLocked
from mlreg.planner.render.json import plan_json
from mlreg.planner.workflow import adopt, apply, make_plan, read_live
from tests.unit.fakes import MemoryPolicies, MemoryRegistry, MemoryState, session, unavailable
from tests.unit.kinds.model_version import add_version, log_run

PID = "2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11"
FILE = f"""
models:
  planner_model:
    description: planner
    tags: {{team: planning}}
    aliases: {{champion: {{run_id: r1}}}}
    versions:
      - {{run_id: r1, stage: candidate, tags: {{owner: ana}}}}
      - {{run_id: r2, stage: candidate}}
policies:
  planner_policy:
    id: {PID}
    versions:
      1: {{model: planner_model, model_version: {{run_id: r1}}, config_defaults: {{temperature: 0.7}}}}
"""


@pytest.fixture
def world():
    reg, db, st = MemoryRegistry(), MemoryPolicies(), MemoryState()
    log_run(reg, "r1")
    log_run(reg, "r2")
    return reg, db, st


def converged(s) -> bool:
    plan, _ = make_plan(s)
    return not plan.has_changes and not plan.pending and not plan.has_errors


def test_apply_in_dependency_order_records_state_and_history(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    outcome = apply(s)
    # the model before its versions, the alias after the version it points at, the row last
    assert reg.calls.index("model.planner_model") < reg.calls.index("model_version.planner_model[run:r1/model]")
    assert reg.calls.index("model_version.planner_model[run:r1/model]") < reg.calls.index("model.planner_model#aliases")
    assert db.calls == ["policy_version.planner_policy[1]"]
    assert reg.models["planner_model"]["aliases"] == {"champion": "1"}
    assert db.rows[(PID, 1)].model_version == "1"
    assert outcome.result.executed == {"adopt": 0, "create": 4, "update": 0, "delete": 0, "forget": 0, "move": 0}
    assert set(st.snapshot.resources) == {
        "model.planner_model",
        "model_version.planner_model[run:r1/model]",
        "model_version.planner_model[run:r2/model]",
        "policy_version.planner_policy[1]",
    }
    assert st.snapshot.resources["model.planner_model"].attributes["aliases"] == {"champion": "1"}
    (record,) = st.history()
    assert record["outcome"] == "succeeded" and record["plan_digest"].startswith("sha256:")
    assert converged(s)
    writes = st.writes
    apply(s)
    assert st.writes == writes, "a second apply wrote state"


def test_tampered_saved_plan_is_refused_and_nothing_runs(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    apply(s)
    plan, _ = make_plan(s)
    doc = json.loads(plan_json(plan))
    for rc in doc["resource_changes"]:
        if rc["type"] == "model_version":  # turn a no-op into a deletion, as an attacker would
            rc["change"]["actions"] = ["delete"]
            rc["change"]["after"] = None
            break
    saved = planfile.load(json.dumps(doc), "p.plan")
    reg.calls.clear()
    with pytest.raises(StalePlan, match="does not match"):
        apply(s, saved=saved)
    assert reg.calls == [] and db.calls == ["policy_version.planner_policy[1]"]
    assert len(reg.versions["planner_model"]) == 2


def test_signed_plan_verifies_and_an_edited_one_does_not(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    plan, _ = make_plan(s)
    text = plan_json(plan, signing_key="k3y")
    assert planfile.load(text, "p.plan", signing_key="k3y")
    doc = json.loads(text)
    doc["summary"]["delete"] = 1
    with pytest.raises(StalePlan, match="signature does not verify"):
        planfile.load(json.dumps(doc), "p.plan", signing_key="k3y")
    with pytest.raises(StalePlan, match="not signed"):
        planfile.load(plan_json(plan), "p.plan", signing_key="k3y")
    outcome = apply(s, saved=planfile.load(text, "p.plan", signing_key="k3y"))
    assert outcome.result.executed["create"] == 4


def test_saved_plan_stale_when_live_moved(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    apply(s)
    s = session(FILE.replace("{run_id: r2, stage: candidate}", "{run_id: r2, stage: archived}"), reg, db, st)
    saved = planfile.load(plan_json(make_plan(s)[0]), "p.plan")
    reg.versions["planner_model"][1]["tags"]["stage"] = "production"  # someone, by hand
    with pytest.raises(StalePlan, match="changed live"):
        apply(s, saved=saved)
    assert reg.versions["planner_model"][1]["tags"]["stage"] == "production"


def test_unavailable_backend_stops_apply_records_what_completed_and_rerun_converges(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    reg.fail["model_version.planner_model[run:r2/model]"] = unavailable()
    outcome = apply(s, parallelism=1)
    result = outcome.result
    assert result.stopped and "did not answer" in result.stopped
    failing = reg.calls.index("model_version.planner_model[run:r2/model]")
    assert reg.calls[failing + 1 :] == [], "a step started after the backend stopped answering"
    assert result.not_started, "everything after the failure was left for the rerun"
    assert "model.planner_model" in st.snapshot.resources  # completed before the failure: recorded
    assert st.history()[-1]["outcome"] == "failed"
    del reg.fail["model_version.planner_model[run:r2/model]"]
    apply(s)
    assert [v["run_id"] for v in reg.versions["planner_model"]] == ["r1", "r2"]  # nothing twice
    assert converged(s)


def test_a_failed_step_skips_its_dependents_only(world):
    reg, db, st = world
    log_run(reg, "r3")
    two_models = FILE.replace("policies:", "  ranker_model:\n    versions:\n      - {run_id: r3}\npolicies:")
    s = session(two_models, reg, db, st)
    reg.fail["model_version.planner_model[run:r1/model]"] = BackendError("MLflow refused: 400")
    result = apply(s).result
    assert "model_version.planner_model[run:r1/model]" in result.failed
    assert "model_version.ranker_model[run:r3/model]" in result.done  # independent: applied
    # registered after r1 (numbers follow the file), and the row points at r1: both wait
    assert "model_version.planner_model[run:r2/model]" not in result.done
    assert db.calls == []
    assert not result.stopped
    del reg.fail["model_version.planner_model[run:r1/model]"]
    apply(s)
    assert converged(s)
    assert [v["run_id"] for v in reg.versions["planner_model"]] == ["r1", "r2"]


def test_new_versions_of_one_model_are_registered_in_the_files_order(world):
    reg, db, st = world
    runs = [f"r{i}" for i in range(3, 11)]
    for r in runs:
        log_run(reg, r)
    listed = "".join(f"      - {{run_id: {r}}}\n" for r in runs)
    last = "      - {run_id: r2, stage: candidate}\n"
    s = session(FILE.replace(last, last + listed), reg, db, st)
    plan, _ = make_plan(s)
    created = [c for c in plan.changes if c.type == "model_version"]
    for before, after in itertools.pairwise(created):
        assert before.address in after.depends_on, (before.address, after.depends_on)
    apply(s, parallelism=8)
    assert [v["run_id"] for v in reg.versions["planner_model"]] == ["r1", "r2", *runs]
    assert [v["version"] for v in reg.versions["planner_model"]] == [str(i) for i in range(1, 11)]
    assert converged(s)


def test_lock_held_refuses_a_second_writer(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    with st.lock("apply"), pytest.raises(StateLocked):
        apply(s)
    assert reg.calls == []


def test_drift_reverted_not_promoted_and_out_of_band_promotion_still_gated(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    apply(s)
    reg.versions["planner_model"][0]["tags"]["stage"] = "production"  # by hand
    plan, _ = make_plan(s)
    (revert,) = [c for c in plan.actionable if c.address == "model_version.planner_model[run:r1/model]"]
    assert revert.reason is ActionReason.REVERT_DRIFT and not plan.about("promotions") and not plan.has_errors
    assert any(d.attribute == "stage" for d in plan.drift)
    # the file now asks for production: gates apply, judged from the stage last applied
    reg.runs["r1"] = reg.runs["r1"].__class__(
        **{
            **{f: getattr(reg.runs["r1"], f) for f in reg.runs["r1"].__slots__},
            "metrics": {"plan_alignment_score": 0.5},
        }
    )
    s = session(
        FILE.replace(
            "{run_id: r1, stage: candidate, tags: {owner: ana}}", "{run_id: r1, stage: production, tags: {owner: ana}}"
        ),
        reg,
        db,
        st,
    )
    plan, _ = make_plan(s)
    assert [(p.from_stage, p.to_stage) for p in plan.about("promotions")] == [("candidate", "production")]
    assert any("Promotion gate failed: plan_alignment_score" in d.summary for d in plan.diagnostics)
    with pytest.raises(PlanRefused):
        apply(s)


def test_policy_row_edited_by_hand_is_restored(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    apply(s)
    row = db.rows[(PID, 1)]
    db.rows[(PID, 1)] = row.__class__(
        row.id, row.policy_id, row.version, row.model_name, row.model_version, {"temperature": 0.9}
    )
    plan, _ = make_plan(s)
    (c,) = plan.actionable
    assert c.reason is ActionReason.REVERT_DRIFT and not plan.has_errors
    apply(s)
    assert db.rows[(PID, 1)].config_defaults == {"temperature": 0.7} and db.rows[(PID, 1)].id == row.id
    # an edit in the file is refused: immutability judges the file against what was applied
    s = session(FILE.replace("temperature: 0.7", "temperature: 0.8"), reg, db, st)
    plan, _ = make_plan(s)
    assert any("immutable" in d.summary for d in plan.diagnostics)


def test_adopt_records_live_without_writing(world):
    reg, db, st = world
    add_version(reg, "planner_model", "s3://m/1", stage="candidate")
    s = session("models:\n  planner_model:\n    versions: [{source: 's3://m/1', stage: candidate}]\n", reg, db, st)
    live, _ = read_live(s)
    result = adopt(s, live)
    assert reg.calls == [] and set(result.done) == {
        "model.planner_model",
        "model_version.planner_model[source:s3://m/1]",
    }
    assert converged(s)


def test_targets_limit_apply_and_take_dependencies(world):
    reg, db, st = world
    s = session(FILE, reg, db, st)
    apply(s, targets=["policy_version.planner_policy[1]"])
    # the row, the version it points at, and the model that version needs; not the other version
    assert "model_version.planner_model[run:r2/model]" not in st.snapshot.resources
    assert "policy_version.planner_policy[1]" in st.snapshot.resources
    apply(s)
    assert converged(s)
