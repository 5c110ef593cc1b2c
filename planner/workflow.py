"""The flows: plan (with its read phases), apply (a fresh or a saved plan, under the lock, with
history), drift and import: what runs in which order, not what people read (render/ does that;
only two errors these flows raise quote values in their message: a write that does not read
back, and an import that does not match live, which shows the plan as text). Typed against the
ports only, so unit tests drive them with in-memory providers and state; the CLI's wiring passes
the real ones in.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from mlreg.planner import plan as planning
from mlreg.planner import planfile
from mlreg.planner.apply import ApplyResult, Progress, apply_plan
from mlreg.planner.changes import EMPTY, Action, ActionReason, DriftItem, Plan
from mlreg.planner.config.schema import LoadedConfig
from mlreg.planner.drift import detect
from mlreg.planner.errors import BackendError, MlregError, PlanRefused, UserError
from mlreg.planner.kinds.base import Chosen
from mlreg.planner.kinds.catalog import KINDS, importable
from mlreg.planner.live import LiveSnapshot, Reads
from mlreg.planner.perf import no_gc_pauses
from mlreg.planner.ports import LockInfo, Prefetched, Provider, StateBackend
from mlreg.planner.recorded import StateSnapshot
from mlreg.planner.redact import redact
from mlreg.planner.secrets import Hasher


@dataclass
class Session:
    """One registry file wired to its live systems and its state."""

    loaded: LoadedConfig
    providers: Mapping[str, Provider]
    state: StateBackend
    backends: Mapping[str, str] = EMPTY  # what it talks to, for people
    # what it talks to, without credentials: state remembers it, and is not planned elsewhere
    endpoints: Mapping[str, str] = EMPTY
    reconfigure: bool = False  # accept endpoints other than those state was recorded against

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise KeyError(f"no provider {name!r} is configured")
        return found


def read(session: Session, reads: Reads) -> dict[type, Any]:
    """One read phase: one bulk read per provider, the providers in parallel."""
    by_provider: dict[str, list] = {}
    for r in reads:
        by_provider.setdefault(r.provider, []).append(r)
    if not by_provider:
        return {}
    facts: dict[type, Any] = {}
    with ThreadPoolExecutor(max_workers=len(by_provider)) as pool:
        futures = [pool.submit(session.provider(name).read, reqs) for name, reqs in by_provider.items()]
        for f in futures:
            facts.update(f.result())
    return facts


def read_live(
    session: Session, state: StateSnapshot | None = None, prefetch: Prefetched | None = None
) -> tuple[LiveSnapshot, StateSnapshot]:
    """Read phase 1: what the file names is read at once, while this process reads state (the
    servers work meanwhile); what only state names (forgotten resources) is read after. A read
    started before the file was validated (`prefetch`) counts as read."""
    declared = planning.declared_reads(session.loaded.config)
    done = prefetch.reads if prefetch is not None else Reads()
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(read, session, declared.minus(done))
        if state is None:
            with no_gc_pauses():  # a large state is a million objects, none in a cycle
                state = session.state.read()
        live = LiveSnapshot(prefetch.result() if prefetch is not None else {})
        live = live.with_facts(first.result())
    rest = planning.recorded_reads(state).minus(declared.plus(done))
    if rest:
        live = live.with_facts(read(session, rest))
    return live, state


def check_bound(session: Session, state: StateSnapshot | None = None) -> None:
    """Refuse a state recorded against other endpoints (planning it here would re-create or forget
    everything), unless the session accepts the new ones deliberately (`--reconfigure`). Without
    `state`, asks the backend cheaply (before anything live is read)."""
    if session.reconfigure or not session.endpoints:
        return
    recorded_at, has_resources = (state.endpoints, bool(state.resources)) if state else session.state.endpoints()
    if not recorded_at or not has_resources:
        return
    differ = {k for k in session.endpoints if k in recorded_at and recorded_at[k] != session.endpoints[k]}
    if differ:
        recorded = ", ".join(f"{k} {recorded_at[k]}" for k in sorted(differ))
        now = ", ".join(f"{k} {session.endpoints[k]}" for k in sorted(differ))
        raise UserError(
            f"state was recorded against {recorded}, but this configuration uses {now}: planning it here "
            "would re-create or forget everything it records; if the move is deliberate, run with "
            "--reconfigure (as `terraform init -reconfigure`)"
        )


def make_plan(
    session: Session,
    targets: Iterable[str] = (),
    state: StateSnapshot | None = None,
    prefetch: Prefetched | None = None,
) -> tuple[Plan, StateSnapshot]:
    check_bound(session, state)
    live, state = read_live(session, state, prefetch)
    diff = planning.diff(session.loaded, state, live)
    live = live.with_facts(read(session, planning.rule_reads(diff)))  # read phase 2
    return planning.finish(session.loaded, diff, live, targets, session.backends), state


def drift(session: Session) -> list[DriftItem]:
    check_bound(session)
    live, state = read_live(session)
    return detect(state, live, cfg=session.loaded.config)


# --- apply -------------------------------------------------------------------------------------


@dataclass
class ApplyOutcome:
    plan: Plan
    result: ApplyResult | None = None  # None: nothing to do


@dataclass(frozen=True)
class Misread:
    """A resource apply wrote that does not read back as planned."""

    address: str
    attribute: str | None  # None: the whole resource (gone, or still there after a delete)
    planned: Any
    live: Any

    def __str__(self) -> str:
        from mlreg.planner.render.text import value

        if self.attribute is None:
            return f"{self.address} reads back as {self.live} (planned: {self.planned})"
        return f"{self.address} reads back {self.attribute} = {value(self.live)} (planned {value(self.planned)})"


class ReadBackMismatch(MlregError):
    """Apply reported success, but what it wrote does not read back as planned."""

    def __init__(self, misreads: list[Misread]):
        lines = [f"apply reported success, but {m}" for m in misreads]
        super().__init__(
            "\n".join(lines)
            + "\nthose changes are not recorded as applied; check the server (a proxy or a read replica "
            "answering for it?), then run `mlreg plan` again"
        )
        self.misreads = misreads


def read_back(session: Session, plan: Plan, result: ApplyResult) -> list[Misread]:
    """One bulk read of every resource apply wrote, compared with what the plan said it would be
    (the values state now records): any difference is a misread."""
    from mlreg.planner.drift import compare
    from mlreg.planner.kinds.catalog import kind_of
    from mlreg.planner.recorded import ResourceState

    written = set(result.written)
    changes = [c for c in plan.changes if c.address in written]
    if not changes:
        return []
    deleted = {c.address: ResourceState(c.type, dict(c.identity), {}) for c in changes if c.action is Action.DELETE}
    present = [c.address for c in changes if c.address not in deleted]
    reads = planning.resource_reads([*((a, result.state.resources[a]) for a in present), *deleted.items()])
    live = LiveSnapshot(read(session, reads))
    out = []
    for addr in present:
        rs = result.state.resources[addr]
        kind = kind_of(rs.type)
        now, _, _ = kind.live_values(rs, live)
        if now is None:
            out.append(Misread(addr, None, "present", "gone"))
            continue
        hasher = Hasher(result.state.secret_key)
        for d in compare(
            addr, rs.type, rs.attributes, now, sensitive=kind.sensitive, per_key=kind.per_key, hasher=hasher
        ):
            out.append(Misread(addr, d.attribute, d.recorded, d.live))
    for addr, rs in deleted.items():
        if kind_of(rs.type).live_values(rs, live)[0] is not None:
            out.append(Misread(addr, None, "deleted", "still there"))
    return out


def _unrecord(session: Session, before: StateSnapshot, result: ApplyResult, addresses: set[str]) -> None:
    """Put back what state recorded before this apply for resources that did not read back."""
    resources = dict(result.state.resources)
    for addr in addresses:
        if addr in before.resources:
            resources[addr] = before.resources[addr]
        else:
            resources.pop(addr, None)
    result.state = replace(result.state, serial=result.state.serial + 1, resources=resources)
    session.state.write(result.state)


def plan_digest(plan: Plan) -> str:
    doc = planfile.document(plan, configuration_section=False)  # what the plan does, not where it is written
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
        # live values this apply put back to what was recorded (drift), per address
        "reverted": {
            c.address: {k: v for k, v in (c.before or {}).items() if (c.after or {}).get(k) != v}
            for c in plan.changes
            if c.reason is ActionReason.REVERT_DRIFT and result is not None and c.address in result.written
        },
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
        state = session.state.read().with_secret_key()  # the hashes apply records are keyed by it
        wanted = list(targets) or (list(saved.targets) if saved is not None else [])
        plan, state = make_plan(session, wanted, state=state)
        if saved is not None:
            saved.require_same(plan, session.loaded.path)
        if show is not None:
            show(plan)
        if plan.has_errors:
            raise PlanRefused("the plan has errors; nothing was applied")
        moved = session.reconfigure and state.endpoints != dict(session.endpoints)
        if not plan.pending and not moved:
            return ApplyOutcome(plan)
        if plan.has_changes and confirm is not None and not confirm(plan):
            raise UserError("apply cancelled")
        digest = plan_digest(plan)
        session.state.append_history(history_record(plan, digest, lock, "running"))
        if plan.pending or moved:  # what it was applied against, recorded with what it applied
            state = replace(state, endpoints=dict(session.endpoints))
        try:
            result = apply_plan(plan, state, session.providers, session.state, lock.id, parallelism, progress)
            # a backend that stopped answering has been reported; what completed is recorded
            misreads = read_back(session, plan, result) if not result.stopped else []
        except BaseException:
            session.state.append_history(history_record(plan, digest, lock, "interrupted"))
            raise
        if moved and result.state.serial == state.serial:  # nothing else to write: the endpoints alone
            result.state = replace(result.state.with_lineage(), serial=state.serial + 1)
            session.state.write(result.state)
        if misreads:
            _unrecord(session, state, result, {m.address for m in misreads})
            record = history_record(plan, digest, lock, "failed", result)
            session.state.append_history({**record, "read_back": [str(m) for m in misreads]})
            raise ReadBackMismatch(misreads)
        outcome = "failed" if result.failed or result.not_started else "succeeded"
        session.state.append_history(history_record(plan, digest, lock, outcome, result))
        return ApplyOutcome(plan, result)


# --- import --------------------------------------------------------------------------------------


@dataclass
class ImportSnapshot:
    """What `mlreg import` read: the chosen objects of each importable kind, and their facts."""

    live: LiveSnapshot
    chosen: dict[str, list[Chosen]]  # kind type -> chosen objects, in the order they are written
    # kind type -> how many live objects of a kind nobody asked for exist (said, not imported)
    not_asked: dict[str, int] = field(default_factory=dict)


class ImportMismatch(MlregError):
    """The file `mlreg import` wrote does not describe what is live exactly (nothing adopted)."""


def import_snapshot(session: Session, patterns: Mapping[str, Sequence[str]]) -> ImportSnapshot:
    """Read what `mlreg import` writes: for each importable kind, the live objects matching its
    patterns (kind type -> globs), plus the objects those need (the models policies point at)."""
    chosen: dict[str, list[Chosen]] = {}
    not_asked: dict[str, int] = {}
    for kind in importable():
        if patterns.get(kind.type):
            names = session.provider(kind.provider).names(kind.type)
            chosen[kind.type] = kind.importer.choose(names, patterns[kind.type])
        else:
            try:
                not_asked[kind.type] = len(session.provider(kind.provider).names(kind.type))
            except BackendError:  # a server without that feature (no auth app, no workspaces)
                pass
    if not any(chosen.values()):
        options = ", ".join(f"--{k.importer.option} {k.importer.metavar}" for k in importable())
        raise UserError(f"nothing matched: give {options}")
    live = LiveSnapshot(read(session, _import_reads(chosen)))
    more: dict[str, list[Chosen]] = {}
    for type_, picked in chosen.items():
        for other, names in KINDS[type_].importer.follow(live, picked).items():
            have = {c.name for c in chosen.get(other, []) + more.get(other, [])}
            more.setdefault(other, []).extend(Chosen(n, n) for n in sorted(set(names) - have))
    if any(more.values()):
        live = live.with_facts(read(session, _import_reads(more)))
        for type_, extra in more.items():
            chosen[type_] = sorted(chosen.get(type_, []) + extra, key=lambda c: c.name)
            not_asked.pop(type_, None)
    for type_, picked in chosen.items():
        gone = KINDS[type_].importer.missing(live, picked)
        if gone:
            raise UserError(f"the objects imported point at {type_} resources that do not exist: {', '.join(gone)}")
    return ImportSnapshot(live, chosen, {t: n for t, n in not_asked.items() if n})


def _import_reads(chosen: Mapping[str, list[Chosen]]) -> Reads:
    return Reads.of(r for type_, picked in chosen.items() if picked for r in KINDS[type_].importer.requests(picked))


def adopt(session: Session, live: LiveSnapshot, lock_timeout: float = 0.0) -> ApplyResult:
    """Record what `session.loaded` declares, which must equal `live` exactly (import). Facts of a
    type the import did not read (the model definitions and secrets an endpoint's import writes
    with it, read as the endpoint's facts) are read now."""
    unread = Reads.of(r for r in planning.declared_reads(session.loaded.config) if r.facts not in live.facts())
    if unread:
        live = live.with_facts(read(session, unread))
    with session.state.lock("import", lock_timeout) as lock:
        state = session.state.read().with_secret_key()
        check_bound(session, state)
        state = replace(state, endpoints=dict(session.endpoints))
        plan = planning.build_plan(session.loaded, state, live)
        left = [c.address for c in plan.changes if c.action is Action.FORGET]
        if left:
            raise ImportMismatch(
                f"state already manages {len(left)} resource(s) that the imported file does not declare; "
                "nothing adopted:\n" + "\n".join(f"  {a}" for a in left) + "\nimport them too (another --model, "
                "--prompt, … pattern), or import into a state of its own (another state.path or workspace)"
            )
        if plan.summary.total or plan.has_errors:  # only adoptions: live equals the file
            from mlreg.planner.render.text import plan_text

            raise ImportMismatch("the imported file does not match live exactly; nothing adopted:\n" + plan_text(plan))
        return apply_plan(plan, state, session.providers, session.state, lock.id)
