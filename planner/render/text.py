"""Text for terminals and CI logs: plans, drift, diagnostics, apply progress.

Every string leaves through `redact`, so no secret reaches a terminal, a PR comment or a file;
every untrusted value is interpolated through `escape.text` (a value never starts a line of its
own), and what is printed passes `escape.ci_safe` in the CLI (no line begins with `::`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

from mlreg.planner import secrets
from mlreg.planner.changes import Action, ActionReason, Change, DriftItem, Plan
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.kinds.catalog import kind_of, topics
from mlreg.planner.redact import redact
from mlreg.planner.render.escape import text as esc

if TYPE_CHECKING:
    from mlreg.planner.apply import Event

NO_CHANGES = "No changes. The registry matches registry.yaml."
NO_TARGETED_CHANGES = "No changes for the targeted resources (resource targeting is in effect; others may be pending)."


def no_changes(plan: Plan) -> str:
    return NO_TARGETED_CHANGES if plan.targets else NO_CHANGES


SENSITIVE = secrets.SENSITIVE
_VERB = {
    Action.CREATE: "created",
    Action.UPDATE: "updated in-place",
    Action.DELETE: "deleted",
    Action.FORGET: "forgotten",
}
_LEGEND = {Action.CREATE: "create", Action.UPDATE: "update in-place", Action.DELETE: "delete", Action.FORGET: "forget"}
_COLOR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red", Action.FORGET: "cyan"}
ADOPT = "="  # adopted as it is (Terraform's import): apply records it, writes nothing live
MOVE = ">"  # recorded under a new address (Terraform's moved): apply writes nothing live


def _number(change: Change) -> str:
    label = kind_of(change.type).number_label(change)
    return f", {label}" if label else ""


class Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        if not self.color:
            return text
        import click

        return click.style(text, fg=fg, bold=bold)


def value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v)
    return json.dumps(v, sort_keys=True)


def flat(d: Mapping | None, per_key=()) -> dict[str, Any]:
    """Values one per line: the kind's `per_key` maps (tags) key by key; other dicts
    (config_defaults) stay whole."""
    out = {}
    for k, v in (d or {}).items():
        if k in per_key and isinstance(v, Mapping):
            for sub, subv in v.items():
                out[f"{k}.{sub}"] = subv
        else:
            out[k] = v
    return out


def _shown(change: Change, key: str, v: Any) -> str:
    return SENSITIVE if secrets.hidden(key, v, kind_of(change.type).sensitive) else value(v)


def _attribute_lines(change: Change, style: Style) -> list[str]:
    kind = kind_of(change.type)
    before, after = flat(change.before, kind.per_key), flat(change.after, kind.per_key)
    unknown = set(change.after_unknown)
    keys = list(dict.fromkeys([*after, *before]))
    names = {k: esc(k) for k in keys}  # tag keys come from live systems and state too
    width = max((len(n) for n in names.values()), default=0)
    lines = []
    for k in keys:
        name = names[k].ljust(width)
        new = "(known after apply)" if k in unknown else _shown(change, k, after.get(k))
        if change.action is Action.CREATE:
            lines.append(f"      {style('+', 'green')} {name} = {new}")
        elif change.action in (Action.FORGET, Action.DELETE):
            mark = style("-", "red") if change.action is Action.DELETE else " "
            lines.append(f"      {mark} {name} = {_shown(change, k, before.get(k))}")
        elif k not in after:
            lines.append(f"      {style('-', 'red')} {name} = {_shown(change, k, before[k])}")
        elif k not in before and k not in unknown:
            lines.append(f"      {style('+', 'green')} {name} = {new}")
        elif k in unknown or before.get(k) != after.get(k):
            if k in secrets.sensitive_keys(kind.sensitive, before, after):
                lines.append(f"      {style('~', 'yellow')} {name} = {SENSITIVE}")
            else:
                lines.append(f"      {style('~', 'yellow')} {name} = {value(before.get(k))} -> {new}")
        elif k in kind.context:  # what identifies it, shown though unchanged
            lines.append(f"        {name} = {new}")
    return lines


def adopted_ids(plan: Plan) -> dict[str, str]:
    """address -> the id of the live object the plan adopts (Terraform's `importing.id`)."""
    return {c.address: str(kind_of(c.type).import_id(c)) for c in plan.adoptions}


def _change_block(change: Change, style: Style, adopted: str | None = None) -> list[str]:
    """A change as Terraform shows one: why in comments, then its symbol, address and attributes."""
    a = change.action
    address = esc(change.address)
    if a is Action.NOOP and change.moved_from:  # Terraform's `moved`: only state changes
        notes = [
            style(f"  # {esc(change.moved_from)} has moved to {address}", bold=True),
            f"  # (the same live object{_number(change)}: its history stays with it; nothing live is written)",
        ]
        return _block(change, style, notes, style(MOVE, "cyan"))
    if a is Action.NOOP:  # adopted as it is: only state changes
        notes = [style(f"  # {address} will be adopted (it exists live; apply only records it)", bold=True)]
        return _block(change, style, notes, style(ADOPT, "cyan"), [f"        id = {value(adopted)}"])
    notes = [style(f"  # {address} will be {_VERB[a]}", bold=True)]
    if change.moved_from:
        notes.append(f"  # (moved from {esc(change.moved_from)}: the file names it another way)")
    if adopted is not None:
        notes.append(f"  # (adopted: it exists live as {value(adopted)})")
    if change.reason:
        notes.append(f"  # ({change.reason.text}{f' ({esc(change.note)})' if change.note else ''})")
    return _block(change, style, notes, style(a.symbol, _COLOR[a]))


def _block(change: Change, style: Style, notes: list[str], symbol: str, first: list[str] = ()) -> list[str]:
    return [*notes, f"  {symbol} {esc(change.address)} {{", *first, *_attribute_lines(change, style), "    }"]


def highlight_lines(plan: Plan, style: Style) -> list[str]:
    """Each topic the kinds contribute to (promotions, …): its title, then each highlight's
    headline and its details below it."""
    out = []
    for topic in topics():
        found = plan.about(topic.key)
        if not found:
            continue
        out.append(style(f"{topic.title}:", bold=True))
        for h in found:
            head, *details = h.lines()
            out += [f"  {esc(head)}", *(f"      {esc(line)}" for line in details)]
        out.append("")
    return out


def diagnostics_text(diags: Iterable[Diagnostic], style: Style | None = None) -> str:
    style = style or Style(False)
    out = []
    for d in diags:
        label = style("Error:", "red", bold=True) if d.is_error else style("Warning:", "yellow", bold=True)
        out.append(f"{label} {esc(d.summary)}")
        where = d.where()
        if where:
            out.append(f"  at {esc(where)}")
        if d.detail:
            out.append(f"  {esc(d.detail)}")
        out.append("")
    return redact("\n".join(out))


def drift_line(d: DriftItem) -> str:
    if d.attribute is None:
        return f"  {esc(d.address)}: {esc(d.note)}"
    who = ""
    if d.last_updated or d.user:
        from datetime import datetime

        when = (
            datetime.fromtimestamp(d.last_updated / 1000, UTC).isoformat(timespec="seconds") if d.last_updated else "?"
        )
        who = f"  (last updated {when}{' by ' + esc(d.user) if d.user else ''})"
    return f"  {esc(d.address)}: {esc(d.attribute)} = {value(d.recorded)} -> {value(d.live)}{who}"


def summary_line(plan: Plan) -> str:
    s = plan.summary
    adopt = f"{s.adopt} to adopt, " if s.adopt else ""
    move = f"{s.move} to move, " if s.move else ""
    return f"Plan: {adopt}{move}{s.create} to add, {s.update} to change, {s.delete} to delete, {s.forget} to forget."


def notes_lines(items: Iterable[DriftItem]) -> list[str]:
    """Unmanaged things that appeared next to managed ones (not changes, not drift)."""
    return [f"  {esc(d.address)}: {esc(d.note)}" for d in items if d.is_note]


def backends_line(backends: Mapping[str, str]) -> str:
    """`Reading MLflow at http://…, database postgresql://u:***@h/db; state in local file ….`"""
    live = [v for k, v in backends.items() if v and k != "state"]
    state = f"; state in {backends['state']}" if backends.get("state") else ""
    return esc(f"Reading {', '.join(live)}{state}.") if live or state else ""


def plan_text(plan: Plan, color: bool = False, header: bool = True) -> str:
    style = Style(color)
    out: list[str] = []
    if header and plan.backends:
        out += [backends_line(plan.backends), ""]
    drift = [d for d in plan.drift if d.attribute is not None or d.vanished]
    changes = plan.reviewed
    adopted = adopted_ids(plan)
    if drift:
        reverted = {c.address for c in changes if c.reason is ActionReason.REVERT_DRIFT}
        out += [style("Objects have changed outside of mlreg", bold=True), ""]
        for d in drift:
            out.append(drift_line(d) + ("   (this plan puts it back)" if d.address in reverted else ""))
        out.append("")
    if changes:
        used = [a for a in _LEGEND if any(c.action is a for c in changes)]
        out.append("mlreg will perform the following actions. Resource actions are indicated with:")
        out += [f"  {style(a.symbol, _COLOR[a])} {_LEGEND[a]}" for a in used]
        if any(c.action is Action.NOOP and not c.moved_from for c in changes):
            out.append(f"  {style(ADOPT, 'cyan')} adopt (exists live; state starts managing it)")
        if any(c.action is Action.NOOP and c.moved_from for c in changes):
            out.append(f"  {style(MOVE, 'cyan')} moved (state records it under its new address)")
        out.append("")
        if any(c.action is Action.DELETE for c in changes):
            out += [
                style("!! WARNING: this plan DELETES live objects. Read every `-` block below. !!", "red", True),
                "",
            ]
        for c in changes:
            out += _change_block(c, style, adopted.get(c.address)) + [""]
    out += highlight_lines(plan, style)
    notes = notes_lines(plan.drift)
    if notes:
        out += [style("Notes (not changes):", bold=True), *notes, ""]
    if plan.diagnostics:
        out.append(diagnostics_text(plan.diagnostics, style))
    if changes:
        out.append(style(summary_line(plan), bold=True))
    elif not plan.has_errors:
        out.append(no_changes(plan))
    if plan.has_errors:
        out.append(style("The plan has errors and cannot be applied.", "red"))
    return redact("\n".join(out).rstrip() + "\n")


def drift_text(items: list[DriftItem]) -> str:
    drift = [d for d in items if d.counts]
    notes = [d for d in items if not d.counts]
    lines = (["Objects have changed outside of mlreg:", ""] + [drift_line(d) for d in drift]) if drift else []
    if not drift:
        lines.append("No drift. Live objects match what mlreg last applied.")
    if notes:
        lines += ["", "Notes (not drift):", *[drift_line(d) for d in notes]]
    return redact("\n".join(lines) + "\n")


_PROGRESS = {
    Action.CREATE: ("Creating...", "Creation complete"),
    Action.UPDATE: ("Modifying...", "Modifications complete"),
    Action.DELETE: ("Destroying...", "Destruction complete"),
    Action.FORGET: ("", "Forgotten"),
}


def progress_line(event: Event) -> str | None:
    """One line per apply event, as Terraform prints them (`ADDRESS: Creating...`)."""
    label = esc(event.address) if not event.phase.doing else f"{esc(event.address)} ({event.phase.name})"
    if event.what == "forget":
        return redact(f"{label}: Forgotten (removed from state; nothing live was deleted)")
    if event.what == "move" and event.change is not None:
        return redact(f"{label}: Moved from {esc(event.change.moved_from)} (state only; nothing live was written)")
    if event.what == "fail":
        return redact(f"{label}: FAILED: {esc(event.detail)}")
    if event.what == "skip":
        return redact(f"{label}: not applied ({esc(event.detail)})")
    if event.change is None:
        return None
    start, done = (event.phase.doing, event.phase.done) if event.phase.doing else _PROGRESS[event.change.action]
    if event.what == "start":
        return redact(f"{label}: {start}")
    assigned = kind_of(event.change.type).assigned(event.identity or {})
    if event.change.action is Action.CREATE and not event.phase.doing and assigned:
        return redact(f"{label} created: {esc(assigned)} (after {event.detail})")
    return redact(f"{label}: {done} after {event.detail}")


def apply_summary(executed: Mapping[str, int]) -> str:
    adopted = f"{executed['adopt']} adopted, " if executed.get("adopt") else ""
    adopted += f"{executed['move']} moved, " if executed.get("move") else ""
    return (
        f"Apply complete! Resources: {adopted}{executed.get('create', 0)} added, {executed.get('update', 0)} changed, "
        f"{executed.get('delete', 0)} deleted, {executed.get('forget', 0)} forgotten."
    )
