"""Writes for registered models and their versions, shared by the kinds MLflow keeps as
registered models (models and their versions; prompts and theirs).

Registering a version is the one write that is not idempotent (two calls make two versions), so
it is never retried blindly: the create carries the apply's id as the tag `mlreg.apply_id`; when
its answer is lost (connection dropped, timeout, 5xx), the versions of the model are read again
and the one this apply made is adopted. Only when none is there is the create sent once more;
if a late first attempt lands after all, the extra copies carrying this apply's id (made moments
ago, referenced by nothing) are deleted so exactly one remains.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from mlreg.planner.changes import Action, Change
from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.base import ALIASES
from mlreg.planner.kinds.mlflow_facts import APPLY_TOKEN_TAG, LiveVersion
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.planner.stages import STAGE_TAG
from mlreg.providers.mlflow import endpoints as ep
from mlreg.providers.mlflow.registry_reads import RegistryReads
from mlreg.providers.mlflow.transport import MlflowApiError, Transport

_TRANSIENT = ("duplicate key", "unique constraint", "database is locked")
RECOVERY_WAITS = (0.0, 0.5, 1.5)  # re-reads after an ambiguous create: the first attempt may still land


def retrying(fn: Callable, *args) -> Any:
    """Retry what concurrent writers provoke on idempotent writes: several creating the same new
    tag key at once get a duplicate-key refusal; SQLite stores report a locked database."""
    for attempt in range(5):
        try:
            return fn(*args)
        except MlflowApiError as e:
            if attempt == 4 or not any(t in str(e).lower() for t in _TRANSIENT):
                raise
            time.sleep(0.05 * 2**attempt)
    return None


def sync_tags(before: Mapping[str, str], after: Mapping[str, str], set_tag, delete_tag) -> None:
    for k, v in after.items():
        if before.get(k) != v:
            retrying(set_tag, k, v)
    for k in before.keys() - after.keys():
        delete_tag(k)


def version_tags(attrs: Mapping) -> dict[str, str]:
    """The version tags `attrs` (a change's before or after) stand for: its managed tag keys plus
    the `stage` tag when the stage is managed and not none."""
    tags = dict(attrs.get("tags") or {})
    if attrs.get("stage") is not None:
        tags[STAGE_TAG] = attrs["stage"]
    return tags


class RegistryWrites:
    def __init__(self, api: Transport, reads: RegistryReads):
        self.api = api
        self.reads = reads

    # -- registered models ---------------------------------------------------------------------------
    def model(self, request: WriteRequest, extra_tags: dict | None = None) -> WriteResult:
        """A registered model (and, with `extra_tags` marking it, a prompt: MLflow keeps both so).
        A description in `identity` is set at creation only (a prompt's first commit message)."""
        change = request.change
        name = change.identity["name"]
        done = WriteResult({"name": name})
        api = self.api
        if change.action is Action.DELETE:
            api.call(ep.DELETE_MODEL, {"name": name})
            return done
        before, after = dict(change.before or {}), dict(change.after or {})
        if request.phase is ALIASES:
            self.aliases(name, before.get("aliases") or {}, request.after().get("aliases") or {})
            return done
        if change.before is None:
            description = after.get("description", change.identity.get("description"))
            if self.create_model(name, after.get("tags") or {}, description, extra_tags):
                return done
            before = {}  # it existed already (a crashed or unanswered create): converge it below
        if "description" in after and before.get("description") != after["description"]:
            api.call(ep.UPDATE_MODEL, {"name": name, "description": after["description"]})
        sync_tags(
            before.get("tags") or {},
            after.get("tags") or {},
            lambda k, v: api.call(ep.SET_MODEL_TAG, {"name": name, "key": k, "value": v}),
            lambda k: api.call(ep.DELETE_MODEL_TAG, {"name": name, "key": k}),
        )
        return done

    def create_model(self, name: str, tags: dict, description: str | None, extra_tags: dict | None = None) -> bool:
        """Create the registered model; False when it already exists (adopt it). A create that got
        no clear answer is checked by reading the name back, and sent again only if absent, for as
        long as the backend timeout allows."""
        body = {"name": name, "tags": ep.tags({**(extra_tags or {}), **tags})}
        if description:
            body["description"] = description

        def find():
            flt = self.reads.name_filters([name])[0]
            return True if any(m.name == name for m in self.reads.search_models(flt)) else None

        return self.api.create_once(ep.CREATE_MODEL, body, find, exists_ok=True).answer is not None

    def aliases(self, name: str, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        for alias, number in new.items():
            if old.get(alias) != number:
                retrying(self.api.call, ep.SET_ALIAS, {"name": name, "alias": alias, "version": str(number)})
        for alias in old.keys() - new.keys():
            self.api.call(ep.DELETE_ALIAS, {"name": name, "alias": alias})

    # -- versions ------------------------------------------------------------------------------------
    def delete_version(self, name: str, version: str) -> None:
        self.api.call(ep.DELETE_VERSION, {"name": name, "version": str(version)})

    def version(self, request: WriteRequest) -> WriteResult:
        change = request.change
        name = change.identity["name"]
        if change.action is Action.DELETE:
            self.delete_version(name, change.identity["version"])
            return WriteResult(dict(change.identity))
        after = dict(change.after or {})
        if change.before is None:
            mv = self._create_version(change, after, request.apply_id)
            return WriteResult({"name": name, "version": mv.version, "key": change.identity["key"]})
        before = dict(change.before)
        self.converge_version(
            name,
            change.identity["version"],
            before.get("description"),
            after.get("description"),
            version_tags(before),
            version_tags(after),
        )
        return WriteResult({"name": name, "version": str(change.identity["version"]), "key": change.identity["key"]})

    def converge_version(
        self,
        name: str,
        version: str,
        old_description: str | None,
        description: str | None,
        old_tags: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        """Bring an existing version's description (None: not managed) and managed tags to the file's."""
        api, v = self.api, str(version)
        if description is not None and (old_description or "") != description:
            api.call(ep.UPDATE_VERSION, {"name": name, "version": v, "description": description})
        sync_tags(
            old_tags,
            tags,
            lambda k, value: api.call(ep.SET_VERSION_TAG, {"name": name, "version": v, "key": k, "value": value}),
            lambda k: api.call(ep.DELETE_VERSION_TAG, {"name": name, "version": v, "key": k}),
        )

    def _create_version(self, change: Change, after: dict, apply_id: str) -> LiveVersion:
        """Register the way `mlflow.register_model` does (so `models:/NAME/N` loads), once."""
        name = change.identity["name"]
        matcher = change.identity["matcher"]
        run_id = change.identity.get("run_id")
        model_id = None
        if run_id:
            source, model_id = self._source_for_run(run_id, matcher.get("artifact_path", "model").strip("/"))
        else:
            source = matcher["source"]
        return self.register_version(
            name,
            source,
            run_id,
            version_tags(after),
            after.get("description"),
            model_id,
            lambda v: v.source == source,
            apply_id,
        )

    def register_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict,
        description: str | None,
        model_id: str | None,
        same: Callable[[LiveVersion], bool],
        token: str,
        prompt: bool = False,
    ) -> LiveVersion:
        """Register a version carrying this apply's token, once (`Transport.create_once`): when the
        answer is lost, the version this apply made is found by its token (`same` says which of
        this apply's versions it is, `recover`) instead of registering again."""
        body = {"name": name, "source": source, "tags": ep.tags({**tags, APPLY_TOKEN_TAG: token})}
        for key, value in (("run_id", run_id), ("description", description), ("model_id", model_id)):
            if value:
                body[key] = value
        made = self.api.create_once(ep.CREATE_VERSION, body, lambda: self.recover(name, token, same, prompt))
        if made.answer is None:
            return made.found
        mv = ep.version_of(made.answer["model_version"])
        if made.resent:  # an earlier attempt may have landed late: keep exactly one
            return self.recover(name, token, same, prompt, waits=(0.0,)) or mv
        return mv

    def recover(
        self, name: str, token: str, same: Callable[[LiveVersion], bool], prompt: bool = False, waits=RECOVERY_WAITS
    ) -> LiveVersion | None:
        """The version this apply registered, after an answer was lost; extra copies carrying the
        same token are deleted (the lowest number is kept)."""
        for wait in waits:
            time.sleep(wait)
            mine = sorted(
                (
                    v
                    for v in self.reads.versions_of(name, prompts=prompt)
                    if v.tags.get(APPLY_TOKEN_TAG) == token and same(v)
                ),
                key=lambda v: int(v.version),
            )
            if mine:
                for extra in mine[1:]:
                    self.delete_version(name, extra.version)
                return mine[0]
        return None

    def _source_for_run(self, run_id: str, path: str) -> tuple[str, str | None]:
        reads = self.reads
        run = reads.get_run(run_id)
        # Only the run's own artifacts count: listing `path` directly also shows the files of a
        # logged model of that name, which MLflow registers as `models:/ID` instead. A listing
        # that is not read (None: an in-process store whose run keeps its artifacts elsewhere)
        # proves nothing either way.
        listed = reads.list_artifacts(run_id, path.rsplit("/", 1)[0] if "/" in path else None)
        artifact_source = f"{run.artifact_uri.rstrip('/')}/{path}", None
        inside = reads.list_artifacts(run_id, path) if listed is not None and path in listed else None
        if "MLmodel" in {p.rsplit("/", 1)[-1] for p in inside or ()}:
            return artifact_source
        logged = [m for m in reads.logged_models([run.experiment_id]) if m[2] == run_id and m[1] == path]
        if not logged and (listed is None or path in listed):  # files without an MLmodel: as they are
            return artifact_source
        if not logged:
            raise BackendError(f"runs:/{run_id}/{path}: the run has no artifact or logged model at {path!r}")
        best = logged[-1][0]
        if len(logged) > 1:
            best = max((m[0] for m in logged), key=lambda mid: run.model_steps.get(mid, -1))
        return f"models:/{best}", best
