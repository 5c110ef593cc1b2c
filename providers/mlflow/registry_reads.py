"""Bulk reads of the MLflow registry: the plan's whole view of MLflow in a handful of requests,
shared by the kinds whose facts come from registered models (models, versions, prompts).

Names are known from registry.yaml and state, so models and versions are read with `name IN (…)`
chunks of ≤100 names (gunicorn refuses request lines over 4 KB), all chunks concurrently, so a
multi-worker server serialises JSON on all its cores. Versions come sorted by name and number so
offset pages do not shift under concurrent writes. Prompts (registered models tagged
`mlflow.prompt.is_prompt`) are never taken for models.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from mlreg.planner.kinds.mlflow_facts import (
    IS_PROMPT_TAG,
    LiveModel,
    LiveRun,
    LiveVersion,
    RegistryFacts,
    RegistryRequest,
    is_prompt,
    logged_model_id,
)
from mlreg.providers.mlflow import endpoints as ep
from mlreg.providers.mlflow.transport import Transport

IN_CHUNK = 100
PAGE_MODELS = 1000
PAGE_VERSIONS = 200_000  # MLflow's largest page (see the design notes: 2 requests for 10,000 versions)
PAGE = 1000
VERSION_ORDER = ["name ASC", "version_number ASC"]  # offset pages do not shift while someone writes
PROMPT_FILTER = f"tags.`{IS_PROMPT_TAG}` = 'true'"


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    artifact_uri: str
    model_steps: dict[str, int]  # logged model id -> step, from the run's outputs


def _literal(value: str) -> str | None:
    """A filter-string literal for `value`, or None if MLflow's parser cannot take it safely."""
    if "," in value:
        return None
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def in_filters(field: str, values) -> list[str] | None:
    """`field IN (…)` filters of at most IN_CHUNK values; None when a value cannot be quoted."""
    lits = [_literal(v) for v in sorted(values)]
    if any(lit is None for lit in lits):
        return None
    return [f"{field} IN ({', '.join(lits[i : i + IN_CHUNK])})" for i in range(0, len(lits), IN_CHUNK)]


class RegistryReads:
    def __init__(self, api: Transport, threads: int | None = None):
        self.api = api
        concurrent = api.concurrent_reads
        self.threads = (threads or int(os.environ.get("MLREG_READ_THREADS", "4"))) if concurrent else 1
        self._experiments: dict[str, str] | None = None

    # -- single searches, typed ------------------------------------------------------------------------
    def search_models(self, flt: str | None) -> list[LiveModel]:
        body = {"max_results": PAGE_MODELS, **({"filter": flt} if flt else {})}
        return [ep.model_of(d) for d in self.api.pages(ep.SEARCH_MODELS, body, "registered_models")]

    def search_versions(self, flt: str | None) -> list[LiveVersion]:
        body = {"max_results": PAGE_VERSIONS, "order_by": VERSION_ORDER, **({"filter": flt} if flt else {})}
        return [ep.version_of(d) for d in self.api.pages(ep.SEARCH_VERSIONS, body, "model_versions")]

    def search_runs(self, experiment_ids: list[str], flt: str, names: dict[str, str]) -> list[LiveRun]:
        body = {"experiment_ids": experiment_ids, "max_results": PAGE, **({"filter": flt} if flt else {})}
        return [ep.run_of(r, names) for r in self.api.pages(ep.SEARCH_RUNS, body, "runs")]

    def logged_models(self, experiment_ids: list[str]) -> list[tuple[str, str, str]]:
        """(model id, name, source run id) of the MLflow 3 logged models of these experiments."""
        body = {"experiment_ids": experiment_ids, "max_results": PAGE}
        found = self.api.pages(ep.SEARCH_LOGGED_MODELS, body, "models")
        return [(m["info"]["model_id"], m["info"].get("name", ""), m["info"].get("source_run_id", "")) for m in found]

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str] | None:
        """The paths under a run's artifact `path`; None when they are not read (an in-process
        store whose run keeps its artifacts off this machine: see endpoints.LIST_ARTIFACTS)."""
        body = self.api.call(ep.LIST_ARTIFACTS, {"run_id": run_id, **({"path": path} if path else {})})
        if "files" in body and body["files"] is None:
            return None
        return [f["path"] for f in body.get("files") or ()]

    def get_run(self, run_id: str) -> RunInfo:
        run = self.api.call(ep.GET_RUN, {"run_id": run_id})["run"]
        outputs = (run.get("outputs") or {}).get("model_outputs") or []
        return RunInfo(
            run_id,
            run["info"]["experiment_id"],
            run["info"]["artifact_uri"],
            {o["model_id"]: int(o.get("step", 0)) for o in outputs},
        )

    def _parallel(self, fn, items: list) -> list:
        if len(items) <= 1 or self.threads <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.threads, len(items))) as pool:
            return list(pool.map(fn, items))

    def name_filters(self, names) -> list[str | None]:
        return in_filters("name", names) or [None]  # None: a name the syntax cannot carry; read all

    def experiments(self) -> dict[str, str]:
        """experiment id -> name, all active experiments; read once per process."""
        if self._experiments is None:
            found = self.api.pages(ep.SEARCH_EXPERIMENTS, {"max_results": PAGE}, "experiments")
            self._experiments = {e["experiment_id"]: e["name"] for e in found}
        return self._experiments

    # -- the registry request ------------------------------------------------------------------------
    def read(self, request: RegistryRequest) -> RegistryFacts:
        if not self.api.exists():
            return RegistryFacts(note=f"{self.api.target} does not exist yet: apply creates it")
        names = request.model_names
        filters = self.name_filters(names) if names else []
        # Longest first: version searches carry most rows; runs and models fill in around them.
        jobs = [("r", None)] + [("v", f) for f in filters] + [("m", f) for f in filters]

        def run(job):
            kind, f = job
            if kind == "m":
                return self.search_models(f)
            if kind == "v":
                return self.search_versions(f)
            return self._declared_runs(request)

        results = self._parallel(run, jobs)
        models, versions, prompts = {}, {}, set()
        for (kind, _), found in zip(jobs, results):
            if kind == "m":
                for m in found:
                    if m.name in names:
                        (prompts.add(m.name) if is_prompt(m.tags) else models.__setitem__(m.name, m))
            elif kind == "v":
                for v in found:
                    if v.name in names and not is_prompt(v.tags):
                        versions.setdefault(v.name, []).append(v)
        missing = names - models.keys() - prompts
        if missing:  # a name that is not a model may be a prompt: never manage one as a model
            prompts |= self.prompt_names(missing)
        for p in prompts:
            versions.pop(p, None)
        runs, by_name, missing_exps = results[0]
        if request.runs_of_models:
            wanted = {v.run_id for n in request.runs_of_models for v in versions.get(n, ()) if v.run_id} - runs.keys()
            runs.update(self.read_runs(wanted))
        if request.inspect_runs:
            runs.update(
                self.inspect({**runs, **self.read_runs(set(request.inspect_runs) - runs.keys())}, request.inspect_runs)
            )
        return RegistryFacts(
            models=models,
            versions=versions,
            runs=runs,
            runs_by_name=by_name,
            missing_experiments=frozenset(missing_exps),
            logged_model_names=self.logged_model_names(versions, runs),
            prompt_names=frozenset(prompts),
        )

    def prompt_names(self, names) -> set[str]:
        out = set()
        for f in self.name_filters(names):
            out |= {m.name for m in self.search_models(both(PROMPT_FILTER, f)) if m.name in names}
        return out

    def list_model_names(self) -> list[str]:
        return [m.name for m in self.search_models(None) if not is_prompt(m.tags)]

    def versions_of(self, name: str, prompts: bool = False) -> list[LiveVersion]:
        """One model's versions (`prompts`: also when it is a prompt: MLflow's search leaves
        prompt versions out unless asked for them)."""
        flt = self.name_filters([name])[0]
        found = self.search_versions(both(PROMPT_FILTER, flt) if prompts else flt)
        return [v for v in found if v.name == name]

    def _declared_runs(self, request: RegistryRequest):
        runs: dict[str, LiveRun] = {}
        by_name: dict[tuple[str, str], list[LiveRun]] = {}
        missing: set[str] = set()
        if not request.run_ids and not request.run_names:
            return runs, by_name, missing
        exps = self.experiments()
        ids_by_name = {name: eid for eid, name in exps.items()}
        if request.run_ids:
            runs.update(self.read_runs(set(request.run_ids)))
        if request.run_names:
            wanted = {e for e, _ in request.run_names}
            missing = {e for e in wanted if e not in ids_by_name}
            eids = sorted(ids_by_name[e] for e in wanted if e in ids_by_name)
            # MLflow takes IN only for run ids and has no OR: one paged read of the experiments
            # that declared runs live in, matched by name here.
            for r in self.search_runs(eids, "", exps) if eids else []:
                if (r.experiment_name, r.run_name) in request.run_names:
                    by_name.setdefault((r.experiment_name, r.run_name), []).append(r)
                    runs[r.run_id] = r
        return runs, by_name, missing

    def read_runs(self, run_ids: set[str]) -> dict[str, LiveRun]:
        """Runs by id, in `IN` chunks over all experiments (run ids hold no quotes)."""
        if not run_ids:
            return {}
        exps = self.experiments()
        chunks = self._parallel(
            lambda f: self.search_runs(sorted(exps), f, exps), in_filters("attributes.run_id", run_ids) or []
        )
        return {r.run_id: r for chunk in chunks for r in chunk}

    def logged_model_names(self, versions: dict[str, list[LiveVersion]], runs: dict[str, LiveRun]) -> dict[str, str]:
        """Names of MLflow 3 logged models behind `models:/` versions of the runs we match against."""
        behind = [v for vs in versions.values() for v in vs if v.run_id in runs and logged_model_id(v)]
        wanted = {logged_model_id(v) for v in behind}
        if not wanted:
            return {}
        eids = sorted({runs[v.run_id].experiment_id for v in behind})
        return {mid: name for mid, name, _ in self.logged_models(eids) if mid in wanted}

    def inspect(self, runs: dict[str, LiveRun], ids) -> dict[str, LiveRun]:
        """Artifacts at each run's root and its logged models' names (one listing per run)."""
        todo = [runs[i] for i in sorted(ids) if i in runs and runs[i].artifacts is None]
        if not todo:
            return {}
        logged = self.logged_models(sorted({r.experiment_id for r in todo}))
        listings = self._parallel(lambda r: _tuple(self.list_artifacts(r.run_id)), todo)
        return {
            r.run_id: replace(r, artifacts=arts, logged_models=tuple(n for _, n, rid in logged if rid == r.run_id))
            for r, arts in zip(todo, listings)
        }


def _tuple(paths: list[str] | None) -> tuple[str, ...] | None:
    return tuple(paths) if paths is not None else None  # None: not read, so not checked


def both(a: str, b: str | None) -> str:
    """Two filter clauses joined (the second may be absent)."""
    return f"{a} AND {b}" if b else a
