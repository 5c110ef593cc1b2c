"""`prompt_version`: its write (a new version per template) and sample; its facts are read with
its prompt's (prompt.py)."""

from __future__ import annotations

from mlreg.planner.changes import Action
from tests.unit.kinds import KindDouble
from tests.unit.kinds.model import sync
from tests.unit.kinds.model_version import next_number, versions_of


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    vs = versions_of(world.prompt_versions, change)
    if vs is None:
        return dict(change.identity)
    if change.action is Action.CREATE:
        number = next_number(vs)
        vs.append(
            {
                "version": number,
                "template": after["template"],
                "tags": dict(after.get("tags", {})),
                "description": after.get("commit_message") or "",
            }
        )
        return {"name": name, "version": number, "key": change.identity["key"]}
    v = next(v for v in vs if v["version"] == change.identity["version"])
    sync(v["tags"], (change.before or {}).get("tags"), after.get("tags"))
    if "commit_message" in after:
        v["description"] = after["commit_message"]
    return dict(change.identity)


DOUBLE = KindDouble(
    type="prompt_version",
    provider="mlreg/mlflow",
    sample="prompts:\n  a_prompt:\n    versions:\n      - {template: 'Hi {{name}}', aliases: [prod], tags: {a: b}}\n",
    write=write,
)
