"""`gateway_budget.NAME`: an MLflow AI Gateway budget policy (USD per window, scoped globally, to
the workspace, an endpoint or a user, alerting or rejecting).

MLflow's budgets have no name, so the name lives in state (name -> budget id) and in the budget's
`created_by`, which mlreg writes as `mlreg:NAME` on create (client free text MLflow keeps
verbatim): a lost create answer is found by it. A budget state does not know is adopted by
scope + target + window + action; two live budgets with that identity is an error naming both.
Changes are made in place (the id is kept). An endpoint target is written by name in the file and
by id in MLflow: the id is looked up at apply (after the endpoint is made), and a live target id
that names no endpoint any more shows as `<id> (no such endpoint)`, which drift reports. A live
budget on an endpoint holds it: the endpoint cannot be deleted until the budget is (`holds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Change, address
from mlreg.planner.kinds.base import Diff, DiffContext, Hold, Kind, created, decide, dump
from mlreg.planner.kinds.gateway_facts import LiveBudget
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.sections.gateway_budget import BudgetSpec
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "gateway_budget"
SECTION = "gateway.budgets"
ENDPOINT = "gateway_endpoint"
MARK = "mlreg:"  # created_by of the budgets mlreg makes: mlreg:NAME


@dataclass(frozen=True)
class BudgetFacts:
    budgets: dict[str, LiveBudget] = field(default_factory=dict)  # id -> every live budget of the workspace
    endpoint_ids: dict[str, str] = field(default_factory=dict)  # endpoint name -> id (live)
    note: str = ""

    def endpoint_name(self, endpoint_id: str) -> str | None:
        for name, eid in self.endpoint_ids.items():
            if eid == endpoint_id:
                return name
        return None


@dataclass(frozen=True)
class BudgetRequest(Request):
    provider = PROVIDER
    facts = BudgetFacts

    names: frozenset[str] = frozenset()  # budget names (all budgets are read: they have no name)
    endpoints: frozenset[str] = frozenset()  # endpoint names targets resolve


def window_of(every: str) -> tuple[int, str]:
    """`1 month` -> (1, "months"), as the section normalised it."""
    n, unit = every.split()
    return int(n), unit if unit.endswith("s") else unit + "s"


def amount(v: float) -> float | int:
    return int(v) if float(v).is_integer() else float(v)


def target_label(b: LiveBudget, facts: BudgetFacts) -> str | None:
    """The target in the file's words: the endpoint's name, or the user."""
    if b.scope != "endpoint" or b.target is None:
        return b.target
    return facts.endpoint_name(b.target) or f"{b.target} (no such endpoint)"


def values(b: LiveBudget, facts: BudgetFacts) -> dict:
    out = {"amount_usd": amount(b.amount), "every": b.every, "scope": b.scope, "action": b.action}
    target = target_label(b, facts)
    if target is not None:
        out["target"] = target
    return out


def wanted(spec: BudgetSpec) -> dict:
    out = {"amount_usd": amount(spec.amount_usd), "every": spec.every, "scope": spec.scope, "action": spec.action}
    if spec.target is not None:
        out["target"] = spec.target
    return out


def named(b: LiveBudget) -> str | None:
    """The file name of a budget mlreg made (its created_by), None for others."""
    who = b.created_by or ""
    return who[len(MARK) :] if who.startswith(MARK) else None


def match(name: str, spec: BudgetSpec, facts: BudgetFacts, recorded: ResourceState | None, taken: set[str]):
    """(the live budget `name` means or None, ids of an ambiguous match). State's id first, then
    the budget made as `mlreg:NAME`, then one by scope + target + window + action that no other
    name owns."""
    rec_id = recorded.identity.get("id") if recorded else None
    if rec_id in facts.budgets:
        return facts.budgets[rec_id], []
    mine = [b for b in facts.budgets.values() if named(b) == name]
    if mine:
        return (mine[0], []) if len(mine) == 1 else (None, [b.id for b in mine])
    target = spec.target
    if spec.scope == "endpoint":
        target = facts.endpoint_ids.get(spec.target)
        if target is None:  # the endpoint is made by this apply: nothing can target it yet
            return None, []
    every = window_of(spec.every)
    ident = (spec.scope, target, every[0], every[1], spec.action)
    same = [b for b in facts.budgets.values() if b.identity == ident and b.id not in taken and named(b) is None]
    if len(same) > 1:
        return None, [b.id for b in same]
    return (same[0] if same else None), []


class BudgetKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("gateway", "budgets")
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 66  # after the endpoints it targets
    keyed: ClassVar[bool] = False
    section: ClassVar[str] = SECTION

    def declared_requests(self, cfg) -> Iterable[BudgetRequest]:
        declared = self._entries(cfg)
        names = set(declared) | self.destroyed_names(cfg)
        if names:
            targets = {s.target for s in declared.values() if s.scope == "endpoint"}
            yield BudgetRequest(names=frozenset(names), endpoints=frozenset(targets))

    def recorded_requests(self, resources) -> Iterable[BudgetRequest]:
        names = self.recorded_names(resources)
        if names:
            yield BudgetRequest(names=frozenset(names))

    def more_reads(self, diff: Diff) -> Iterable[BudgetRequest]:
        """Every budget and the ids of endpoints being deleted (a budget on one holds it)."""
        doomed = frozenset(c.identity.get("name") for c in diff.of_type(ENDPOINT) if c.action is Action.DELETE)
        if doomed:
            yield BudgetRequest(endpoints=doomed - {None})

    def import_id(self, change: Change) -> str | None:
        return change.identity.get("id")

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[BudgetFacts]
        declared = self._entries(ctx.cfg)
        taken = {
            rs.identity.get("id")
            for addr, rs in ctx.state.resources.items()
            if rs.type == TYPE and rs.identity.get("name") in declared
        }
        for name, spec in declared.items():
            self._diff_one(ctx, facts, name, spec, taken)

    def _diff_one(self, ctx: DiffContext, facts: BudgetFacts, name: str, spec: BudgetSpec, taken: set[str]) -> None:
        addr = address(TYPE, name)
        if spec.scope == "endpoint" and address(ENDPOINT, spec.target) in ctx.destroying:
            ctx.error(
                f"Budget {name!r} targets endpoint {spec.target!r}, which is being deleted",
                "take the budget out (or list it under removed with destroy: true) before deleting the endpoint",
                addr,
            )
            return
        if spec.scope == "endpoint" and not self._endpoint_known(ctx, facts, spec.target):
            ctx.error(
                f"Budget {name!r} targets endpoint {spec.target!r}, which is neither declared nor live",
                "name an endpoint of gateway.endpoints, or one that exists in this workspace",
                addr,
            )
            return
        recorded = ctx.state.resources.get(addr)
        mine = {recorded.identity.get("id")} if recorded else set()
        b, ids = match(name, spec, facts, recorded, taken - mine)
        if ids:
            ctx.error(
                f"{len(ids)} live budgets match budget {name!r}: {', '.join(ids)}",
                "mlreg adopts a budget by scope + target + window + action (or its created_by, mlreg:NAME): "
                "delete or change the extra one in MLflow",
                addr,
            )
            return
        after = wanted(spec)
        # an endpoint the file declares is made (or renamed into place) before the budget on it
        declared = getattr(ctx.cfg.gateway, "endpoints", None) or {}
        depends = (address(ENDPOINT, spec.target),) if spec.scope == "endpoint" and spec.target in declared else ()
        if b is None:
            identity = {"name": name, "id": None}
            ctx.changes.append(created(addr, TYPE, after, recorded, identity=identity, depends_on=depends))
            return
        identity = {"name": name, "id": b.id}
        ctx.changes.append(decide(addr, TYPE, values(b, facts), after, recorded, identity, depends_on=depends))

    @staticmethod
    def _endpoint_known(ctx: DiffContext, facts: BudgetFacts, endpoint: str) -> bool:
        """Live, declared in the file (made by this apply, before the budget), or unknowable yet
        (the store does not exist: apply makes everything)."""
        declared = getattr(ctx.cfg.gateway, "endpoints", None) or {}
        return endpoint in facts.endpoint_ids or endpoint in declared or bool(facts.note)

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        facts = ctx.live[BudgetFacts]
        recorded = ctx.state.resources.get(addr)
        rec_id = recorded.identity.get("id") if recorded else None
        found = [b for b in facts.budgets.values() if b.id == rec_id or (rec_id is None and named(b) == name)]
        if len(found) > 1:
            ctx.error(f"{len(found)} live budgets are named {name!r}: {', '.join(b.id for b in found)}", "", addr)
            return None
        if not found:
            return None
        return values(found[0], facts), {"name": name, "id": found[0].id}

    def holds(self, diff: Diff, live: LiveSnapshot) -> Iterable[Hold]:
        facts = live[BudgetFacts]
        for b in facts.budgets.values():
            if b.scope != "endpoint" or b.target is None:
                continue
            label = f"budget {named(b) or '(made by hand)'} ({b.id})"
            hint = "delete the budget first (list it under removed with destroy: true), or point it elsewhere"
            summary = "Cannot delete: budgets target it"
            yield Hold((ENDPOINT, b.target), (TYPE, b.id), summary, label, hint)
            endpoint = facts.endpoint_name(b.target)
            if endpoint:
                yield Hold((ENDPOINT, "name", endpoint), (TYPE, b.id), summary, label, hint)

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        return ((TYPE, change.identity.get("id")),)

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        facts = live[BudgetFacts]
        b = facts.budgets.get(rs.identity.get("id"))
        if b is None:
            return None, None, None
        return values(b, facts), b.last_updated, b.last_updated_by

    def gone_note(self, rs: ResourceState) -> str:
        return f"budget {rs.identity.get('id')} no longer exists"


KIND = BudgetKind()


def import_name(b: LiveBudget, facts: BudgetFacts) -> str:
    """The name `mlreg import` gives a live budget: the one mlreg made it with (`mlreg:NAME`), else
    one made of what identifies it (`planner_chat_1_months_reject`, `global_1_days_alert`), which
    adopts it again by scope + target + window + action."""
    found = named(b)
    if found:
        return found
    target = target_label(b, facts) if b.target is not None else b.scope
    text = f"{target}_{b.every_value}_{b.every_unit}_{b.action}"
    return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in text)


def budget_lines(facts: BudgetFacts, endpoints: Iterable[str]) -> list[str]:
    """`  budgets:` with the live budgets that target these endpoints (`mlreg import`, under
    `gateway:`), each named by `import_name`."""
    wanted = set(endpoints)
    lines = ["  budgets:"]
    for b in sorted(facts.budgets.values(), key=lambda b: b.id):
        if b.scope == "endpoint" and b.target and facts.endpoint_name(b.target) in wanted:
            lines.append(f"    {dump(import_name(b, facts))}: {dump(values(b, facts))}   # id {b.id}")
    return lines


def targets(live: LiveSnapshot) -> Mapping[str, list[str]]:
    """Endpoint name -> the ids of live budgets that target it (for import)."""
    facts = live[BudgetFacts]
    out: dict[str, list[str]] = {}
    for b in facts.budgets.values():
        name = facts.endpoint_name(b.target) if b.scope == "endpoint" and b.target else None
        if name:
            out.setdefault(name, []).append(b.id)
    return out
