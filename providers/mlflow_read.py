"""Bulk reads of the MLflow registry: the plan's whole view of MLflow in a handful of requests.

`RegistryReader` holds the strategy (which searches, how they are chunked and run in parallel);
two subclasses supply the primitive searches:
- `HttpReader` for `http(s)://` tracking servers: plain REST with pooled connections, parsed
  straight into our types; `import mlflow` (≈2 s) is never paid on the plan path.
- `ClientReader` for everything else (the embedded `sqlite:///` default, `databricks`, …):
  `MlflowClient`.

Strategy (design/mlflow-facts.md): names are known from registry.yaml and state, so models and
versions are read with `name IN (…)` chunks of ≤100 names (gunicorn refuses request lines over
4 KB), all chunks concurrently, so a multi-worker server serialises JSON on all its cores.
Versions come sorted by name and number so offset pages do not shift under concurrent writes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from planner.model import LiveModel, LiveRun, LiveVersion, ReadRequest, RegistrySnapshot
from planner.resolve import logged_model_id

MODELS_PAGE = 1000
VERSIONS_PAGE = 200_000
RUNS_PAGE = 1000
IN_CHUNK = 100
VERSION_ORDER = ["name ASC", "version_number ASC"]


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
    return [f"{field} IN ({', '.join(lits[i:i + IN_CHUNK])})" for i in range(0, len(lits), IN_CHUNK)]


class RegistryReader:
    threads = 4

    # -- primitives (one search, all its pages) ------------------------------------------------------------
    def search_models(self, flt: str | None) -> list[LiveModel]:
        raise NotImplementedError

    def search_versions(self, flt: str | None) -> list[LiveVersion]:
        raise NotImplementedError

    def search_experiments(self) -> dict[str, str]:
        raise NotImplementedError

    def experiments(self) -> dict[str, str]:
        """experiment id -> name, all active experiments; read once per process (an apply that
        registers many versions re-checks their runs, and the list does not change meanwhile)."""
        if getattr(self, "_experiments", None) is None:
            self._experiments = self.search_experiments()
        return self._experiments

    def search_runs(self, experiment_ids: list[str], flt: str, names: dict[str, str]) -> list[LiveRun]:
        raise NotImplementedError

    def search_logged_models(self, experiment_ids: list[str]) -> list[tuple[str, str, str]]:
        """(model_id, name, source_run_id) of the logged models in these experiments."""
        raise NotImplementedError

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        raise NotImplementedError

    # -- strategy ----------------------------------------------------------------------------------------------
    def _parallel(self, fn, items: list) -> list:
        if len(items) <= 1 or self.threads <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.threads, len(items))) as pool:
            return list(pool.map(fn, items))

    def _filters(self, names: frozenset[str]) -> list[str | None]:
        return in_filters("name", names) or [None]  # None: a name the syntax cannot carry; read all

    def read(self, request: ReadRequest) -> RegistrySnapshot:
        names = request.model_names
        filters = self._filters(names) if names else []
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
        models: dict[str, LiveModel] = {}
        versions: dict[str, list[LiveVersion]] = {}
        for (kind, _), found in zip(jobs, results):
            if kind == "m":
                models.update((m.name, m) for m in found if m.name in names)
            elif kind == "v":
                for v in found:
                    if v.name in names:
                        versions.setdefault(v.name, []).append(v)
        runs, by_name, missing = results[0]
        return RegistrySnapshot(models=models, versions=versions, runs=runs, runs_by_name=by_name,
                                missing_experiments=frozenset(missing),
                                logged_model_names=self.logged_model_names(versions, runs))

    def list_model_names(self) -> list[str]:
        return [m.name for m in self.search_models(None)]

    def versions_of(self, name: str) -> list[LiveVersion]:
        return [v for v in self.search_versions(self._filters(frozenset([name]))[0]) if v.name == name]

    def _declared_runs(self, request: ReadRequest):
        runs: dict[str, LiveRun] = {}
        by_name: dict[tuple[str, str], list[LiveRun]] = {}
        missing: set[str] = set()
        if not request.run_ids and not request.run_names:
            return runs, by_name, missing
        exps = self.experiments()
        ids_by_name = {name: eid for eid, name in exps.items()}
        if request.run_ids:
            runs.update(self.read_runs(set(request.run_ids), exps))
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

    def read_runs(self, run_ids: set[str], exps: dict[str, str] | None = None) -> dict[str, LiveRun]:
        """Runs by id, in `IN` chunks over all experiments (run ids hold no quotes)."""
        if not run_ids:
            return {}
        exps = exps if exps is not None else self.experiments()
        chunks = self._parallel(lambda f: self.search_runs(sorted(exps), f, exps),
                                in_filters("attributes.run_id", run_ids) or [])
        return {r.run_id: r for chunk in chunks for r in chunk}

    def logged_model_names(self, versions: dict[str, list[LiveVersion]], runs: dict[str, LiveRun]) -> dict[str, str]:
        """Names of MLflow 3 logged models behind `models:/` versions of the runs we match against."""
        behind = [v for vs in versions.values() for v in vs if v.run_id in runs and logged_model_id(v)]
        wanted = {logged_model_id(v) for v in behind}
        if not wanted:
            return {}
        eids = sorted({runs[v.run_id].experiment_id for v in behind})
        return {mid: name for mid, name, _ in self.search_logged_models(eids) if mid in wanted}

    def inspect_runs(self, runs: list[LiveRun]) -> dict[str, LiveRun]:
        """Artifacts at each run's root and its logged models' names (one listing per run)."""
        if not runs:
            return {}
        logged = self.search_logged_models(sorted({r.experiment_id for r in runs}))
        listings = self._parallel(lambda r: tuple(self.list_artifacts(r.run_id)), runs)
        return {r.run_id: replace(r, artifacts=arts, logged_models=tuple(n for _, n, rid in logged if rid == r.run_id))
                for r, arts in zip(runs, listings)}


def _paged(call, **kw) -> list:
    out, token = [], None
    while True:
        page = call(page_token=token, **kw)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


class ClientReader(RegistryReader):
    """Reads through MlflowClient (embedded stores and any URI scheme MLflow supports)."""

    def __init__(self, client, threads: int = 1):
        self.client = client
        self.threads = threads

    def search_models(self, flt):
        return [LiveModel(name=m.name, description=m.description or "", tags=dict(m.tags or {}),
                          aliases={a: str(v) for a, v in (m.aliases or {}).items()},
                          last_updated=m.last_updated_timestamp)
                for m in _paged(self.client.search_registered_models, filter_string=flt, max_results=MODELS_PAGE)]

    def search_versions(self, flt):
        return [LiveVersion(name=mv.name, version=str(mv.version), source=mv.source or "", run_id=mv.run_id or None,
                            description=mv.description or "", tags=dict(mv.tags or {}),
                            model_id=getattr(mv, "model_id", None), user_id=mv.user_id or None,
                            created=mv.creation_timestamp, last_updated=mv.last_updated_timestamp)
                for mv in _paged(self.client.search_model_versions, filter_string=flt, max_results=VERSIONS_PAGE,
                                 order_by=VERSION_ORDER)]

    def search_experiments(self):
        return {e.experiment_id: e.name for e in _paged(self.client.search_experiments, max_results=1000)}

    def search_runs(self, experiment_ids, flt, names):
        return [LiveRun(run_id=r.info.run_id, experiment_id=r.info.experiment_id,
                        experiment_name=names.get(r.info.experiment_id, ""), run_name=r.info.run_name or "",
                        params=dict(r.data.params), metrics=dict(r.data.metrics), tags=dict(r.data.tags),
                        user_id=r.info.user_id or None)
                for r in _paged(self.client.search_runs, experiment_ids=experiment_ids, filter_string=flt,
                                max_results=RUNS_PAGE)]

    def search_logged_models(self, experiment_ids):
        return [(m.model_id, m.name, m.source_run_id)
                for m in _paged(self.client.search_logged_models, experiment_ids=experiment_ids, max_results=1000)]

    def list_artifacts(self, run_id, path=None):
        return [a.path for a in self.client.list_artifacts(run_id, path)]
