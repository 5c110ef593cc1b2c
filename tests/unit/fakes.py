"""In-memory providers and state (Terraform's statemgr fake, SQLMesh's evaluator): the engine's
workflow and executor run against these in unit tests, with no server and no database."""

from __future__ import annotations

import copy
import itertools
from contextlib import contextmanager
from dataclasses import replace

from mlreg.planner.config.load import parse_config
from mlreg.planner.errors import BackendUnavailable, StaleSerial, StateLocked
from mlreg.planner.kinds.policy_version import LivePolicyVersion, PolicyFacts, PolicyRequest
from mlreg.planner.kinds.registry import LiveModel, LiveRun, LiveVersion, RegistryFacts, RegistryRequest
from mlreg.planner.model import Action
from mlreg.planner.ports import LockInfo
from mlreg.planner.statedata import StateSnapshot
from mlreg.planner.workflow import Session
from tests.unit.engine_support import RUN_DEFAULTS


class MemoryState:
    def __init__(self):
        self.snapshot = StateSnapshot.new()
        self.records: dict[str, dict] = {}
        self.holder: LockInfo | None = None
        self.writes = 0

    def describe(self) -> str:
        return "memory"

    def read(self) -> StateSnapshot:
        return self.snapshot

    def write(self, snap: StateSnapshot) -> None:
        if snap.lineage == self.snapshot.lineage and snap.serial <= self.snapshot.serial:
            raise StaleSerial(f"serial {snap.serial} <= {self.snapshot.serial}")
        self.snapshot = snap
        self.writes += 1

    def stored_meta(self):
        return (self.snapshot.lineage, self.snapshot.serial) if self.snapshot.lineage else (None, None)

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


class MemoryRegistry:
    """A registry of models, versions (with tags) and runs; records every write it is asked for.
    `fail` maps an address (or `address#phase`) to an exception raised when it is applied."""

    name = "mlreg/mlflow"

    def __init__(self):
        self.models: dict[str, dict] = {}
        self.versions: dict[str, list[dict]] = {}
        self.runs: dict[str, LiveRun] = {}
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.apply_id = None

    def describe(self) -> str:
        return "memory registry"

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

    def read(self, requests):
        out = {}
        for r in requests:
            assert isinstance(r, RegistryRequest), r
            models = {
                n: LiveModel(n, m["description"], dict(m["tags"]), dict(m["aliases"]))
                for n, m in self.models.items()
                if n in r.model_names
            }
            versions = {
                n: [
                    LiveVersion(n, v["version"], v["source"], v["run_id"], v["description"], dict(v["tags"]))
                    for v in vs
                ]
                for n, vs in self.versions.items()
                if n in r.model_names
            }
            by_name = {}
            for run in self.runs.values():
                by_name.setdefault((run.experiment_name, run.run_name), []).append(run)
            out[RegistryFacts] = RegistryFacts(
                models=models,
                versions=versions,
                runs=dict(self.runs),
                runs_by_name={k: v for k, v in by_name.items() if k in r.run_names},
            )
        return out

    def names(self, type_):
        return sorted(self.models)

    def begin_apply(self, apply_id: str) -> None:
        self.apply_id = apply_id

    def apply(self, change, phase, resolved):
        key = change.address if phase == "main" else f"{change.address}#{phase}"
        self.calls.append(key)
        if key in self.fail:
            raise self.fail[key]
        name = change.identity["name"]
        after = change.filled_after(resolved)
        if change.type == "model":
            if change.action is Action.DELETE:
                self.models.pop(name, None)
                self.versions.pop(name, None)
                return {"name": name}
            m = self.models.setdefault(name, {"description": "", "tags": {}, "aliases": {}})
            if phase == "aliases":
                m["aliases"] = {
                    **{a: v for a, v in m["aliases"].items() if a not in (change.before or {}).get("aliases", {})},
                    **after["aliases"],
                }
            else:
                if "description" in after:
                    m["description"] = after["description"]
                m["tags"].update(after.get("tags", {}))
            return {"name": name}
        vs = self.versions.setdefault(name, [])
        if change.action is Action.DELETE:
            self.versions[name] = [v for v in vs if v["version"] != change.identity["version"]]
            return dict(change.identity)
        tags = dict(after.get("tags", {}))
        if after.get("stage") is not None:
            tags["stage"] = after["stage"]
        if change.action is Action.CREATE:
            matcher = change.identity["matcher"]
            number = str(max((int(v["version"]) for v in vs), default=0) + 1)
            vs.append(
                {
                    "version": number,
                    "source": matcher.get("source", f"runs:/{change.identity.get('run_id')}/model"),
                    "run_id": change.identity.get("run_id"),
                    "description": after.get("description", ""),
                    "tags": {**tags, "mlreg.apply_id": self.apply_id},
                }
            )
            return {"name": name, "version": number, "key": change.identity["key"]}
        v = next(v for v in vs if v["version"] == change.identity["version"])
        for k in (change.before or {}).get("tags", {}).keys() - tags.keys():
            v["tags"].pop(k, None)
        if (change.before or {}).get("stage") is not None and after.get("stage") is None:
            v["tags"].pop("stage", None)
        v["tags"].update(tags)
        if "description" in after:
            v["description"] = after["description"]
        return dict(change.identity)

    def apply_batch(self, changes, resolved):
        raise AssertionError("no batch kinds here")

    def add_version(self, name: str, source: str, run_id: str | None = None, **tags) -> str:
        self.models.setdefault(name, {"description": "", "tags": {}, "aliases": {}})
        vs = self.versions.setdefault(name, [])
        number = str(len(vs) + 1)
        vs.append({"version": number, "source": source, "run_id": run_id, "description": "", "tags": dict(tags)})
        return number


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

    def begin_apply(self, apply_id):
        pass

    def apply(self, change, phase, resolved):
        raise AssertionError("policy versions go in batches")

    def apply_batch(self, changes, resolved):
        if self.fail is not None:
            raise self.fail
        out = {}
        for c in changes:
            self.calls.append(c.address)
            ident = dict(c.identity)
            if c.action is Action.DELETE:
                self.rows.pop((ident["policy_id"], ident["version"]), None)
            else:
                after = c.filled_after(resolved.get(c.address, {}))
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
            out[c.address] = ident
        return out


def session(text: str, registry: MemoryRegistry, policies: MemoryPolicies, state: MemoryState) -> Session:
    loaded, diags = parse_config(("version: 1\n" + text).encode(), "registry.yaml", "/tmp", env={})
    assert not diags, [d.summary for d in diags]
    return Session(loaded, {registry.name: registry, policies.name: policies}, state)


def unavailable(what: str = "MLflow at memory") -> BackendUnavailable:
    return BackendUnavailable(f"{what} did not answer for 60 s (ConnectionError: Connection refused)")


def with_state(state: MemoryState, **changes) -> MemoryState:
    state.snapshot = replace(state.snapshot, **changes)
    return state
