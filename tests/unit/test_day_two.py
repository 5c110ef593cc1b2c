"""The pure parts of day two: rules resolution and where each rule comes from, required logging
only on the way into review, moves and the history that follows them, state carried between
backends, targets suggested within their kind."""

from __future__ import annotations

import pytest
import yaml

from mlreg.planner.audit import address_history
from mlreg.planner.config.load import parse_config
from mlreg.planner.config.sections.rules import NONE, SEED, Rules, given_rules, origins, resolve, rules_lines
from mlreg.planner.plan import targeting
from mlreg.planner.recorded import missing_past
from mlreg.planner.render.text import plan_text, progress_line
from mlreg.planner.workflow import apply, make_plan
from tests.unit.fakes import MemoryPolicies, MemoryRegistry, MemoryState, session
from tests.unit.kinds.model_version import log_run


def _rules(text: str) -> tuple[Rules, object]:
    loaded, diags = parse_config(("version: 1\n" + text).encode(), "registry.yaml", "/tmp", env={})
    assert not diags, [d.summary for d in diags]
    return loaded.config.rules, loaded


def test_seed_is_the_default_and_none_a_clean_slate():
    assert Rules().model_dump(mode="json") == {"defaults": "seed", **SEED}
    none = Rules.model_validate({"defaults": "none"}).model_dump(mode="json")
    assert none == {"defaults": "none", **NONE}
    assert none["stages"]["transitions"]["none"] == ["candidate", "production", "archived"]
    assert none["stages"]["max_production_per_model"] == 1 and none["promotion_gates"] == {}


@pytest.mark.parametrize(
    "given, key, expected",
    [
        # a map given is the whole map: what it leaves out requires nothing
        (
            {"required_run_logging": {"params": ["C"]}},
            "required_run_logging",
            {"params": ["C"], "metrics": [], "tags": [], "artifacts": []},
        ),
        ({"promotion_gates": {"production": {}}}, "promotion_gates", {"production": {}}),
        ({"stages": {"transitions": {"none": ["production"]}}}, "stages.transitions", {"none": ["production"]}),
        # a rule inside `stages` replaces only itself
        ({"stages": {"max_production_per_model": 2}}, "stages.transitions", SEED["stages"]["transitions"]),
        ({"defaults": "none", "model_name_pattern": "^x"}, "required_run_logging", NONE["required_run_logging"]),
    ],
)
def test_a_rule_given_replaces_its_default_whole(given, key, expected):
    assert Rules.model_validate(given).value_of(key) == expected


def test_resolution_and_given_keys_are_plain_functions():
    raw = {"defaults": "none", "stages": {"max_production_per_model": 3}}
    assert given_rules(raw) == ("defaults", "stages.max_production_per_model")
    resolved = resolve(raw)
    assert resolved["stages"] == {"transitions": NONE["stages"]["transitions"], "max_production_per_model": 3}
    assert resolved["promotion_gates"] == {} and raw == {"defaults": "none", "stages": {"max_production_per_model": 3}}


def test_origins_name_the_line_or_the_defaults():
    rules, loaded = _rules("rules:\n  unmanaged_versions: fail\n  required_run_logging:\n    params: [C]\n")
    said = origins(rules, loaded.where)
    assert said["unmanaged_versions"] == "registry.yaml:3"
    assert said["required_run_logging"] == "registry.yaml:4"
    assert said["promotion_gates"] == "default (seed)" and said["defaults"] == "default"
    lines = rules_lines(rules, said)
    assert any(line.startswith("  unmanaged_versions: fail") and line.endswith("# registry.yaml:3") for line in lines)


@pytest.mark.parametrize("defaults", ["seed", "none"])
def test_the_rules_written_out_load_back_the_same(defaults):
    rules = Rules.model_validate({"defaults": defaults, "production_alias": "production"})
    back = Rules.model_validate(yaml.safe_load("\n".join(rules_lines(rules)))["rules"])
    assert back.model_dump() == rules.model_dump()
    assert len(back.given) == 8  # `defaults` and every rule: all written out, each given by the file


def test_a_misspelt_defaults_is_an_error_with_a_suggestion():
    _, diags = parse_config(b"version: 1\nrules: {defaults: nothing}\n", "registry.yaml", "/tmp", env={})
    assert diags and "'seed', 'none'" in diags[0].summary and diags[0].line == 2


# --- moves and the history that follows them ---------------------------------------------------

PINNED_BY_RUN = "models:\n  planner_model:\n    versions:\n      - {run_id: r1, stage: candidate}\n"
PINNED_BY_NUMBER = "models:\n  planner_model:\n    versions:\n      - {version: 1, stage: production}\n"


def test_a_move_is_recorded_once_and_history_follows_the_version():
    reg, db, st = MemoryRegistry(), MemoryPolicies(), MemoryState()
    log_run(reg, "r1")
    events = []
    created = apply(session(PINNED_BY_RUN, reg, db, st), progress=events.append)
    done = [progress_line(e) for e in events if e.what == "done" and e.change.type == "model_version"]
    assert done[0].startswith("model_version.planner_model[run:r1/model] created: version 1 (after ")
    assert created.result.executed["create"] == 2
    s = session(PINNED_BY_NUMBER, reg, db, st)
    plan, _ = make_plan(s)
    (move,) = plan.moves
    assert (
        move.address == "model_version.planner_model[v1]"
        and move.moved_from == "model_version.planner_model[run:r1/model]"
    )
    assert (
        move.action.value == "update"
        and plan.summary.move == 1
        and plan.summary.forget == 0
        and plan.summary.adopt == 0
    )
    assert "(moved from model_version.planner_model[run:r1/model]" in plan_text(plan)
    writes = st.writes
    outcome = apply(s, progress=events.append)
    assert outcome.result.executed["update"] == 1 and st.writes == writes + 1  # one write holds both addresses
    assert set(st.snapshot.resources) == {"model.planner_model", "model_version.planner_model[v1]"}
    history = address_history(st.entries, list(st.records.values()), "model_version.planner_model[v1]")
    assert [e.action for e in history] == ["moved", "recorded"]
    assert history[0].moved_from == "model_version.planner_model[run:r1/model]"
    assert history[0].before["stage"] == "candidate" and history[0].after["stage"] == "production"
    of_model = address_history(st.entries, list(st.records.values()), "model.planner_model")
    versions = {"model_version.planner_model[run:r1/model]", "model_version.planner_model[v1]"}
    assert {e.address for e in of_model} == {"model.planner_model", *versions}
    assert make_plan(s)[0].has_changes is False


def test_history_does_not_take_another_version_of_the_same_model():
    reg, db, st = MemoryRegistry(), MemoryPolicies(), MemoryState()
    log_run(reg, "r1")
    log_run(reg, "r2")
    two = PINNED_BY_RUN + "      - {run_id: r2, stage: candidate}\n"
    apply(session(two, reg, db, st))
    history = address_history(st.entries, list(st.records.values()), "model_version.planner_model[run:r2/model]")
    assert {e.address for e in history} == {"model_version.planner_model[run:r2/model]"}


def test_state_push_takes_only_the_past_it_does_not_have():
    have = [{"lineage": "l", "serial": 1, "at": "t1"}]
    journal = [*have, {"lineage": "l", "serial": 2, "at": "t2"}]
    records = [{"id": "a", "outcome": "succeeded"}, {"id": "b", "outcome": "running"}]
    entries, applies = missing_past(have, [records[0]], journal, [records[0], {**records[1], "outcome": "failed"}])
    assert entries == [journal[1]] and applies == [{"id": "b", "outcome": "failed"}]


def test_a_target_typo_is_answered_within_its_kind_in_the_readmes_syntax():
    reg, db, st = MemoryRegistry(), MemoryPolicies(), MemoryState()
    log_run(reg, "r1")
    s = session(PINNED_BY_RUN, reg, db, st)
    apply(s)
    plan, _ = make_plan(s)
    (error, _warning) = targeting(plan.changes, ["model_version.planner_model[v1]"])
    assert "did you mean 'model_version.planner_model[run:r1/model]'" in error.summary
    assert "policy_version.POLICY[VERSION]" in error.detail and "@v" not in error.detail
    (error, _warning) = targeting(plan.changes, ["model_version.planer_model[run:r1/model]"])
    assert "did you mean 'model_version.planner_model[run:r1/model]'" in error.summary


@pytest.mark.parametrize(
    "said, reason",
    [
        (
            'connection to server at "h", port 5432 failed: FATAL:  password authentication failed for user "bob"',
            'password authentication failed for user "bob"',
        ),
        (
            'connection to server at "h", port 5432 failed: FATAL:  role "nobody" does not exist',
            'role "nobody" does not exist',
        ),
        ('connection to server at "h", port 5432 failed: Connection refused\n\tIs the server running', None),
        ("canceling statement due to statement timeout", None),
    ],
)
def test_a_refused_postgres_login_is_told_from_a_database_that_does_not_answer(said, reason):
    from mlreg.providers.postgres.login import login_message, refused_login

    assert refused_login(Exception(said)) == reason
    if reason:
        line = login_message(reason, "database postgresql://bob:***@h/db", "postgresql://bob:s3cret@h/db", {})
        assert line.startswith(reason) and "the URL's password is set" in line and "s3cret" not in line


def test_a_refused_mlflow_login_names_the_variables_set_never_their_values():
    from mlreg.providers.mlflow.rest import Credentials

    both = Credentials.from_env({"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": "s3cret"})
    assert both.refused(401) == "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD are set; the server refused them"
    assert "not sent" in both.without_secrets().refused(401)
    assert Credentials.from_env({"MLFLOW_TRACKING_TOKEN": "t"}).refused(401).endswith("is set; the server refused it")
    assert "none of" in Credentials.from_env({}).refused(401)
