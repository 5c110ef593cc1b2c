"""`model_version`: the registry's in-memory world (models, versions, runs), its reads, a case
file's registry facts, its write and sample; `log_run` / `add_version` set the world up."""

from __future__ import annotations

from mlreg.planner.changes import Action
from mlreg.planner.kinds.mlflow_facts import LiveModel, LiveRun, LiveVersion, RegistryFacts, RegistryRequest
from tests.unit.kinds import KindDouble
from tests.unit.kinds.model import sync

# What a run logs unless a test says otherwise: enough for the seed rules' required logging.
RUN_DEFAULTS = {
    "params": {
        p: "1" for p in ("learning_rate", "batch_size", "epochs", "dataset_version", "model_base", "fine_tuning_method")
    },
    "metrics": {"train_loss": 0.4, "val_loss": 0.5, "plan_alignment_score": 0.9, "constraint_respect_score": 1.0},
    "tags": {"policy_id": "p", "task": "planner", "dataset_version": "d"},
}


def store(world) -> None:
    world.models, world.versions, world.runs = {}, {}, {}


def log_run(world, run_id: str, experiment: str = "exp", name: str | None = None, **metrics) -> str:
    """A run with the default logging (engine_support.RUN_DEFAULTS) and these metrics."""
    world.runs[run_id] = LiveRun(
        run_id,
        "1",
        experiment,
        name or run_id,
        dict(RUN_DEFAULTS["params"]),
        {**RUN_DEFAULTS["metrics"], **metrics},
        dict(RUN_DEFAULTS["tags"]),
        artifacts=("model",),
        logged_models=(),
    )
    return run_id


def add_version(world, name: str, source: str, run_id: str | None = None, **tags) -> str:
    """A version registered by hand (a pipeline), with these tags."""
    world.models.setdefault(name, {"description": "", "tags": {}, "aliases": {}})
    vs = world.versions.setdefault(name, [])
    number = str(len(vs) + 1)
    vs.append({"version": number, "source": source, "run_id": run_id, "description": "", "tags": dict(tags)})
    return number


def next_number(items: list[dict]) -> str:
    return str(max((int(v["version"]) for v in items), default=0) + 1)


def versions_of(store: dict, change) -> list[dict] | None:
    """The parent's version list that a change of a version writes; None when the change deleted
    its version (done here)."""
    name = change.identity["name"]
    vs = store.setdefault(name, [])
    if change.action is Action.DELETE:
        store[name] = [v for v in vs if v["version"] != change.identity["version"]]
        return None
    return vs


def read(world, r: RegistryRequest) -> RegistryFacts:
    models = {
        n: LiveModel(n, m["description"], dict(m["tags"]), dict(m["aliases"]))
        for n, m in world.models.items()
        if n in r.model_names
    }
    versions = {
        n: [LiveVersion(n, v["version"], v["source"], v["run_id"], v["description"], dict(v["tags"])) for v in vs]
        for n, vs in world.versions.items()
        if n in r.model_names
    }
    by_name: dict = {}
    for run in world.runs.values():
        by_name.setdefault((run.experiment_name, run.run_name), []).append(run)
    return RegistryFacts(
        models=models,
        versions=versions,
        runs=dict(world.runs),
        runs_by_name={k: v for k, v in by_name.items() if k in r.run_names},
        prompt_names=frozenset(n for n in getattr(world, "prompts", {}) if n in r.model_names),
    )


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    vs = versions_of(world.versions, change)
    if vs is None:
        return dict(change.identity)
    tags = dict(after.get("tags", {}))
    if after.get("stage") is not None:
        tags["stage"] = after["stage"]
    if change.action is Action.CREATE:
        matcher = change.identity["matcher"]
        number = next_number(vs)
        source = matcher.get("source", f"runs:/{change.identity.get('run_id')}/model")
        tags["mlreg.apply_id"] = request.apply_id
        vs.append(
            {
                "version": number,
                "source": source,
                "run_id": change.identity.get("run_id"),
                "description": after.get("description", ""),
                "tags": tags,
            }
        )
        return {"name": name, "version": number, "key": change.identity["key"]}
    v = next(v for v in vs if v["version"] == change.identity["version"])
    before = dict((change.before or {}).get("tags", {}))
    if (change.before or {}).get("stage") is not None:
        before["stage"] = change.before["stage"]
    sync(v["tags"], before, tags)
    if "description" in after:
        v["description"] = after["description"]
    return dict(change.identity)


def facts(data: dict) -> dict:
    """runs: [{run_id, experiment, name, params, metrics, tags, artifacts, drop}]; models: {name:
    {description, tags, aliases}}; versions: {model: [{version, source, run_id, description,
    tags, model_id}]}; logged_models; prompt_names."""
    runs, by_name = {}, {}
    for r in data.get("runs", []):
        run = LiveRun(
            run_id=r["run_id"],
            experiment_id="1",
            experiment_name=r.get("experiment", "exp"),
            run_name=r.get("name", r["run_id"]),
            params={**RUN_DEFAULTS["params"], **r.get("params", {})},
            metrics={**RUN_DEFAULTS["metrics"], **r.get("metrics", {})},
            tags={**RUN_DEFAULTS["tags"], **r.get("tags", {})},
            artifacts=tuple(r.get("artifacts", ["model"])),
            logged_models=(),
        )
        for k in r.get("drop", []):
            for d in (run.params, run.metrics, run.tags):
                d.pop(k, None)
        runs[run.run_id] = run
        by_name.setdefault((run.experiment_name, run.run_name), []).append(run)
    models = {
        n: LiveModel(
            name=n,
            description=m.get("description", ""),
            tags=m.get("tags", {}),
            aliases={a: str(v) for a, v in m.get("aliases", {}).items()},
        )
        for n, m in data.get("models", {}).items()
    }
    versions = {
        n: [
            LiveVersion(
                name=n,
                version=str(v["version"]),
                source=v.get("source", ""),
                run_id=v.get("run_id"),
                description=v.get("description", ""),
                tags=v.get("tags", {}),
                model_id=v.get("model_id"),
            )
            for v in vs
        ]
        for n, vs in data.get("versions", {}).items()
    }
    registry = RegistryFacts(
        models=models,
        versions=versions,
        runs=runs,
        runs_by_name=by_name,
        logged_model_names=data.get("logged_models", {}),
        prompt_names=frozenset(data.get("prompt_names", [])),
    )
    return {RegistryFacts: registry}


DOUBLE = KindDouble(
    type="model_version",
    provider="mlreg/mlflow",
    sample="models:\n  a_model:\n    versions:\n      - {run_id: r1, stage: candidate, tags: {k: v}}\n",
    setup={"runs": ["r1"]},
    store=store,
    write=write,
    reads={RegistryRequest: read},
    facts=facts,
)
