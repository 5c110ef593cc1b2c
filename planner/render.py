"""The only place that formats output: plans, drift, diagnostics and apply progress.

Every string leaves through `redact`, so no secret reaches a terminal, a PR comment or a file.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from planner.diagnostics import Diagnostic
from planner.model import Action, Change, DriftItem, Plan, Promotion
from planner.redact import redact

GITHUB_COMMENT_LIMIT = 65_536
NO_CHANGES = "No changes. The registry matches registry.yaml."
_VERB = {Action.CREATE: "created", Action.UPDATE: "updated in-place", Action.DELETE: "deleted",
         Action.FORGET: "forgotten"}
_LEGEND = {Action.CREATE: "create", Action.UPDATE: "update in-place", Action.DELETE: "delete",
           Action.FORGET: "forget"}
_COLOR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red", Action.FORGET: "cyan"}


class Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        if not self.color:
            return text
        import click

        return click.style(text, fg=fg, bold=bold)


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v)
    return json.dumps(v, sort_keys=True)


def _flat(d: dict | None) -> dict[str, Any]:
    """tags/aliases become one line per key; other dicts (config_defaults) stay JSON."""
    out = {}
    for k, v in (d or {}).items():
        if k in ("tags", "aliases") and isinstance(v, dict):
            for sub, subv in v.items():
                out[f"{k}.{sub}"] = subv
        else:
            out[k] = v
    return out


def _attribute_lines(change: Change, style: Style) -> list[str]:
    before, after = _flat(change.before), _flat(change.after)
    unknown = set(change.after_unknown)
    keys = list(dict.fromkeys([*after, *before]))
    width = max((len(k) for k in keys), default=0)
    lines = []
    for k in keys:
        name = k.ljust(width)
        new = "(known after apply)" if k in unknown else _value(after.get(k))
        if change.action is Action.CREATE:
            lines.append(f"      {style('+', 'green')} {name} = {new}")
        elif change.action in (Action.FORGET, Action.DELETE):
            lines.append(f"      {style('-', 'red') if change.action is Action.DELETE else ' '} {name} = "
                         f"{_value(before.get(k))}")
        elif k not in after:
            lines.append(f"      {style('-', 'red')} {name} = {_value(before[k])}")
        elif k not in before and k not in unknown:
            lines.append(f"      {style('+', 'green')} {name} = {new}")
        elif k in unknown or before.get(k) != after.get(k):
            lines.append(f"      {style('~', 'yellow')} {name} = {_value(before.get(k))} -> {new}")
        elif k in ("version", "model", "model_version"):
            lines.append(f"        {name} = {new}")
    return lines


def _change_block(change: Change, style: Style) -> list[str]:
    a = change.action
    lines = [style(f"  # {change.address} will be {_VERB[a]}", bold=True)]
    if change.reason:
        lines.append(f"  # ({change.reason})" if change.reason.startswith("because") else
                     f"  # (because {change.reason})")
    lines.append(f"  {style(a.symbol, _COLOR[a])} {change.address} {{")
    lines += _attribute_lines(change, style)
    lines.append("    }")
    return lines


def _fmt_metric(v) -> str:
    return "missing" if v is None else f"{v:g}"


def _promotion_lines(promotions: Iterable[Promotion]) -> list[str]:
    lines = []
    for p in promotions:
        version = p.version or "(known after apply)"
        who = f", registered by {p.registered_by}" if p.registered_by else ""
        lines.append(f"  {p.model} version {version}: {p.from_stage} -> {p.to_stage} (run {p.run_id}{who})")
        for metric, value in p.metrics.items():
            old = ""
            if p.replaces:
                old = f"   (replaces version {p.replaces['version']}: {_fmt_metric(p.replaces['metrics'].get(metric))})"
            lines.append(f"      {metric} = {_fmt_metric(value)}{old}")
    return lines


def diagnostics_text(diags: Iterable[Diagnostic], style: Style) -> str:
    out = []
    for d in diags:
        label = style("Error:", "red", bold=True) if d.is_error else style("Warning:", "yellow", bold=True)
        out.append(f"{label} {d.summary}")
        where = d.where()
        if where:
            out.append(f"  at {where}")
        if d.detail:
            out.append(f"  {d.detail}")
        out.append("")
    return redact("\n".join(out))


def _drift_line(d: DriftItem) -> str:
    if d.attribute is None:
        return f"  {d.address}: {d.note}"
    who = ""
    if d.last_updated or d.user:
        from datetime import datetime, timezone

        when = datetime.fromtimestamp(d.last_updated / 1000, timezone.utc).isoformat(timespec="seconds") \
            if d.last_updated else "?"
        who = f"  (last updated {when}{' by ' + d.user if d.user else ''})"
    return f"  {d.address}: {d.attribute} = {_value(d.recorded)} -> {_value(d.live)}{who}"


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return f"Plan: {s.create} to add, {s.update} to change, {s.delete} to delete, {s.forget} to forget."


def plan_text(plan: Plan, color: bool = False) -> str:
    style = Style(color)
    out: list[str] = []
    drift = [d for d in plan.resource_drift if d.attribute is not None or d.note and "no longer" in d.note]
    if drift:
        out += [style("Objects have changed outside of mlreg", bold=True), ""]
        out += [_drift_line(d) for d in drift] + [""]
    changes = plan.changes
    if changes:
        used = [a for a in _LEGEND if any(c.action is a for c in changes)]
        out.append("mlreg will perform the following actions. Resource actions are indicated with:")
        out += [f"  {style(a.symbol, _COLOR[a])} {_LEGEND[a]}" for a in used] + [""]
        if any(c.action is Action.DELETE for c in changes):
            out += [style("!! WARNING: this plan DELETES live objects. Read every `-` block below. !!", "red", True), ""]
        for c in changes:
            out += _change_block(c, style) + [""]
    if plan.promotions:
        out += [style("Promotions:", bold=True)] + _promotion_lines(plan.promotions) + [""]
    if plan.diagnostics:
        out.append(diagnostics_text(plan.diagnostics, style))
    if changes:
        out.append(style(summary_line(plan), bold=True))
    elif not plan.has_errors:
        out.append(NO_CHANGES)
    if plan.has_errors:
        out.append(style("The plan has errors and cannot be applied.", "red"))
    return redact("\n".join(out).rstrip() + "\n")


def plan_json(plan: Plan) -> str:
    """Compact JSON: json's C encoder (an indented dump is 10x slower on a 10,000-version plan)."""
    return redact(json.dumps(plan_dict(plan)) + "\n")


def plan_dict(plan: Plan) -> dict:
    return plan.model_dump(mode="json", by_alias=True)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _what_changes(c: Change) -> str:
    before, after = _flat(c.before), _flat(c.after)
    if c.action is Action.FORGET:
        return "stop managing (nothing live is deleted)"
    if c.action is Action.CREATE:
        return ", ".join(f"{k}={'(known after apply)' if k in c.after_unknown else _value(v)}"
                         for k, v in after.items() if v not in ({}, None) or k in c.after_unknown)
    parts = []
    for k in dict.fromkeys([*after, *before]):
        if k in c.after_unknown or before.get(k) != after.get(k):
            new = "(known after apply)" if k in c.after_unknown else _value(after.get(k))
            parts.append(f"{k}: {_value(before.get(k))} → {new}")
    return ", ".join(parts)


def plan_markdown(plan: Plan) -> str:
    changes = plan.changes
    if plan.has_errors:
        verdict = f"❌ **mlreg plan failed** with {sum(d.is_error for d in plan.diagnostics)} error(s)."
    elif changes:
        verdict = f"📝 **{summary_line(plan)}**"
    else:
        verdict = f"✅ {NO_CHANGES}"
    head = [verdict, ""]
    if any(c.action is Action.DELETE for c in changes):
        head += ["> [!CAUTION]", "> This plan **deletes** live objects.", ""]
    rows = [f"| `{_md_escape(c.address)}` | {c.action.symbol} {c.action.value} | {_md_escape(_what_changes(c))} |"
            for c in changes]
    table = ["| Address | Action | What changes |", "| --- | --- | --- |", *rows] if rows else []
    promo = []
    if plan.promotions:
        promo = ["### Promotions", "", "| Model | Version | From → To | Gate metrics | Replaces |",
                 "| --- | --- | --- | --- | --- |"]
        for p in plan.promotions:
            metrics = ", ".join(f"{k}={_fmt_metric(v)}" for k, v in p.metrics.items())
            rep = ""
            if p.replaces:
                rep = f"v{p.replaces['version']}: " + ", ".join(
                    f"{k}={_fmt_metric(v)}" for k, v in p.replaces["metrics"].items())
            promo.append(f"| {p.model} | {p.version or '(known after apply)'} | {p.from_stage} → {p.to_stage} | "
                         f"{metrics} | {rep} |")
        promo.append("")
    diags = []
    if plan.diagnostics:
        diags = ["### Diagnostics", ""] + [
            f"- {'❌' if d.is_error else '⚠️'} **{_md_escape(d.summary)}** — `{_md_escape(d.where())}`"
            + (f": {_md_escape(d.detail)}" if d.detail else "") for d in plan.diagnostics] + [""]
    text = plan_text(plan)
    details = ["<details><summary>Full plan</summary>", "", "```", text.rstrip(), "```", "", "</details>"]
    out = "\n".join(head + table + [""] + promo + diags + details) + "\n"
    if len(out) > GITHUB_COMMENT_LIMIT - 1000:
        shown = rows[:200]
        more = len(rows) - len(shown)
        table = table[:2] + shown + ([f"| … | | {more} more changes; see the full plan in CI |"] if more else [])
        budget = GITHUB_COMMENT_LIMIT - 2000 - len("\n".join(head + table + promo + diags))
        clipped = text[:max(budget, 0)]
        details = ["<details><summary>Full plan (truncated)</summary>", "", "```", clipped.rstrip(),
                   "… (truncated: run `mlreg plan` for the rest)", "```", "", "</details>"]
        out = "\n".join(head + table + [""] + promo + diags + details) + "\n"
    return redact(out)


def drift_text(items: list[DriftItem]) -> str:
    if not items:
        return "No drift. Live objects match what mlreg last applied.\n"
    lines = ["Objects have changed outside of mlreg:", ""] + [_drift_line(d) for d in items]
    return redact("\n".join(lines) + "\n")


def drift_json(items: list[DriftItem]) -> str:
    return redact(json.dumps({"format_version": "1", "resource_drift": [d.model_dump(mode="json") for d in items]},
                             indent=2) + "\n")


def drift_markdown(items: list[DriftItem]) -> str:
    if not items:
        return "✅ No drift: live objects match what mlreg last applied.\n"
    rows = [f"| `{_md_escape(d.address)}` | {d.attribute or '—'} | {_md_escape(_value(d.recorded))} | "
            f"{_md_escape(_value(d.live))} | {_md_escape(d.note or '')} |" for d in items]
    out = [f"⚠️ **Drift detected** on {len({d.address for d in items})} resource(s).", "",
           "| Address | Attribute | Recorded | Live | Note |", "| --- | --- | --- | --- | --- |"] + rows
    return redact("\n".join(out) + "\n")


_PROGRESS = {Action.CREATE: ("Creating...", "Creation complete"), Action.UPDATE: ("Modifying...", "Modifications complete"),
             Action.DELETE: ("Destroying...", "Destruction complete"), Action.FORGET: ("", "Forgotten")}


def progress_line(event: str, label: str, change: Change | None, detail: str) -> str | None:
    if event == "forget":
        return redact(f"{label}: Forgotten (removed from state; nothing live was deleted)")
    if event == "fail":
        return redact(f"{label}: FAILED: {detail}")
    if change is None:
        return None
    start, done = _PROGRESS[change.action]
    if label.endswith("(aliases)"):
        start, done = "Setting aliases...", "Aliases set"
    if event == "start":
        return redact(f"{label}: {start}")
    return redact(f"{label}: {done} after {detail}")


def apply_summary(added: int, changed: int, deleted: int, forgotten: int) -> str:
    return f"Apply complete! Resources: {added} added, {changed} changed, {deleted} deleted, {forgotten} forgotten."
