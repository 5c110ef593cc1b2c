"""The engine alone: config load + diff + plan of N synthetic versions, in-process, no I/O.

`python bench/engine.py 100000` prints `seconds peak_rss_mb` (peak RSS of the whole process,
inputs included). The live snapshot and state are built to match the file, so the plan is empty,
which is the nightly case (every version compared, nothing to do).

`python bench/engine.py 100000 --floor` prints the engine's floor instead: the fastest load of the
same file into plain Python data (rapidyaml to JSON, read by json's C decoder) plus one equality
comparison per version against the live snapshot. Seconds do not hold across machines; the
ratio engine/floor does.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import populate as pop
from mlreg.planner.config.load import load_config
from mlreg.planner.kinds.mlflow_facts import LiveModel, LiveVersion, RegistryFacts
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.perf import own_process
from mlreg.planner.plan import build_plan
from mlreg.planner.recorded import ResourceState, StateSnapshot


def model_address(name: str) -> str:
    return f"model.{name}"


def version_address(name: str, key: str) -> str:
    return f"model_version.{name}[{key}]"


def synthetic(models: int, versions: int) -> tuple[LiveSnapshot, StateSnapshot]:
    live_models, live_versions, resources = {}, {}, {}
    for i in range(models):
        name = pop.model_name(i)
        al = {a: str(v) for a, v in pop.aliases(i, versions).items()}
        live_models[name] = LiveModel(name=name, description=f"benchmark model {i}", tags=pop.model_tags(i), aliases=al)
        resources[model_address(name)] = ResourceState(
            "model", {"name": name}, {"description": f"benchmark model {i}", "tags": pop.model_tags(i), "aliases": al}
        )
        vs = []
        for j in range(1, versions + 1):
            tags = pop.version_tags(i, j, versions)
            vs.append(
                LiveVersion(
                    name=name,
                    version=str(j),
                    source=f"s3://bench/{name}/{j}",
                    run_id=None,
                    description=f"v{j}",
                    tags=tags,
                )
            )
            managed = {k: v for k, v in sorted(tags.items()) if k != "stage"}
            resources[version_address(name, f"v{j}")] = ResourceState(
                "model_version",
                {"name": name, "version": str(j), "key": f"v{j}"},
                {"version": str(j), "stage": tags["stage"], "description": f"v{j}", "tags": managed},
            )
        live_versions[name] = vs
    live = LiveSnapshot({RegistryFacts: RegistryFacts(models=live_models, versions=live_versions)})
    return live, StateSnapshot(lineage="bench", serial=1, resources=resources)


def floor(path: Path, live: LiveSnapshot) -> tuple[float, int]:
    import json

    import ryml

    t0 = time.perf_counter()
    data = json.loads(ryml.emit_json(ryml.parse_in_arena(path.read_bytes())))
    facts = live[RegistryFacts]
    same = 0
    for name, m in data["models"].items():
        live_versions = facts.versions[name]
        for v, lv in zip(m["versions"], live_versions):
            same += v["description"] == lv.description
    return time.perf_counter() - t0, same


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    versions = 10
    models = total // versions
    path = Path(tempfile.mkdtemp()) / "registry.yaml"
    path.write_text(pop.registry_yaml(models, versions, policies=0))
    live, state = synthetic(models, versions)
    if "--floor" in sys.argv:
        seconds, same = floor(path, live)
        assert same == models * versions, same
        print(f"{seconds:.2f}")
        return
    own_process()  # as the CLI runs the engine: a short-lived process that owns its heap
    t0 = time.perf_counter()
    loaded, diags = load_config(
        path, env={"MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLREG_DATABASE_URL": "sqlite:///bench.db"}
    )
    assert not diags, diags[:3]
    t1 = time.perf_counter()
    plan = build_plan(loaded, state, live)
    t2 = time.perf_counter()
    assert not plan.has_changes and not plan.has_errors, (plan.summary, plan.diagnostics[:3])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{t2 - t0:.2f} {rss:.0f} load={t1 - t0:.2f} plan={t2 - t1:.2f} versions={models * versions}")


if __name__ == "__main__":
    main()
