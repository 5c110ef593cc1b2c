"""MLflow Model Registry: bulk reads of models, versions and runs; writes per attribute.

Reads use the fewest requests MLflow allows (design/mlflow-facts.md): registered models in pages
of 1,000, versions in pages of up to 200,000, runs with `IN` filters. Writes go through the
registry client underneath MlflowClient, which skips a per-call GET of the registered model.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from planner.config import VersionRef
from planner.model import Action, Change, LiveModel, LiveRun, LiveVersion, ReadRequest, RegistrySnapshot, ResourceType
from planner.resolve import logged_model_id, match_versions
from planner.stages import STAGE_TAG
from providers.base import BackendError

MODELS_PAGE = 1000
VERSIONS_PAGE = 200_000
RUNS_PAGE = 1000
IN_CHUNK = 100  # names per `IN (...)`: gunicorn refuses request lines over 4 KB
_RETRIES = 5


def _literal(value: str) -> str | None:
    """A filter-string literal for `value`, or None if MLflow's parser cannot take it safely."""
    if "," in value:
        return None
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def _in_filter(field: str, values) -> list[str] | None:
    lits = [_literal(v) for v in sorted(values)]
    if any(lit is None for lit in lits):
        return None
    return [f"{field} IN ({', '.join(lits[i:i + IN_CHUNK])})" for i in range(0, len(lits), IN_CHUNK)]


def _paged(call, **kw) -> list:
    out, token = [], None
    while True:
        page = call(page_token=token, **kw)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def _live_version(mv) -> LiveVersion:
    return LiveVersion(
        name=mv.name, version=str(mv.version), source=mv.source or "", run_id=mv.run_id or None,
        description=mv.description or "", tags=dict(mv.tags or {}), model_id=getattr(mv, "model_id", None),
        user_id=mv.user_id or None, created=mv.creation_timestamp, last_updated=mv.last_updated_timestamp,
    )


def _live_run(run, experiment_name: str) -> LiveRun:
    return LiveRun(
        run_id=run.info.run_id, experiment_id=run.info.experiment_id, experiment_name=experiment_name,
        run_name=run.info.run_name or "", params=dict(run.data.params), metrics=dict(run.data.metrics),
        tags=dict(run.data.tags), user_id=run.info.user_id or None,
    )


def _retrying(fn, *args, **kw):
    """Retry what concurrent writers provoke: two creating the same new tag key get a 400."""
    from mlflow.exceptions import MlflowException

    for attempt in range(_RETRIES):
        try:
            return fn(*args, **kw)
        except MlflowException as e:
            text = str(e).lower()
            transient = "duplicate key" in text or "unique" in text or "database is locked" in text
            if not transient or attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * 2 ** attempt)


class MlflowProvider:
    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri
        self._client = None

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    @property
    def registry(self):
        return self.client._get_registry_client()

    # -- reads ---------------------------------------------------------------------------------------
    def read(self, request: ReadRequest) -> RegistrySnapshot:
        names = request.model_names
        with ThreadPoolExecutor(max_workers=3) as pool:
            models_f = pool.submit(self._read_models, names)
            versions_f = pool.submit(self._read_versions, names)
            runs_f = pool.submit(self._read_declared_runs, request)
            models, versions = models_f.result(), versions_f.result()
            runs, by_name, missing = runs_f.result()
        logged = self.logged_model_names(versions, runs)
        return RegistrySnapshot(models=models, versions=versions, runs=runs, runs_by_name=by_name,
                                missing_experiments=frozenset(missing), logged_model_names=logged)

    def list_model_names(self) -> list[str]:
        """Every registered model's name (pages of 1,000)."""
        return [m.name for m in _paged(self.client.search_registered_models, max_results=MODELS_PAGE)]

    def _read_models(self, names: frozenset[str]) -> dict[str, LiveModel]:
        if not names:
            return {}
        filters = _in_filter("name", names) if len(names) <= 10 * IN_CHUNK else None
        found = []
        for f in filters if filters is not None else [None]:
            found += _paged(self.client.search_registered_models, filter_string=f, max_results=MODELS_PAGE)
        return {
            m.name: LiveModel(name=m.name, description=m.description or "", tags=dict(m.tags or {}),
                              aliases={a: str(v) for a, v in (m.aliases or {}).items()},
                              last_updated=m.last_updated_timestamp)
            for m in found if m.name in names
        }

    def _read_versions(self, names: frozenset[str]) -> dict[str, list[LiveVersion]]:
        if not names:
            return {}
        filters = _in_filter("name", names) if len(names) <= 10 * IN_CHUNK else None
        out: dict[str, list[LiveVersion]] = {}
        for f in filters if filters is not None else [None]:
            for mv in _paged(self.client.search_model_versions, filter_string=f, max_results=VERSIONS_PAGE,
                             order_by=["name ASC", "version_number ASC"]):
                if mv.name in names:
                    out.setdefault(mv.name, []).append(_live_version(mv))
        return out

    def _experiments(self) -> dict[str, str]:
        """experiment id -> name, all active experiments (one page per 1,000)."""
        return {e.experiment_id: e.name for e in _paged(self.client.search_experiments, max_results=1000)}

    def _search_runs(self, experiment_ids: list[str], flt: str, exp_names: dict[str, str]) -> list[LiveRun]:
        runs = _paged(self.client.search_runs, experiment_ids=experiment_ids, filter_string=flt,
                      max_results=RUNS_PAGE)
        return [_live_run(r, exp_names.get(r.info.experiment_id, "")) for r in runs]

    def _read_declared_runs(self, request: ReadRequest):
        runs: dict[str, LiveRun] = {}
        by_name: dict[tuple[str, str], list[LiveRun]] = {}
        missing: set[str] = set()
        if not request.run_ids and not request.run_names:
            return runs, by_name, missing
        exps = self._experiments()
        ids_by_name = {name: eid for eid, name in exps.items()}
        if request.run_ids:
            runs.update({r.run_id: r for r in self.read_runs(set(request.run_ids), exps)})
        if request.run_names:
            wanted_exps = {e for e, _ in request.run_names}
            missing = {e for e in wanted_exps if e not in ids_by_name}
            eids = sorted(ids_by_name[e] for e in wanted_exps if e in ids_by_name)
            # MLflow's filters take IN only for run ids, and have no OR: one paged read of the
            # experiments that declared runs live in, matched by name here.
            for f in [""] if eids else []:
                for r in self._search_runs(eids, f, exps):
                    if (r.experiment_name, r.run_name) in request.run_names:
                        by_name.setdefault((r.experiment_name, r.run_name), []).append(r)
                        runs[r.run_id] = r
        return runs, by_name, missing

    def read_runs(self, run_ids: set[str], exps: dict[str, str] | None = None) -> dict[str, LiveRun] | list:
        """Runs by id, in `IN` chunks over all experiments (run ids hold no quotes)."""
        if not run_ids:
            return {} if exps is None else []
        as_dict = exps is None
        exps = exps if exps is not None else self._experiments()
        found = []
        for f in _in_filter("attributes.run_id", run_ids) or []:
            found += self._search_runs(sorted(exps), f, exps)
        return {r.run_id: r for r in found} if as_dict else found

    def logged_model_names(self, versions: dict[str, list[LiveVersion]], runs: dict[str, LiveRun]) -> dict[str, str]:
        """Names of MLflow 3 logged models behind `models:/` versions of the runs we match against."""
        behind = [v for vs in versions.values() for v in vs if v.run_id in runs and logged_model_id(v)]
        wanted = {logged_model_id(v) for v in behind}
        if not wanted:
            return {}
        eids = sorted({runs[v.run_id].experiment_id for v in behind})
        found = _paged(self.client.search_logged_models, experiment_ids=eids, max_results=1000)
        return {m.model_id: m.name for m in found if m.model_id in wanted}

    def inspect_runs(self, runs: list[LiveRun]) -> dict[str, LiveRun]:
        """Artifacts at each run's root and its logged models' names (one request per run)."""
        from dataclasses import replace

        if not runs:
            return {}
        eids = sorted({r.experiment_id for r in runs})
        logged = _paged(self.client.search_logged_models, experiment_ids=eids, max_results=1000)
        out = {}
        for r in runs:
            arts = tuple(a.path for a in self.client.list_artifacts(r.run_id))
            names = tuple(m.name for m in logged if m.source_run_id == r.run_id)
            out[r.run_id] = replace(r, artifacts=arts, logged_models=names)
        return out

    # -- writes --------------------------------------------------------------------------------------
    def apply(self, change: Change, resolved: dict[str, Any]) -> dict[str, Any]:
        try:
            if change.action is Action.DELETE:
                return self._delete(change)
            if change.type is ResourceType.MODEL:
                return self._apply_model(change, resolved)
            return self._apply_version(change)
        except Exception as e:  # noqa: BLE001 - one clear line for the user, with the address
            if type(e).__module__.startswith("mlflow"):
                raise BackendError(f"{change.address}: MLflow refused: {getattr(e, 'message', e)}") from e
            raise

    def _delete(self, change: Change) -> dict[str, Any]:
        """Delete a version or a whole registered model; already gone counts as done."""
        from mlflow.exceptions import MlflowException

        name, version = change.identity["name"], change.identity.get("version")
        try:
            if change.type is ResourceType.MODEL_VERSION:
                self.registry.delete_model_version(name, version)
            else:
                self.registry.delete_registered_model(name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        return dict(change.identity)

    def _apply_model(self, change: Change, resolved: dict[str, Any]) -> dict[str, Any]:
        """Phase "main" (resolved is None-free of aliases) creates/updates; aliases come with refs."""
        from mlflow.exceptions import MlflowException

        name = change.identity["name"]
        before = change.before or {}
        after = change.after or {}
        phase = resolved.get("__phase__", "main")
        if phase == "main":
            if change.before is None:
                try:
                    self.registry.create_registered_model(name, tags=after.get("tags") or None,
                                                          description=after.get("description"))
                    return {"name": name}
                except MlflowException as e:
                    if e.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    before = {}  # created by a crashed run: fall through and converge it
            if "description" in after and before.get("description") != after["description"]:
                self.registry.update_registered_model(name, after["description"])
            self._sync_tags(before.get("tags") or {}, after.get("tags") or {},
                            lambda k, v: self.registry.set_registered_model_tag(name, k, v),
                            lambda k: self.registry.delete_registered_model_tag(name, k))
            return {"name": name}
        aliases = dict(after.get("aliases") or {})
        for attr, number in resolved.items():
            if attr.startswith("aliases."):
                aliases[attr[len("aliases."):]] = str(number)
        old = before.get("aliases") or {}
        for alias, number in aliases.items():
            if old.get(alias) != number:
                _retrying(self.registry.set_registered_model_alias, name, alias, number)
        for alias in old.keys() - aliases.keys():
            self.registry.delete_registered_model_alias(name, alias)
        return {"name": name}

    @staticmethod
    def _sync_tags(before: dict, after: dict, set_tag, delete_tag) -> None:
        for k, v in after.items():
            if before.get(k) != v:
                _retrying(set_tag, k, v)
        for k in before.keys() - after.keys():
            delete_tag(k)

    def _wanted_tags(self, after: dict) -> dict[str, str]:
        tags = dict(after.get("tags") or {})
        if "stage" in after and after["stage"] is not None:
            tags[STAGE_TAG] = after["stage"]
        return tags

    def _apply_version(self, change: Change) -> dict[str, Any]:
        name = change.identity["name"]
        after = change.after or {}
        before = dict(change.before or {})
        version = change.identity.get("version")
        if change.before is None:
            existing = self._find_existing(change)
            if existing is None:
                mv = self._create_version(change, after)
                return {"name": name, "version": str(mv.version), "key": change.identity["key"]}
            # Adopt the version a crashed apply created; converge its attributes below.
            version = existing.version
            before = {"stage": existing.tags.get(STAGE_TAG), "description": existing.description,
                      "tags": {k: existing.tags[k] for k in (after.get("tags") or {}) if k in existing.tags}}
        before_tags = dict(before.get("tags") or {})
        after_tags = dict(after.get("tags") or {})
        if "stage" in after:
            if before.get("stage") is not None:
                before_tags[STAGE_TAG] = before["stage"]
            if after["stage"] is not None:
                after_tags[STAGE_TAG] = after["stage"]
        elif STAGE_TAG in before_tags:
            after_tags.setdefault(STAGE_TAG, before_tags[STAGE_TAG])
        if "description" in after and (before.get("description") or "") != after["description"]:
            self.registry.update_model_version(name, version, after["description"])
        self._sync_tags(before_tags, after_tags,
                        lambda k, v: self.registry.set_model_version_tag(name, version, k, v),
                        lambda k: self.registry.delete_model_version_tag(name, version, k))
        return {"name": name, "version": str(version), "key": change.identity["key"]}

    def _find_existing(self, change: Change) -> LiveVersion | None:
        """Right before creating: is there already a version for this matcher? (crash recovery)"""
        name = change.identity["name"]
        flt = _in_filter("name", [name])
        versions = [_live_version(mv) for mv in _paged(self.client.search_model_versions,
                                                          filter_string=flt[0] if flt else None,
                                                          max_results=VERSIONS_PAGE) if mv.name == name]
        ref = VersionRef.model_validate(change.identity["matcher"])
        run = None
        run_id = change.identity.get("run_id")
        if run_id:
            run = self.read_runs({run_id}).get(run_id)
        logged = self.logged_model_names({name: versions}, {run.run_id: run} if run else {})
        matches = match_versions(ref, run, versions, logged)
        if len(matches) > 1:
            raise BackendError(f"{change.address}: {len(matches)} live versions match; plan again")
        return matches[0] if matches else None

    def _create_version(self, change: Change, after: dict):
        """Register the way `mlflow.register_model` does, so `models:/NAME/N` loads."""
        from mlflow.exceptions import MlflowException

        name = change.identity["name"]
        matcher = change.identity["matcher"]
        run_id = change.identity.get("run_id")
        model_id = None
        if run_id:
            path = matcher.get("artifact_path", "model").strip("/")
            source, model_id = self._source_for_run(run_id, path)
        else:
            source = matcher["source"]
        try:
            self.registry.create_registered_model(name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        return self.registry.create_model_version(
            name=name, source=source, run_id=run_id, tags=self._wanted_tags(after) or None,
            description=after.get("description"), model_id=model_id,
        )

    def _logged_models_of(self, run, name: str) -> list:
        return [m for m in _paged(self.client.search_logged_models, experiment_ids=[run.info.experiment_id],
                                  max_results=1000)
                if m.source_run_id == run.info.run_id and m.name == name]

    def _source_for_run(self, run_id: str, path: str) -> tuple[str, str | None]:
        run = self.client.get_run(run_id)
        # Only the run's own artifacts count: listing `path` directly also shows the files of a
        # logged model of that name, which MLflow registers as `models:/ID` instead.
        root = {a.path for a in self.client.list_artifacts(run_id, path.rsplit("/", 1)[0] if "/" in path else None)}
        if path in root:
            files = {a.path.rsplit("/", 1)[-1] for a in self.client.list_artifacts(run_id, path)}
            if "MLmodel" in files or not self._logged_models_of(run, path):
                return f"{run.info.artifact_uri.rstrip('/')}/{path}", None
        logged = self._logged_models_of(run, path)
        if not logged:
            raise BackendError(f"runs:/{run_id}/{path}: the run has no artifact or logged model at {path!r}")
        best = logged[-1]
        if len(logged) > 1 and run.outputs is not None:
            step = {o.model_id: o.step for o in run.outputs.model_outputs}
            best = max(logged, key=lambda m: step.get(m.model_id, -1))
        return f"models:/{best.model_id}", best.model_id
