"""Every kind of the catalog is a whole plug-in: it has a config section, a reader and a writer
in its provider, engine cases, its test doubles (tests/unit/kinds/: an in-memory write and a
sample), and it round-trips on the fakes (plan, apply, plan again: nothing to do). A new kind that
misses one of these fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlreg.planner.config.schema import Config
from mlreg.planner.kinds.catalog import KINDS, diff_order
from mlreg.planner.workflow import apply, make_plan
from mlreg.providers.mlflow import DISPATCH as MLFLOW
from mlreg.providers.postgres import DISPATCH as POSTGRES
from tests.unit import fakes
from tests.unit.kinds import doubles
from tests.unit.kinds.model_version import log_run

DISPATCHES = {MLFLOW.provider: MLFLOW, POSTGRES.provider: POSTGRES}
CASES = Path(__file__).parent / "cases"


def _case_kind(path: Path) -> str | None:
    """The kind a case file is about: the longest kind type its name starts with."""
    found = [t for t in KINDS if path.stem.startswith(t + "_")]
    return max(found, key=len) if found else None


@pytest.mark.parametrize("type_", list(KINDS))
def test_kind_is_a_whole_plug_in(type_):
    kind = KINDS[type_]
    assert kind.section is not None, f"{type_} has no config section"
    fields = Config.model_fields
    *parents, leaf = kind.section.split(".")  # `gateway.guardrails`: nested under one top-level key
    for parent in parents:
        fields = fields[parent].annotation.model_fields if parent in fields else {}
    assert leaf in fields, f"{type_}'s section is not in the config"
    dispatch = DISPATCHES[kind.provider]
    assert type_ in dispatch.kinds(), f"{kind.provider} has no writer for {type_}"
    double = doubles()[type_]
    s = fakes.session(
        double.sample, fakes.MemoryMlflow(), fakes.MemoryPolicies(), fakes.MemoryState(), env=double.setup.get("env")
    )
    requests = [*kind.declared_requests(s.loaded.config)]
    assert requests, f"{type_} reads nothing for a file that declares it"
    for r in requests:
        assert dispatch.reader(type(r)), f"{kind.provider} cannot read {type(r).__name__}"
    assert any(_case_kind(p) == type_ for p in CASES.glob("*.yaml")), f"no engine case file {type_}_*.yaml"
    assert double.provider == kind.provider and double.write is not None, f"no in-memory write for {type_}"


@pytest.mark.parametrize("type_", list(KINDS))
def test_kind_round_trips_on_the_fakes(type_):
    double = doubles()[type_]
    registry, policies, state = fakes.MemoryMlflow(), fakes.MemoryPolicies(), fakes.MemoryState()
    for run in double.setup.get("runs", ()):
        log_run(registry, run)
    s = fakes.session(double.sample, registry, policies, state, env=double.setup.get("env"))
    plan, _ = make_plan(s)
    assert not plan.has_errors, [d.summary for d in plan.diagnostics]
    assert any(c.type == type_ for c in plan.actionable), f"the sample plans no {type_} change"
    outcome = apply(s)
    assert not outcome.result.failed, outcome.result.failed
    again, _ = make_plan(s)
    assert not again.has_changes and not again.pending, [(c.address, c.action) for c in again.pending]
    assert all(c.type in KINDS for c in again.changes)
    assert type_ in {rs.type for rs in state.snapshot.resources.values()}


def test_every_kind_has_its_doubles_and_the_diff_order_covers_the_catalog():
    assert set(doubles()) == set(KINDS)
    assert {k.type for k in diff_order()} == set(KINDS)
