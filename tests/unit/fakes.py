"""In-memory providers and state (Terraform's statemgr fake, SQLMesh's evaluator): the engine's
workflow and executor run against these in unit tests, with no server and no database.

`MemoryMlflow` keeps models, versions, runs, prompts and webhooks; `MemoryPolicies` keeps policy
rows. Each answers the provider port (planner/ports.py) with a handler per kind (`WRITERS`,
`READERS`), so the conformance test can check that every kind of the catalog has one.
"""

from __future__ import annotations

import copy
import itertools
from contextlib import contextmanager
from dataclasses import replace

from mlreg.planner.changes import Action
from mlreg.planner.config.load import parse_config
from mlreg.planner.errors import BackendUnavailable, StaleSerial, StateLocked
from mlreg.planner.kinds.access_facts import (
    AccessFacts,
    AccessRequest,
    LivePermission,
    LiveRole,
    LiveUser,
)
from mlreg.planner.kinds.base import ALIASES
from mlreg.planner.kinds.mlflow_facts import LiveModel, LiveRun, LiveVersion, RegistryFacts, RegistryRequest
from mlreg.planner.kinds.policy_version import LivePolicyVersion, PolicyFacts, PolicyRequest
from mlreg.planner.kinds.prompt import LivePrompt, LivePromptVersion, PromptFacts, PromptRequest
from mlreg.planner.kinds.webhook import LiveWebhook, WebhookFacts, WebhookRequest
from mlreg.planner.kinds.workspace import LiveWorkspace, WorkspaceFacts, WorkspaceRequest
from mlreg.planner.ports import LockInfo, WriteRequest, WriteResult
from mlreg.planner.recorded import StateSnapshot, journal_entry
from mlreg.planner.workflow import Session
from tests.unit.engine_support import RUN_DEFAULTS


class MemoryState:
    def __init__(self):
        self.snapshot = StateSnapshot.new()
        self.records: dict[str, dict] = {}
        self.holder: LockInfo | None = None
        self.writes = 0
        self.entries: list[dict] = []

    def describe(self) -> str:
        return "memory"

    def read(self) -> StateSnapshot:
        return self.snapshot

    def write(self, snap: StateSnapshot) -> None:
        if snap.lineage == self.snapshot.lineage and snap.serial <= self.snapshot.serial:
            raise StaleSerial(f"serial {snap.serial} <= {self.snapshot.serial}")
        from datetime import UTC, datetime

        self.entries.append(journal_entry(self.snapshot, snap, datetime.now(UTC).isoformat(), self.holder))
        self.snapshot = snap
        self.writes += 1

    def stored_meta(self):
        return (self.snapshot.lineage, self.snapshot.serial) if self.snapshot.lineage else (None, None)

    def endpoints(self):
        return dict(self.snapshot.endpoints), bool(self.snapshot.resources)

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0):
        if self.holder is not None:
            raise StateLocked(f"State is locked: {self.holder.describe()}", self.holder)
        self.holder = LockInfo.new(operation)
        try:
            yield self.holder
        finally:
            self.holder = None

    def force_unlock(self, lock_id: str) -> bool:
        return False

    def append_history(self, record: dict) -> None:
        self.records[record["id"]] = dict(record)

    def history(self) -> list[dict]:
        return list(self.records.values())

    def journal(self) -> list[dict]:
        return list(self.entries)

    def import_past(self, journal: list[dict], history: list[dict]) -> None:
        from mlreg.planner.recorded import missing_past

        entries, records = missing_past(self.entries, self.history(), journal, history)
        self.entries += entries
        for r in records:
            self.append_history(r)


def _next_number(items: list[dict]) -> str:
    return str(max((int(v["version"]) for v in items), default=0) + 1)


def _sync_tags(target: dict, before: dict | None, after: dict | None) -> None:
    for k in (before or {}).keys() - (after or {}).keys():
        target.pop(k, None)
    target.update(after or {})


class MemoryMlflow:
    """A registry of models, versions (with tags), runs, prompts and webhooks; records every write
    it is asked for. `fail` maps an address (or `address#phase`) to an exception raised when it is
    applied."""

    name = "mlreg/mlflow"

    def __init__(self):
        self.models: dict[str, dict] = {}
        self.versions: dict[str, list[dict]] = {}
        self.runs: dict[str, LiveRun] = {}
        self.prompts: dict[str, dict] = {}
        self.prompt_versions: dict[str, list[dict]] = {}
        self.webhooks: dict[str, dict] = {}
        self.workspaces: dict[str, str] = {}  # name -> description
        self.users: dict[str, dict] = {"ci": {"id": 1, "admin": False}}  # the identity applying, by default
        self.current = "ci"
        self.roles: dict[str, dict] = {}  # name -> {id, description, grants: {key: [id, permission]}, members}
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.apply_ids: set[str] = set()
        self._ids = itertools.count(1)

    def describe(self) -> str:
        return "memory registry"

    # -- test setup -----------------------------------------------------------------------------------
    def log_run(self, run_id: str, experiment: str = "exp", name: str | None = None, **metrics) -> str:
        self.runs[run_id] = LiveRun(
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

    def add_version(self, name: str, source: str, run_id: str | None = None, **tags) -> str:
        self.models.setdefault(name, {"description": "", "tags": {}, "aliases": {}})
        vs = self.versions.setdefault(name, [])
        number = str(len(vs) + 1)
        vs.append({"version": number, "source": source, "run_id": run_id, "description": "", "tags": dict(tags)})
        return number

    # -- reads ----------------------------------------------------------------------------------------
    def read(self, requests):
        return {type(r).facts: READERS[type(r)](self, r) for r in requests}

    def _registry(self, r: RegistryRequest) -> RegistryFacts:
        models = {
            n: LiveModel(n, m["description"], dict(m["tags"]), dict(m["aliases"]))
            for n, m in self.models.items()
            if n in r.model_names
        }
        versions = {
            n: [LiveVersion(n, v["version"], v["source"], v["run_id"], v["description"], dict(v["tags"])) for v in vs]
            for n, vs in self.versions.items()
            if n in r.model_names
        }
        by_name: dict = {}
        for run in self.runs.values():
            by_name.setdefault((run.experiment_name, run.run_name), []).append(run)
        return RegistryFacts(
            models=models,
            versions=versions,
            runs=dict(self.runs),
            runs_by_name={k: v for k, v in by_name.items() if k in r.run_names},
            prompt_names=frozenset(n for n in self.prompts if n in r.model_names),
        )

    def _prompts(self, r: PromptRequest) -> PromptFacts:
        prompts = {
            n: LivePrompt(n, dict(p["tags"]), dict(p["aliases"])) for n, p in self.prompts.items() if n in r.names
        }
        versions = {
            n: [LivePromptVersion(n, v["version"], v["template"], dict(v["tags"]), v["description"]) for v in vs]
            for n, vs in self.prompt_versions.items()
            if n in r.names
        }
        return PromptFacts(prompts, versions, frozenset(n for n in self.models if n in r.names))

    def _webhooks(self, r: WebhookRequest) -> WebhookFacts:
        found: dict = {}
        for wid, w in self.webhooks.items():
            if w["name"] in r.names:
                found.setdefault(w["name"], []).append(
                    LiveWebhook(wid, w["name"], w["url"], tuple(w["events"]), w["description"], w["status"])
                )
        return WebhookFacts(found)

    def _workspaces(self, r: WorkspaceRequest) -> WorkspaceFacts:
        return WorkspaceFacts({n: LiveWorkspace(n, d) for n, d in self.workspaces.items() if n in r.names})

    def _access(self, r: AccessRequest) -> AccessFacts:
        roles = {
            name: LiveRole(
                role["id"],
                name,
                "default",
                role["description"],
                tuple(LivePermission(g[0], *key.split(":", 1), g[1]) for key, g in role["grants"].items()),
                frozenset(role["members"]),
            )
            for name, role in self.roles.items()
        }
        return AccessFacts(
            workspace="default",
            users={n: LiveUser(u["id"], n, u["admin"]) for n, u in self.users.items()},
            roles=roles,
            current=self.current,
            current_admin=self.users.get(self.current, {}).get("admin", False),
            names={"registered_model": frozenset(self.models), "prompt": frozenset(self.prompts)},
        )

    def names(self, type_):
        return sorted(
            {"model": self.models, "prompt": self.prompts, "webhook": {}, "workspace": self.workspaces}[type_]
        )

    def kinds(self) -> set[str]:
        return set(WRITERS)

    # -- writes ---------------------------------------------------------------------------------------
    def apply(self, request: WriteRequest) -> WriteResult:
        change, phase = request.change, request.phase
        key = change.address if phase.name == "main" else f"{change.address}#{phase.name}"
        self.calls.append(key)
        self.apply_ids.add(request.apply_id)
        if key in self.fail:
            raise self.fail[key]
        self.resolved = request.values
        return WriteResult(WRITERS[change.type](self, change, phase, request.after(), request.apply_id))

    def apply_batch(self, requests):
        raise AssertionError("no batch kinds here")

    def _model(self, change, phase, after, apply_id, store=None, versions=None):
        store = self.models if store is None else store
        versions = self.versions if versions is None else versions
        name = change.identity["name"]
        if change.action is Action.DELETE:
            store.pop(name, None)
            versions.pop(name, None)
            return {"name": name}
        m = store.setdefault(name, {"description": "", "tags": {}, "aliases": {}})
        if phase is ALIASES:
            _sync_tags(m["aliases"], (change.before or {}).get("aliases"), after.get("aliases"))
        else:
            if "description" in after:
                m["description"] = after["description"]
            _sync_tags(m["tags"], (change.before or {}).get("tags"), after.get("tags"))
        return {"name": name}

    def _version(self, change, phase, after, apply_id):
        name = change.identity["name"]
        vs = self.versions.setdefault(name, [])
        if change.action is Action.DELETE:
            self.versions[name] = [v for v in vs if v["version"] != change.identity["version"]]
            return dict(change.identity)
        tags = dict(after.get("tags", {}))
        if after.get("stage") is not None:
            tags["stage"] = after["stage"]
        if change.action is Action.CREATE:
            matcher = change.identity["matcher"]
            number = _next_number(vs)
            vs.append(
                {
                    "version": number,
                    "source": matcher.get("source", f"runs:/{change.identity.get('run_id')}/model"),
                    "run_id": change.identity.get("run_id"),
                    "description": after.get("description", ""),
                    "tags": {**tags, "mlreg.apply_id": apply_id},
                }
            )
            return {"name": name, "version": number, "key": change.identity["key"]}
        v = next(v for v in vs if v["version"] == change.identity["version"])
        before = dict((change.before or {}).get("tags", {}))
        if (change.before or {}).get("stage") is not None:
            before["stage"] = change.before["stage"]
        _sync_tags(v["tags"], before, tags)
        if "description" in after:
            v["description"] = after["description"]
        return dict(change.identity)

    def _prompt(self, change, phase, after, apply_id):
        return self._model(change, phase, after, apply_id, self.prompts, self.prompt_versions)

    def _prompt_version(self, change, phase, after, apply_id):
        name = change.identity["name"]
        vs = self.prompt_versions.setdefault(name, [])
        if change.action is Action.DELETE:
            self.prompt_versions[name] = [v for v in vs if v["version"] != change.identity["version"]]
            return dict(change.identity)
        if change.action is Action.CREATE:
            number = _next_number(vs)
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
        _sync_tags(v["tags"], (change.before or {}).get("tags"), after.get("tags"))
        if "commit_message" in after:
            v["description"] = after["commit_message"]
        return dict(change.identity)

    def _webhook(self, change, phase, after, apply_id):
        name = change.identity["name"]
        if change.action is Action.DELETE:
            self.webhooks.pop(change.identity["id"], None)
            return dict(change.identity)
        wid = change.identity.get("id") or f"wh-{next(self._ids)}"
        w = self.webhooks.setdefault(wid, {"name": name, "description": ""})
        w.update({k: after[k] for k in ("url", "events", "status", "description") if k in after})
        return {"name": name, "id": wid}

    def _workspace(self, change, phase, after, apply_id):
        name = change.identity["name"]
        if change.action is Action.DELETE:
            self.workspaces.pop(name, None)
        else:
            self.workspaces[name] = after.get("description", self.workspaces.get(name, ""))
        return {"name": name}

    def _user(self, change, phase, after, apply_id):
        name = change.identity["name"]
        user = self.users.setdefault(name, {"id": len(self.users) + 1, "admin": False})
        user["admin"] = after.get("admin", False)
        if change.secrets.get("password"):
            user["password"] = change.secrets["password"]
        return {"name": name, "id": user["id"]}

    def _role(self, change, phase, after, apply_id):
        name = change.identity["name"]
        if change.action is Action.DELETE:
            self.roles.pop(name, None)
            return dict(change.identity)
        role = self.roles.setdefault(name, {"id": next(self._ids), "description": "", "grants": {}, "members": set()})
        if "description" in after:
            role["description"] = after["description"]
        return {**change.identity, "id": role["id"]}

    def _role_by_id(self, change):
        role_id = change.identity.get("role_id") or self.resolved.get("role_id")
        return role_id, next(r for r in self.roles.values() if r["id"] == role_id)

    def _role_permission(self, change, phase, after, apply_id):
        ident = dict(change.identity)
        role_id, role = self._role_by_id(change)
        key = f"{ident['resource_type']}:{ident['pattern']}"
        if change.action is Action.DELETE:
            role["grants"].pop(key, None)
            return ident
        grant = role["grants"].setdefault(key, [next(self._ids), after["permission"]])
        grant[1] = after["permission"]
        return {**ident, "role_id": role_id, "id": grant[0]}

    def _role_member(self, change, phase, after, apply_id):
        ident = dict(change.identity)
        role_id, role = self._role_by_id(change)
        (role["members"].discard if change.action is Action.DELETE else role["members"].add)(ident["user"])
        return {**ident, "role_id": role_id}


READERS = {
    RegistryRequest: MemoryMlflow._registry,
    PromptRequest: MemoryMlflow._prompts,
    WebhookRequest: MemoryMlflow._webhooks,
    WorkspaceRequest: MemoryMlflow._workspaces,
    AccessRequest: MemoryMlflow._access,
}
WRITERS = {
    "model": MemoryMlflow._model,
    "model_version": MemoryMlflow._version,
    "prompt": MemoryMlflow._prompt,
    "prompt_version": MemoryMlflow._prompt_version,
    "webhook": MemoryMlflow._webhook,
    "workspace": MemoryMlflow._workspace,
    "user": MemoryMlflow._user,
    "role": MemoryMlflow._role,
    "role_permission": MemoryMlflow._role_permission,
    "role_member": MemoryMlflow._role_member,
}

MemoryRegistry = MemoryMlflow  # the name the first tests used


class MemoryPolicies:
    name = "mlreg/postgres"

    def __init__(self):
        self.rows: dict[tuple[str, int], LivePolicyVersion] = {}
        self.calls: list[str] = []
        self.fail: Exception | None = None
        self._ids = itertools.count(1)

    def describe(self) -> str:
        return "memory database"

    def read(self, requests):
        out = {}
        for r in requests:
            assert isinstance(r, PolicyRequest), r
            out[PolicyFacts] = PolicyFacts({k: v for k, v in self.rows.items() if k[0] in r.policy_ids})
        return out

    def names(self, type_):
        return sorted({k[0] for k in self.rows})

    def kinds(self) -> set[str]:
        return {"policy_version"}

    def apply(self, request):
        raise AssertionError("policy versions go in batches")

    def apply_batch(self, requests):
        if self.fail is not None:
            raise self.fail
        out = {}
        for r in requests:
            c = r.change
            self.calls.append(c.address)
            ident = dict(c.identity)
            if c.action is Action.DELETE:
                self.rows.pop((ident["policy_id"], ident["version"]), None)
            else:
                after = r.after()
                row_id = ident.get("id") or f"row-{next(self._ids)}"
                self.rows[(ident["policy_id"], ident["version"])] = LivePolicyVersion(
                    row_id,
                    ident["policy_id"],
                    ident["version"],
                    after["model"],
                    str(after["model_version"]),
                    copy.deepcopy(after["config_defaults"]),
                )
                ident["id"] = row_id
            out[c.address] = WriteResult(ident)
        return out


def session(text: str, registry: MemoryMlflow, policies: MemoryPolicies, state: MemoryState, env=None) -> Session:
    loaded, diags = parse_config(("version: 1\n" + text).encode(), "registry.yaml", "/tmp", env=env or {})
    assert not diags, [d.summary for d in diags]
    return Session(loaded, {registry.name: registry, policies.name: policies}, state)


def unavailable(what: str = "MLflow at memory") -> BackendUnavailable:
    return BackendUnavailable(f"{what} did not answer for 60 s (ConnectionError: Connection refused)")


def with_state(state: MemoryState, **changes) -> MemoryState:
    state.snapshot = replace(state.snapshot, **changes)
    return state
