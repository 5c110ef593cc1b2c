"""Every kind of the catalog is a whole plug-in: it has a config section, a reader and a writer
in its provider, engine cases, an in-memory fake, and it round-trips on the fakes (plan, apply,
plan again: nothing to do). A new kind that misses one of these fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlreg.planner.config.schema import Config
from mlreg.planner.kinds.catalog import KINDS, diff_order
from mlreg.planner.workflow import apply, make_plan
from mlreg.providers.mlflow import DISPATCH as MLFLOW
from mlreg.providers.postgres import DISPATCH as POSTGRES
from tests.unit import fakes

DISPATCHES = {MLFLOW.provider: MLFLOW, POSTGRES.provider: POSTGRES}
CASES = Path(__file__).parent / "cases"
PID = "2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11"

# The smallest file that plans at least one change of each kind, and what live must hold first.
SAMPLES: dict[str, tuple[str, dict]] = {
    "model": ("models:\n  a_model:\n    description: d\n    tags: {team: x}\n", {}),
    "model_version": (
        "models:\n  a_model:\n    versions:\n      - {run_id: r1, stage: candidate, tags: {k: v}}\n",
        {"runs": ["r1"]},
    ),
    "policy_version": (
        "models:\n  a_model:\n    versions: [{run_id: r1}]\n"
        f"policies:\n  p:\n    id: {PID}\n    versions:\n"
        "      1: {model: a_model, model_version: {run_id: r1}, config_defaults: {t: 1}}\n",
        {"runs": ["r1"]},
    ),
    "prompt": ("prompts:\n  a_prompt:\n    tags: {team: x}\n", {}),
    "prompt_version": (
        "prompts:\n  a_prompt:\n    versions:\n      - {template: 'Hi {{name}}', aliases: [prod], tags: {a: b}}\n",
        {},
    ),
    "webhook": (
        "webhooks:\n  hook:\n    url: https://h.example/x\n    events: [model_version.created]\n"
        "    secret: ${HOOK_SECRET}\n",
        {"env": {"HOOK_SECRET": "s3cret-value"}},
    ),
    "workspace": ("workspaces:\n  team-a: {description: the team}\n", {}),
    "user": (
        "access:\n  users:\n    ana: {password: '${ANA_PASSWORD}', admin: true}\n",
        {"env": {"ANA_PASSWORD": "pw-ana-1-long-enough"}},
    ),
    "role": ("access:\n  roles:\n    writers: {description: who writes}\n", {}),
    "role_permission": (
        "models:\n  a_model: {}\n  b_model: {}\naccess:\n  roles:\n    writers:\n      permissions:\n"
        "        - {resource_type: registered_model, resource_pattern: 'a_*', permission: EDIT}\n"
        "        - {resource_type: workspace, resource_pattern: '*', permission: USE}\n",
        {},
    ),
    "role_member": (
        "access:\n  users:\n    ana: {password: '${ANA_PASSWORD}'}\n  roles:\n    writers: {members: [ana, ci]}\n",
        {"env": {"ANA_PASSWORD": "pw-ana-1-long-enough"}},
    ),
}


def _case_kind(path: Path) -> str | None:
    """The kind a case file is about: the longest kind type its name starts with."""
    found = [t for t in KINDS if path.stem.startswith(t + "_")]
    return max(found, key=len) if found else None


@pytest.mark.parametrize("type_", list(KINDS))
def test_kind_is_a_whole_plug_in(type_):
    kind = KINDS[type_]
    assert kind.section is not None, f"{type_} has no config section"
    assert kind.section in Config.model_fields, f"{type_}'s section is not in the config"
    dispatch = DISPATCHES[kind.provider]
    assert type_ in dispatch.kinds(), f"{kind.provider} has no writer for {type_}"
    text, setup = SAMPLES[type_]
    s = fakes.session(text, fakes.MemoryMlflow(), fakes.MemoryPolicies(), fakes.MemoryState(), env=setup.get("env"))
    requests = [*kind.declared_requests(s.loaded.config)]
    assert requests, f"{type_} reads nothing for a file that declares it"
    for r in requests:
        assert dispatch.reader(type(r)), f"{kind.provider} cannot read {type(r).__name__}"
    assert any(_case_kind(p) == type_ for p in CASES.glob("*.yaml")), f"no engine case file {type_}_*.yaml"
    assert type_ in fakes.WRITERS or type_ in fakes.MemoryPolicies().kinds(), f"no in-memory fake for {type_}"


@pytest.mark.parametrize("type_", list(KINDS))
def test_kind_round_trips_on_the_fakes(type_):
    text, setup = SAMPLES[type_]
    registry, policies, state = fakes.MemoryMlflow(), fakes.MemoryPolicies(), fakes.MemoryState()
    for run in setup.get("runs", ()):
        registry.log_run(run)
    s = fakes.session(text, registry, policies, state, env=setup.get("env"))
    plan, _ = make_plan(s)
    assert not plan.has_errors, [d.summary for d in plan.diagnostics]
    assert any(c.type == type_ for c in plan.actionable), f"the sample plans no {type_} change"
    outcome = apply(s)
    assert not outcome.result.failed, outcome.result.failed
    again, _ = make_plan(s)
    assert not again.has_changes and not again.pending, [(c.address, c.action) for c in again.pending]
    assert all(c.type in KINDS for c in again.changes)
    assert type_ in {rs.type for rs in state.snapshot.resources.values()}


def test_every_kind_has_a_sample_and_the_diff_order_covers_the_catalog():
    assert set(SAMPLES) == set(KINDS)
    assert {k.type for k in diff_order()} == set(KINDS)
