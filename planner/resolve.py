"""Find the live objects behind declared matchers, and say what must be read to do so.

A declared version is identified by one matcher, never by a number MLflow has yet to assign;
these functions are the single definition of "this live version is that declared one", used by
plan (to adopt instead of registering twice) and by apply (to re-check right before creating).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.config import Config, VersionRef
from planner.model import LiveRun, LiveVersion, ReadRequest, RegistrySnapshot, address_model
from planner.statedata import StateSnapshot


def read_request(cfg: Config, state: StateSnapshot) -> ReadRequest:
    """Everything a plan of `cfg` against `state` needs to see live."""
    names = set(cfg.models)
    names.update(m for m in (address_model(a) for a in state.resources) if m)
    run_ids, run_names = set(), set()
    for model in cfg.models.values():
        for v in model.versions:
            if v.run_id:
                run_ids.add(v.run_id)
            elif v.run:
                run_names.add((v.run.experiment, v.run.name))
    doomed = {m for m in (address_model(a) for a in cfg.destroyed()) if m}
    names |= doomed
    return ReadRequest(
        referenced_models=frozenset(doomed),
        model_names=frozenset(names),
        run_ids=frozenset(run_ids),
        run_names=frozenset(run_names),
        policy_ids=frozenset({str(p.id) for p in cfg.policies.values()}
                             | {str(r.identity["policy_id"]) for r in state.resources.values()
                                if "policy_id" in r.identity}),
    )


def logged_model_id(version: LiveVersion) -> str | None:
    """The MLflow 3 logged model behind a `models:/m-…` version (stores do not all fill model_id)."""
    if version.model_id:
        return version.model_id
    rest = version.source[len("models:/"):] if version.source.startswith("models:/") else ""
    return rest if rest.startswith("m-") and "/" not in rest else None


def artifact_path_of(version: LiveVersion, logged_model_names: dict[str, str]) -> str | None:
    """The run-relative artifact path a run-registered version came from, if it can be told."""
    src = version.source or ""
    if src.startswith("runs:/"):
        rest = src[len("runs:/"):]
        return rest.split("/", 1)[1].strip("/") if "/" in rest else ""
    if src.startswith("models:/"):
        # MLflow 3 logged model: registered from runs:/RUN/NAME, where NAME is the model's name
        return logged_model_names.get(logged_model_id(version) or "")
    marker = f"/{version.run_id}/artifacts/"
    if version.run_id and marker in src:
        return src.split(marker, 1)[1].strip("/")
    return None


@dataclass(frozen=True)
class RunResolution:
    run: LiveRun | None
    error: str | None = None


def resolve_run(ref: VersionRef, snap: RegistrySnapshot) -> RunResolution:
    """The source run a matcher names (run_id or run: {experiment, name}); none for version/source."""
    if ref.run_id:
        run = snap.runs.get(ref.run_id)
        if run is None:
            return RunResolution(None, f"Run {ref.run_id} was not found in MLflow")
        return RunResolution(run)
    if ref.run:
        exp, name = ref.run.experiment, ref.run.name
        if exp in snap.missing_experiments:
            return RunResolution(None, f"Experiment {exp!r} does not exist")
        found = snap.runs_by_name.get((exp, name), [])
        if len(found) == 1:
            return RunResolution(found[0])
        if not found:
            return RunResolution(None, f"No run named {name!r} in experiment {exp!r}")
        ids = ", ".join(r.run_id for r in found)
        return RunResolution(None, f"{len(found)} runs named {name!r} in experiment {exp!r}: {ids}; "
                                   "use run_id to pick one")
    return RunResolution(None)


class VersionIndex:
    """One model's live versions indexed by what each kind of matcher looks at (built once)."""

    def __init__(self, versions: list[LiveVersion], logged_model_names: dict[str, str]):
        self.by_number: dict[str, list[LiveVersion]] = {}
        self.by_source: dict[str, list[LiveVersion]] = {}
        self.by_run: dict[tuple[str, str | None], list[LiveVersion]] = {}
        for v in versions:
            self.by_number.setdefault(v.version, []).append(v)
            self.by_source.setdefault(v.source, []).append(v)
            if v.run_id:
                self.by_run.setdefault((v.run_id, artifact_path_of(v, logged_model_names)), []).append(v)

    def match(self, ref: VersionRef, run: LiveRun | None) -> list[LiveVersion]:
        """Live versions the matcher identifies (normally 0 or 1)."""
        if ref.version is not None:
            return self.by_number.get(str(ref.version), [])
        if ref.source is not None:
            return self.by_source.get(ref.source, [])
        if run is None:
            return []
        return self.by_run.get((run.run_id, ref.artifact_path.strip("/")), [])


def match_versions(ref: VersionRef, run: LiveRun | None, versions: list[LiveVersion],
                   logged_model_names: dict[str, str]) -> list[LiveVersion]:
    return VersionIndex(versions, logged_model_names).match(ref, run)
