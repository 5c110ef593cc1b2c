"""What the MLflow Model Registry is made of, as the engine sees it: models, versions and the runs
behind them (facts), the request that reads them, MLflow's own tag names, and the one definition
of "this live version is that declared one".

Matching is used by plan (to adopt instead of registering twice) and by apply (to find what an
ambiguous create left behind). Prompts, which MLflow keeps as registered models too, are never
among these facts (see kinds/prompt.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlreg.planner.live import Request

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.sections.models import VersionRef

PROVIDER = "mlreg/mlflow"
# The tag a create carries so that an answer lost on the way can be found again (see apply).
APPLY_TOKEN_TAG = "mlreg.apply_id"
# MLflow 3 keeps a prompt as a registered model with this tag, each version's template in TEXT_TAG.
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_TEXT_TAG = "mlflow.prompt.text"
PROMPT_TYPE_TAG = "_mlflow_prompt_type"


MLFLOW_TAG_PREFIXES = ("mlflow.", "_mlflow_")  # MLflow's own tags: never imported or managed


def user_set_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags a file may declare: without MLflow's own (`mlflow.*`, `_mlflow_*`), mlreg's own
    (`mlreg.*`) and the stage tag (managed through `stage:`), sorted (what `mlreg import` writes)."""
    from mlreg.planner.stages import STAGE_TAG

    return {
        k: v
        for k, v in sorted(tags.items())
        if k not in (STAGE_TAG, APPLY_TOKEN_TAG) and not k.startswith((*MLFLOW_TAG_PREFIXES, "mlreg."))
    }


def is_prompt(tags: dict[str, str]) -> bool:
    return tags.get(IS_PROMPT_TAG, "").lower() == "true"


@dataclass(frozen=True, slots=True)
class LiveModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version number
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveVersion:
    name: str
    version: str
    source: str
    run_id: str | None
    description: str
    tags: dict[str, str]
    model_id: str | None = None
    user_id: str | None = None
    created: int | None = None
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveRun:
    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    user_id: str | None = None
    # Artifact paths at the run's root and names of MLflow 3 logged models from this run; None
    # when not read (a request per run, so only runs that rules must check get them).
    artifacts: tuple[str, ...] | None = None
    logged_models: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RegistryFacts:
    models: dict[str, LiveModel] = field(default_factory=dict)
    versions: dict[str, list[LiveVersion]] = field(default_factory=dict)  # model -> versions
    runs: dict[str, LiveRun] = field(default_factory=dict)  # run_id -> run
    # (experiment, run name) -> matching runs; experiments that do not exist are absent
    runs_by_name: dict[tuple[str, str], list[LiveRun]] = field(default_factory=dict)
    missing_experiments: frozenset[str] = frozenset()
    logged_model_names: dict[str, str] = field(default_factory=dict)  # logged model id -> name
    # names that are prompts, not models (MLflow keeps both as registered models)
    prompt_names: frozenset[str] = frozenset()
    note: str = ""  # e.g. "sqlite:///mlflow.db does not exist yet"


@dataclass(frozen=True)
class RegistryRequest(Request):
    provider = PROVIDER
    facts = RegistryFacts

    model_names: frozenset[str] = frozenset()
    run_ids: frozenset[str] = frozenset()
    run_names: frozenset[tuple[str, str]] = frozenset()  # (experiment, run name)
    inspect_runs: frozenset[str] = frozenset()  # run ids whose artifacts and logged models to list
    runs_of_models: frozenset[str] = frozenset()  # read the runs behind these models' versions (import)


def logged_model_id(version: LiveVersion) -> str | None:
    """The MLflow 3 logged model behind a `models:/m-…` version (stores do not all fill model_id)."""
    if version.model_id:
        return version.model_id
    rest = version.source[len("models:/") :] if version.source.startswith("models:/") else ""
    return rest if rest.startswith("m-") and "/" not in rest else None


def artifact_path_of(version: LiveVersion, logged_model_names: dict[str, str]) -> str | None:
    """The run-relative artifact path a run-registered version came from, if it can be told."""
    src = version.source or ""
    if src.startswith("runs:/"):
        rest = src[len("runs:/") :]
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


def resolve_run(ref: VersionRef, facts: RegistryFacts) -> RunResolution:
    """The source run a matcher names (run_id or run: {experiment, name}); none for version/source."""
    if ref.run_id:
        run = facts.runs.get(ref.run_id)
        if run is None:
            return RunResolution(None, f"Run {ref.run_id} was not found in MLflow")
        return RunResolution(run)
    if ref.run:
        exp, name = ref.run.experiment, ref.run.name
        if exp in facts.missing_experiments:
            return RunResolution(None, f"Experiment {exp!r} does not exist")
        found = facts.runs_by_name.get((exp, name), [])
        if len(found) == 1:
            return RunResolution(found[0])
        if not found:
            return RunResolution(None, f"No run named {name!r} in experiment {exp!r}")
        ids = ", ".join(r.run_id for r in found)
        return RunResolution(
            None, f"{len(found)} runs named {name!r} in experiment {exp!r}: {ids}; use run_id to pick one"
        )
    return RunResolution(None)


class VersionIndex:
    """One model's live versions indexed by what each kind of matcher looks at: by number at once,
    by source and by run when a matcher first asks (a file that pins every version by number
    never builds them)."""

    def __init__(self, versions: list[LiveVersion], logged_model_names: dict[str, str]):
        self.by_number: dict[str, LiveVersion] = {v.version: v for v in versions}
        self._versions = versions
        self._logged_model_names = logged_model_names
        self._by_source: dict[str, list[LiveVersion]] | None = None
        self._by_run: dict[tuple[str, str | None], list[LiveVersion]] | None = None

    @property
    def by_source(self) -> dict[str, list[LiveVersion]]:
        if self._by_source is None:
            self._by_source = {}
            for v in self._versions:
                self._by_source.setdefault(v.source, []).append(v)
        return self._by_source

    @property
    def by_run(self) -> dict[tuple[str, str | None], list[LiveVersion]]:
        if self._by_run is None:
            self._by_run = {}
            for v in self._versions:
                if v.run_id:
                    key = (v.run_id, artifact_path_of(v, self._logged_model_names))
                    self._by_run.setdefault(key, []).append(v)
        return self._by_run

    def match(self, ref: VersionRef, run: LiveRun | None) -> list[LiveVersion]:
        """Live versions the matcher identifies (normally 0 or 1)."""
        if ref.version is not None:
            found = self.by_number.get(str(ref.version))
            return [found] if found else []
        if ref.source is not None:
            return self.by_source.get(ref.source, [])
        if run is None:
            return []
        return self.by_run.get((run.run_id, ref.artifact_path.strip("/")), [])
