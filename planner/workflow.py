"""The flows that are not presentation: plan (with its read phases), apply (a fresh or a saved
plan, under the lock, with history), drift and import. Typed against the ports only, so unit
tests drive them with in-memory providers and state; the CLI wires the real ones in.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlreg.planner import plan as planning
from mlreg.planner import planfile
from mlreg.planner.apply import ApplyResult, Progress, apply_plan
from mlreg.planner.config.schema import LoadedConfig
from mlreg.planner.drift import detect
from mlreg.planner.errors import BackendError, PlanRefused, UserError
from mlreg.planner.live import LiveSnapshot, Request, merge_facts
from mlreg.planner.model import EMPTY, DriftItem, Plan
from mlreg.planner.ports import LockInfo, Prefetched, Provider, StateBackend
from mlreg.planner.redact import redact
from mlreg.planner.statedata import StateSnapshot


@dataclass
class Session:
    """One registry file wired to its live systems and its state."""

    loaded: LoadedConfig
    providers: Mapping[str, Provider]
    state: StateBackend
    backends: Mapping[str, str] = EMPTY  # what it talks to, for people

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise KeyError(f"no provider {name!r} is configured")
        return found


def read(session: Session, requests: Iterable[Request]) -> dict[type, Any]:
    """One bulk read per provider, the providers in parallel."""
    by_provider: dict[str, list[Request]] = {}
    for r in requests:
        if r:
            by_provider.setdefault(r.provider, []).append(r)
    if not by_provider:
        return {}
    facts: dict[type, Any] = {}
    with ThreadPoolExecutor(max_workers=len(by_provider)) as pool:
        futures = [pool.submit(session.provider(name).read, reqs) for name, reqs in by_provider.items()]
        for f in futures:
            facts.update(f.result())
    return facts


def _merged(a: Mapping[type, Any], b: Mapping[type, Any]) -> dict[type, Any]:
    out = dict(a)
    for t, f in b.items():
        out[t] = merge_facts(out[t], f) if t in out else f
    return out


def read_live(
    session: Session, state: StateSnapshot | None = None, prefetch: Prefetched | None = None
) -> tuple[LiveSnapshot, StateSnapshot]:
    """The first read phase, started before state is read: everything the file names is read at
    once (the servers work while this process reads state); what only state names (forgotten
    resources) is topped up after. A read started before the file was validated (`prefetch`, from
    the same provider) counts as read."""
    early = planning.read_requests(session.loaded, StateSnapshot())
    ahead: dict[type, Any] = {}
    if prefetch is not None:
        t = type(prefetch.request)
        early = {**early, t: early[t].minus(prefetch.request)} if t in early else early
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(read, session, early.values())
        if state is None:
            state = session.state.read()
        full = planning.read_requests(session.loaded, state)
        if prefetch is not None:
            ahead = prefetch.result()
        facts = _merged(ahead, first.result())
    done = {
        t: r.merge(prefetch.request) if prefetch is not None and t is type(prefetch.request) else r
        for t, r in early.items()
    }
    missing = [r.minus(done[t]) if t in done else r for t, r in full.items()]
    if any(missing):
        facts = _merged(facts, read(session, missing))
    return LiveSnapshot(facts), state


def make_plan(
    session: Session,
    targets: Iterable[str] = (),
    state: StateSnapshot | None = None,
    prefetch: Prefetched | None = None,
) -> tuple[Plan, StateSnapshot]:
    live, state = read_live(session, state, prefetch)
    draft = planning.draft(session.loaded, state, live)
    more = read(session, draft.reads_needed())
    return planning.finish(draft, more, targets, session.backends), state


def drift(session: Session) -> list[DriftItem]:
    live, state = read_live(session)
    return detect(state, live)


# --- apply -------------------------------------------------------------------------------------


@dataclass
class ApplyOutcome:
    plan: Plan
    result: ApplyResult | None = None  # None: nothing to do
    history_id: str | None = None
    executed: dict[str, int] = field(default_factory=dict)


def plan_digest(plan: Plan) -> str:
    doc = planfile.document(plan)
    return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def history_record(plan: Plan, digest: str, lock: LockInfo, outcome: str, result: ApplyResult | None = None) -> dict:
    return {
        "id": lock.id,
        "operation": "apply",
        "who": lock.who,
        "host": lock.host,
        "pid": lock.pid,
        "started": lock.since,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "config_digest": plan.config_digest,
        "plan_digest": digest,
        "outcome": outcome,
        "summary": plan.summary.to_json(),
        "executed": dict(result.executed) if result else {},
        "changed": sorted(result.done) if result else [],
        "failed": {k: redact(v) for k, v in result.failed.items()} if result else {},
        "not_started": list(result.not_started) if result else [],
        "stopped": redact(result.stopped) if result and result.stopped else None,
        "serial": result.state.serial if result else None,
    }


def apply(
    session: Session,
    *,
    targets: Sequence[str] = (),
    saved: planfile.SavedPlan | None = None,
    show: Callable[[Plan], None] | None = None,
    confirm: Callable[[Plan], bool] | None = None,
    parallelism: int = 8,
    lock_timeout: float = 0.0,
    progress: Progress | None = None,
) -> ApplyOutcome:
    """Plan again under the lock and execute that plan.

    With `saved`, the plan made now must equal the saved one (else StalePlan, nothing applied):
    a saved plan is an approval of exactly these changes, not a list of instructions.
    `show(plan)` sees the plan first; `confirm(plan)` is asked before anything is written.
    """
    with session.state.lock("apply", lock_timeout) as lock:
        state = session.state.read()
        wanted = list(targets)
        if not wanted and saved is not None:  # a saved plan made with --target applies the same targets
            wanted = list((saved.model_extra or {}).get("targets") or [])
        plan, state = make_plan(session, wanted, state=state)
        if saved is not None:
            planfile.mismatch(saved, plan, session.loaded.path)
        if show is not None:
            show(plan)
        if plan.has_errors:
            raise PlanRefused("the plan has errors; nothing was applied")
        if not plan.pending:
            return ApplyOutcome(plan)
        if plan.has_changes and confirm is not None and not confirm(plan):
            raise UserError("apply cancelled")
        digest = plan_digest(plan)
        session.state.append_history(history_record(plan, digest, lock, "running"))
        for p in session.providers.values():
            p.begin_apply(lock.id)
        try:
            result = apply_plan(plan, state, session.providers, session.state, parallelism, progress)
        except BaseException:
            session.state.append_history(history_record(plan, digest, lock, "interrupted"))
            raise
        outcome = "failed" if result.failed or result.not_started else "succeeded"
        session.state.append_history(history_record(plan, digest, lock, outcome, result))
        return ApplyOutcome(plan, result, lock.id, result.executed)


# --- import --------------------------------------------------------------------------------------


@dataclass
class ImportSnapshot:
    live: LiveSnapshot
    models: list[str]
    policies: list[Any]  # importer.ImportedPolicy
    prompts: list[str]


def import_snapshot(
    session: Session, model_globs: Sequence[str], policy_globs: Sequence[str], prompt_globs: Sequence[str] = ()
) -> ImportSnapshot:
    """Read what `mlreg import` writes: models matching the globs (and those the chosen policies
    point at) with their versions and runs, the chosen policies' rows, and the chosen prompts."""
    from fnmatch import fnmatchcase

    from mlreg.planner.importer import ImportedPolicy
    from mlreg.planner.kinds.policy_version import PROVIDER as DB
    from mlreg.planner.kinds.policy_version import PolicyFacts, PolicyRequest
    from mlreg.planner.kinds.prompt import PromptRequest
    from mlreg.planner.kinds.registry import PROVIDER as MLFLOW
    from mlreg.planner.kinds.registry import RegistryFacts, RegistryRequest

    names = sorted(n for n in session.provider(MLFLOW).names("model") if any(fnmatchcase(n, g) for g in model_globs))
    policies: list[ImportedPolicy] = []
    if policy_globs:
        ids = session.provider(DB).names("policy_version")
        for g in policy_globs:
            label, _, pattern = g.rpartition("=")
            for pid in ids:
                if fnmatchcase(pid, pattern) and pid not in {p.policy_id for p in policies}:
                    policies.append(ImportedPolicy(label or f"policy_{pid[:8]}", pid))
    prompts = sorted(
        n for n in session.provider(MLFLOW).names("prompt") if any(fnmatchcase(n, g) for g in prompt_globs)
    )
    if not names and not policies and not prompts:
        raise UserError(
            "nothing matched: give --model NAME_OR_GLOB, --policy UUID_OR_GLOB and/or --prompt NAME_OR_GLOB"
        )
    facts = read(session, [PolicyRequest(policy_ids=frozenset(p.policy_id for p in policies))]) if policies else {}
    rows = facts.get(PolicyFacts, PolicyFacts()).policy_versions
    names = sorted(set(names) | {r.model_name for r in rows.values()})
    facts.update(
        read(
            session,
            [
                RegistryRequest(model_names=frozenset(names), runs_of_models=frozenset(names)),
                PromptRequest(names=frozenset(prompts)),
            ],
        )
    )
    missing = [n for n in names if n not in facts[RegistryFacts].models]
    if missing:
        raise UserError(f"policy versions point at models that do not exist: {', '.join(missing)}")
    return ImportSnapshot(LiveSnapshot(facts), names, policies, prompts)


def adopt(session: Session, live: LiveSnapshot, lock_timeout: float = 0.0) -> ApplyResult:
    """Record what `session.loaded` declares, which must equal `live` exactly (import)."""
    with session.state.lock("import", lock_timeout):
        state = session.state.read()
        plan = planning.build_plan(session.loaded, state, live)
        if plan.has_changes or plan.has_errors:
            from mlreg.planner.render.text import plan_text

            raise BackendError("the imported file does not match live exactly; nothing adopted:\n" + plan_text(plan))
        return apply_plan(plan, state, session.providers, session.state)
