"""Pure diff: desired (config) x live (facts) x recorded (state) -> changes and diagnostics.

Each kind diffs its own resources (kinds/); this module runs them in order, then adds deletions the
file opted into (`removed: … destroy: true`) and forgets what state has but the file no longer
declares. Only managed attributes take part; anything else on a live object is never looked at.
"""

from __future__ import annotations

from mlreg.planner.changes import Action, ActionReason, Change
from mlreg.planner.config.schema import Config
from mlreg.planner.kinds.base import Diff, DiffContext
from mlreg.planner.kinds.catalog import GRANTS, diff_order, kind_of
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import StateSnapshot


def diff_config(cfg: Config, state: StateSnapshot, live: LiveSnapshot) -> Diff:
    ctx = DiffContext(cfg=cfg, live=live, state=state, destroying=cfg.destroyed(), grants=GRANTS)
    for kind in diff_order():
        kind.diff(ctx)
    if state.resources:  # what state has and the file no longer declares is forgotten
        declared = {c.address for c in ctx.changes} | {d.address for d in ctx.diagnostics if d.address}
        declared |= {c.moved_from for c in ctx.changes if c.moved_from}  # kept, under its new address
        ctx.changes.extend(_forgotten(state, declared | ctx.skipped | _destroyed(ctx)))
    else:
        _destroyed(ctx)
    return ctx.freeze()


def _destroyed(ctx: DiffContext) -> set[str]:
    """Delete changes for `removed: destroy: true`; returns the addresses they cover."""
    handled = set()
    for addr, entry in sorted(ctx.destroying.items()):
        kind = kind_of(entry.at.type)
        found = kind.destroy(ctx, addr, entry.at.name, entry.at.key, entry)
        if found is None:
            if addr not in ctx.state.resources:
                handled.add(addr)  # gone live and not recorded: nothing to do
            continue  # gone live but recorded: plain forgetting covers it
        before, identity = found
        handled.add(addr)
        ctx.changes.append(
            Change(
                addr,
                kind.type,
                Action.DELETE,
                before,
                None,
                identity=identity,
                reason=ActionReason.REMOVED_DESTROY,
                note=entry.reason,
            )
        )
    return handled


def _forgotten(state: StateSnapshot, declared: set[str]) -> list[Change]:
    return [
        Change(
            addr, rs.type, Action.FORGET, rs.attributes, None, identity=rs.identity, reason=ActionReason.NOT_IN_CONFIG
        )
        for addr, rs in sorted((a, rs) for a, rs in state.resources.items() if a not in declared)
    ]
