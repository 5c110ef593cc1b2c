"""`model`: its write (shared with prompts, which MLflow keeps as registered models) and sample.
Its facts are the registry's, built and read with its versions' (model_version.py)."""

from __future__ import annotations

from mlreg.planner.changes import Action
from mlreg.planner.kinds.base import ALIASES
from tests.unit.kinds import KindDouble


def sync(target: dict, before: dict | None, after: dict | None) -> None:
    """A tag map brought from `before` to `after` (keys taken out of the file are deleted)."""
    for k in (before or {}).keys() - (after or {}).keys():
        target.pop(k, None)
    target.update(after or {})


def write_registered(store: dict, versions: dict, request) -> dict:
    """A registered model (or a prompt): its description and tags, or its aliases phase."""
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        store.pop(name, None)
        versions.pop(name, None)
        return {"name": name}
    m = store.setdefault(name, {"description": "", "tags": {}, "aliases": {}})
    if request.phase is ALIASES:
        sync(m["aliases"], (change.before or {}).get("aliases"), after.get("aliases"))
    else:
        if "description" in after:
            m["description"] = after["description"]
        sync(m["tags"], (change.before or {}).get("tags"), after.get("tags"))
    return {"name": name}


DOUBLE = KindDouble(
    type="model",
    provider="mlreg/mlflow",
    sample="models:\n  a_model:\n    description: d\n    tags: {team: x}\n",
    write=lambda world, request: write_registered(world.models, world.versions, request),
    names=lambda world: sorted(world.models),
)
