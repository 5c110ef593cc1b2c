"""MLflow Model Registry provider: bulk reads (mlflow_read.py) and writes per attribute.

Writes go through the registry client underneath MlflowClient, which skips the GET of the
registered model that every MlflowClient write call makes first (half the requests).
"""

from __future__ import annotations

import time
from typing import Any

from planner.config import VersionRef
from planner.model import Action, Change, LiveRun, LiveVersion, ReadRequest, RegistrySnapshot, ResourceType
from planner.resolve import match_versions
from planner.stages import STAGE_TAG
from providers.base import BackendError

_RETRIES = 5


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
        self._reader = None

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

    # -- reads (delegated: see mlflow_read.py) ---------------------------------------------------------------
    @property
    def reader(self):
        if self._reader is None:
            if self.tracking_uri.startswith(("http://", "https://")):
                from providers.mlflow_http import HttpReader

                self._reader = HttpReader(self.tracking_uri)
            else:
                from providers.mlflow_read import ClientReader

                self._reader = ClientReader(self.client)
        return self._reader

    def read(self, request: ReadRequest) -> RegistrySnapshot:
        return self.reader.read(request)

    def read_runs(self, run_ids: set[str]) -> dict[str, LiveRun]:
        return self.reader.read_runs(run_ids)

    def inspect_runs(self, runs: list[LiveRun]) -> dict[str, LiveRun]:
        return self.reader.inspect_runs(runs)

    def list_model_names(self) -> list[str]:
        return self.reader.list_model_names()

    def logged_model_names(self, versions, runs) -> dict[str, str]:
        return self.reader.logged_model_names(versions, runs)

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
        """Phase "main" creates the model or updates description and tags; phase "aliases" runs
        after the versions the aliases point at exist (`resolved` holds their numbers)."""
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
        aliases = change.filled_after(resolved).get("aliases") or {}
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

    @staticmethod
    def _tags(attrs: dict) -> dict[str, str]:
        """The version tags that `attrs` (a change's before or after) stand for: its managed tag
        keys plus the `stage` tag when the stage is managed and not none."""
        tags = dict(attrs.get("tags") or {})
        if attrs.get("stage") is not None:
            tags[STAGE_TAG] = attrs["stage"]
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
            # Adopt the version a crashed apply created; converge its managed attributes below.
            version = existing.version
            before = {"description": existing.description,
                      "tags": {k: existing.tags[k] for k in (after.get("tags") or {}) if k in existing.tags}}
            if "stage" in after:
                before["stage"] = existing.tags.get(STAGE_TAG)
        if "description" in after and (before.get("description") or "") != after["description"]:
            self.registry.update_model_version(name, version, after["description"])
        self._sync_tags(self._tags(before), self._tags(after),
                        lambda k, v: self.registry.set_model_version_tag(name, version, k, v),
                        lambda k: self.registry.delete_model_version_tag(name, version, k))
        return {"name": name, "version": str(version), "key": change.identity["key"]}

    def _find_existing(self, change: Change) -> LiveVersion | None:
        """Right before creating: is there already a version for this matcher? (crash recovery)"""
        name = change.identity["name"]
        versions = self.reader.versions_of(name)
        ref = VersionRef.model_validate(change.identity["matcher"])
        run_id = change.identity.get("run_id")
        run = self.reader.read_runs({run_id}).get(run_id) if run_id else None
        logged = self.reader.logged_model_names({name: versions}, {run.run_id: run} if run else {})
        matches = match_versions(ref, run, versions, logged)
        if len(matches) > 1:
            raise BackendError(f"{change.address}: {len(matches)} live versions match; plan again")
        return matches[0] if matches else None

    def _create_version(self, change: Change, after: dict):
        """Register the way `mlflow.register_model` does, so `models:/NAME/N` loads."""
        name = change.identity["name"]
        matcher = change.identity["matcher"]
        run_id = change.identity.get("run_id")
        model_id = None
        if run_id:
            path = matcher.get("artifact_path", "model").strip("/")
            source, model_id = self._source_for_run(run_id, path)
        else:
            source = matcher["source"]
        # The registered model exists: this change depends on `model.NAME`, applied first.
        return self.registry.create_model_version(
            name=name, source=source, run_id=run_id, tags=self._tags(after) or None,
            description=after.get("description"), model_id=model_id,
        )

    def _logged_models_of(self, run, name: str) -> list:
        return [m for m in self.reader.search_logged_models([run.info.experiment_id])
                if m[2] == run.info.run_id and m[1] == name]

    def _source_for_run(self, run_id: str, path: str) -> tuple[str, str | None]:
        run = self.client.get_run(run_id)
        # Only the run's own artifacts count: listing `path` directly also shows the files of a
        # logged model of that name, which MLflow registers as `models:/ID` instead.
        root = {a.path for a in self.client.list_artifacts(run_id, path.rsplit("/", 1)[0] if "/" in path else None)}
        artifact_source = f"{run.info.artifact_uri.rstrip('/')}/{path}", None
        if path in root and "MLmodel" in {a.path.rsplit("/", 1)[-1] for a in self.client.list_artifacts(run_id, path)}:
            return artifact_source
        logged = self._logged_models_of(run, path)
        if path in root and not logged:  # files without an MLmodel: registered as they are
            return artifact_source
        if not logged:
            raise BackendError(f"runs:/{run_id}/{path}: the run has no artifact or logged model at {path!r}")
        best = logged[-1][0]
        if len(logged) > 1 and run.outputs is not None:
            step = {o.model_id: o.step for o in run.outputs.model_outputs}
            best = max((m[0] for m in logged), key=lambda mid: step.get(mid, -1))
        return f"models:/{best}", best
