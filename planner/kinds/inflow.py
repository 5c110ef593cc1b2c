"""Versions that appear on a managed model without being declared: a training pipeline
registering them is the normal inflow (the MLflow guide, section 4.1), not drift. `plan` and
`drift` list each as a note that says how to take it in; `drift --detailed-exitcode` counts them
only under `rules: {unmanaged_versions: fail}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mlreg.planner.changes import Action, DriftItem
from mlreg.planner.config.defaults import DEFAULT_ARTIFACT_PATH
from mlreg.planner.kinds.base import Diff
from mlreg.planner.kinds.lifecycle import MODEL, TYPE
from mlreg.planner.kinds.mlflow_facts import LiveVersion, RegistryFacts, artifact_path_of
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import StateSnapshot

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config


def drift_notes(state: StateSnapshot, live: LiveSnapshot, cfg: Config | None = None) -> list[DriftItem]:
    """Live versions of the models state manages that state does not record."""
    managed: dict[str, set[str]] = {}
    models = set()
    for rs in state.resources.values():
        if rs.type == TYPE:
            managed.setdefault(rs.identity.get("name"), set()).add(str(rs.identity.get("version")))
        elif rs.type == MODEL:
            models.add(rs.identity.get("name"))
    counts = cfg is not None and cfg.rules.unmanaged_versions == "fail"
    return _unmanaged(live[RegistryFacts], sorted(models), managed, counts)


def plan_notes(diff: Diff, live: LiveSnapshot) -> list[DriftItem]:
    """Live versions of the file's models that no declared version (and no version kept in
    state) names."""
    managed: dict[str, set[str]] = {}
    forget = Action.FORGET
    for c in diff.of_type(TYPE):
        version = c.identity.get("version")
        if version is not None and c.action is not forget:
            name = c.identity.get("name")
            found = managed.get(name)
            if found is None:
                managed[name] = found = set()
            found.add(str(version))
    counts = diff.cfg.rules.unmanaged_versions == "fail"
    return _unmanaged(live[RegistryFacts], list(diff.cfg.models), managed, counts)


def _unmanaged(facts: RegistryFacts, models: Iterable[str], managed: dict[str, set[str]], counts: bool):
    out = []
    for name in models:
        mine = managed.get(name, set())
        for v in facts.versions.get(name, ()):
            if v.version not in mine:
                note = note_of(name, v, facts)
                out.append(
                    DriftItem(
                        f"{MODEL}.{name}",
                        MODEL,
                        None,
                        live=v.version,
                        last_updated=v.created,
                        user=v.user_id,
                        note=note,
                        counts=counts,
                    )
                )
    return out


def note_of(model: str, v: LiveVersion, facts: RegistryFacts) -> str:
    """What appeared, and the entry that takes it in."""
    if v.run_id:
        path = artifact_path_of(v, facts.logged_model_names)
        extra = f", artifact_path: {path}" if path not in (None, DEFAULT_ARTIFACT_PATH) else ""
        by = f"by its run (`- {{run_id: {v.run_id}{extra}}}`)"
    else:
        by = f"by its source (`- {{source: {v.source}}}`)"
    return (
        f"unmanaged version {v.version} appeared (source {v.source}); to manage it, declare it under "
        f"models.{model}.versions {by} or by number (`- {{version: {v.version}}}`)"
    )
