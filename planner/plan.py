"""Build a plan, purely, in explicit phases; the caller does the reads between them (workflow.py):

    reads 1a = declared_reads(cfg)                       what the file names: read before state is known
    reads 1b = recorded_reads(state).minus(1a)           what only state names (forgotten resources)
    d        = diff(loaded, state, live)                 desired x live x recorded -> a frozen Diff
    reads 2  = rule_reads(d)                             what the kinds' rules need (runs behind promotions)
    plan     = finish(loaded, d, live + reads 2, …)      rules, delete protections, order, targets, drift

The planner is given a state snapshot and live facts; it never reads or writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from mlreg.planner import diagnostics as dg
from mlreg.planner.changes import EMPTY, Action, Address, Change, Plan, Summary
from mlreg.planner.config.base import did_you_mean
from mlreg.planner.config.schema import Config, LoadedConfig
from mlreg.planner.declared import Declared
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.diff import diff_config
from mlreg.planner.drift import detect
from mlreg.planner.kinds.base import Diff, Hold
from mlreg.planner.kinds.catalog import KINDS, kind_of
from mlreg.planner.live import LiveSnapshot, Reads
from mlreg.planner.perf import no_gc_pauses
from mlreg.planner.recorded import ResourceState, StateSnapshot


def declared_reads(cfg: Config) -> Reads:
    """Read phase 1a: everything the file names."""
    return Reads.of(r for kind in KINDS.values() for r in kind.declared_requests(cfg))


def recorded_reads(state: StateSnapshot) -> Reads:
    """Read phase 1b: what the recorded resources need read (those the file no longer names)."""
    return resource_reads(state.resources.items())


def resource_reads(resources: Iterable[tuple[str, ResourceState]]) -> Reads:
    """What these resources need read (recorded ones, or apply's read-back of what it wrote)."""
    by_type: dict[str, list[tuple[str, ResourceState]]] = {}
    with no_gc_pauses():
        for a, rs in resources:  # one pass, each kind then sees only its own resources
            by_type.setdefault(rs.type, []).append((a, rs))
    return Reads.of(r for t, own in by_type.items() if t in KINDS for r in KINDS[t].recorded_requests(own))


def diff(loaded: LoadedConfig, state: StateSnapshot, live: LiveSnapshot) -> Diff:
    with no_gc_pauses():
        return diff_config(loaded.config, state, live)


def rule_reads(d: Diff) -> Reads:
    """Read phase 2: what the kinds' rules need that the first phase did not read."""
    return Reads.of(r for kind in KINDS.values() for r in kind.more_reads(d))


def finish(
    loaded: LoadedConfig,
    d: Diff,
    live: LiveSnapshot,
    targets: Iterable[str] = (),
    backends: Mapping[str, str] = EMPTY,
) -> Plan:
    """The plan of a diff, with `live` holding everything read (both phases)."""
    with no_gc_pauses():
        diagnostics = list(d.diagnostics)
        highlights = []
        notes = []
        for kind in KINDS.values():
            found = kind.judge(d, live)
            diagnostics.extend(found.diagnostics)
            highlights.extend(found.highlights)
            notes.extend(found.notes)
        diagnostics.extend(protections(d, live))
        diagnostics.extend(dg.warning(note) for note in live.notes())
        # Apply order by kind; within a kind the order of the file (deletions and forgets last).
        kinds = sorted(d.by_type, key=lambda t: KINDS[t].rank)
        changes = targeted([c for t in kinds for c in d.by_type[t]], targets)
        diagnostics.extend(targeting(d.changes, targets))
        acting = [c for c in changes if c.action is not Action.NOOP or c.record_only] if targets else d.acting
        touched = {c.address for c in acting} | {c.moved_from for c in acting if c.moved_from}
        declared = Declared(loaded)
        return Plan(
            config_path=loaded.path,
            config_digest=loaded.digest,
            lineage=d.state.lineage,
            serial=d.state.serial,
            changes=tuple(changes),
            drift=(*detect(d.state, live, only=touched, notes=False), *notes),
            highlights=tuple(highlights),
            diagnostics=tuple(_located(diagnostics, declared)),
            edges=d.edges,
            backends=backends,
            targets=tuple(sorted(set(targets))),
            summary=Summary.of(changes, d.state.resources),
            declared=declared,
            prior=d.state,
        )


def _located(diagnostics: list[Diagnostic], declared: Declared) -> list[Diagnostic]:
    """Diagnostics about a declared resource name the file (and line) that declares it."""
    out = []
    for d in diagnostics:
        if d.address and not d.file:
            file, line = declared.where(Address.parse(d.address))
            if file:
                d = replace(d, file=file, line=line, column=None)
        out.append(d)
    return out


def build_plan(loaded: LoadedConfig, state: StateSnapshot, live: LiveSnapshot, targets: Iterable[str] = ()) -> Plan:
    """Every phase against what `live` already holds (tests, benchmarks, import's adoption)."""
    d = diff(loaded, state, live)
    return finish(loaded, d, live, targets)


def protections(d: Diff, live: LiveSnapshot) -> list[Diagnostic]:
    """Nothing that something live still holds is deleted (a version a policy row points at, a
    policy row an experiment variant uses), unless its holder is deleted in the same plan."""
    deleted = [c for c in d.acting if c.action is Action.DELETE]
    if not deleted:
        return []
    doomed = {key for c in deleted for key in kind_of(c.type).hold_keys(c)}
    by_target: dict[tuple, list[Hold]] = {}
    for kind in KINDS.values():
        for hold in kind.holds(d, live):
            if hold.holder is None or hold.holder not in doomed:
                by_target.setdefault(hold.target, []).append(hold)
    out = []
    for c in deleted:
        grouped: dict[str, list[Hold]] = {}
        for key in kind_of(c.type).hold_keys(c):
            for hold in by_target.get(key, ()):
                grouped.setdefault(hold.summary, []).append(hold)
        for summary, holds in grouped.items():
            labels = ", ".join(sorted(dict.fromkeys(h.label for h in holds)))
            out.append(dg.error(f"{summary}: {labels}", holds[0].hint, c.address))
    return out


def targeting(changes: Iterable[Change], targets: Iterable[str]) -> list[Diagnostic]:
    """A target that names nothing in the file or in state is an error (it would otherwise read
    as "no changes" while real ones wait), with a suggestion of the same kind; any target at all
    earns Terraform's warning."""
    targets = sorted(set(targets))
    if not targets:
        return []
    changes = list(changes)
    known = set()
    for c in changes:
        known.add(c.address)
        parent = KINDS[c.type].parent
        if parent:
            known.add(f"{parent}.{c.at.name}")
    out = [
        dg.error(
            f"--target {t} matches nothing in the file or in state{_suggestion(t, changes, known)}",
            "give an address that `mlreg plan` lists, such as model.NAME, model_version.NAME[KEY] "
            "(KEY v3, run:RUN_ID/model, …) or policy_version.POLICY[VERSION]",
        )
        for t in targets
        if t not in known
    ]
    out.append(
        dg.warning(
            "Resource targeting is in effect",
            "this plan covers only " + ", ".join(targets) + " and what they depend on; it may not show every "
            "change the file asks for. Use --target for exceptional cases, then run a full plan.",
        )
    )
    return out


def _suggestion(target: str, changes: list[Change], known: set[str]) -> str:
    """`; did you mean …?` among addresses of the target's own kind: the one that has the number
    it names (`[v2]` for a version the file names by its run), else the nearest spelling."""
    parsed = Address.parse(target)
    if parsed is None:
        return did_you_mean(target, known)
    for c in changes:
        same_name = c.type == parsed.type and c.address.startswith(f"{parsed.type}.{parsed.name}[")
        if same_name and parsed.key and kind_of(c.type).number_label(c) == parsed.key:
            return f"; did you mean {c.address!r} (the file names {parsed.key} that way)?"
    same = {a for a in known if a.startswith(f"{parsed.type}.")}
    return did_you_mean(target, same or known)


def targeted(changes: list[Change], targets: Iterable[str]) -> list[Change]:
    """Targets and everything they depend on; a parent's address takes its children too
    (`model.NAME` its versions, `prompt.NAME` its versions)."""
    targets = set(targets)
    if not targets:
        return changes
    by_addr = {c.address: c for c in changes}
    wanted = set()
    for c in changes:
        parent = KINDS[c.type].parent
        if c.address in targets or (parent and f"{parent}.{c.at.name}" in targets):
            wanted.add(c.address)
    stack = list(wanted)
    while stack:
        c = by_addr.get(stack.pop())
        for dep in c.depends_on if c else ():
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [c for c in changes if c.address in wanted]
