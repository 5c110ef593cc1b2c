"""Build plans from plain data: desired YAML + live facts + recorded state (pyinfra-style)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from mlreg.planner.config.load import load_config
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.plan import build_plan
from mlreg.planner.recorded import StateSnapshot
from tests.unit.kinds import doubles


def live_from(data: dict | None) -> LiveSnapshot:
    """A case file's `live:` data as facts: each kind's double reads the keys it knows
    (tests/unit/kinds/)."""
    data = data or {}
    facts = {}
    for double in doubles().values():
        if double.facts is not None:
            facts.update(double.facts(data))
    return LiveSnapshot(facts)


def state_from(data: dict | None) -> StateSnapshot:
    if not data:
        return StateSnapshot(lineage="l", serial=1, resources={})
    return StateSnapshot.from_json({"lineage": "l", "serial": 1, "resources": data})


def plan_for(
    tmp_path: Path,
    desired: str,
    live: dict | None = None,
    state: dict | None = None,
    targets=(),
    env: dict | None = None,
):
    text = "version: 1\n" + textwrap.dedent(desired)
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    loaded, diags = load_config(path, env=env or {})
    assert not diags, [d.summary for d in diags]
    return build_plan(loaded, state_from(state), live_from(live), targets=targets)


def load_case(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
