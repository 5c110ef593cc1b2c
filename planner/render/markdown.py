"""Markdown for pull-request comments (plans) and scheduled-job reports (drift)."""

from __future__ import annotations

from mlreg.planner.model import Action, Change, DriftItem, Plan
from mlreg.planner.redact import redact
from mlreg.planner.render.graph import Picture
from mlreg.planner.render.text import (
    NO_CHANGES,
    SENSITIVE,
    backends_line,
    flat,
    fmt_metric,
    plan_text,
    summary_line,
    value,
)

GITHUB_COMMENT_LIMIT = 65_536


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _what_changes(c: Change, sensitive) -> str:
    before, after = flat(c.before), flat(c.after)

    def shown(k, v):
        return "(known after apply)" if k in c.after_unknown else (SENSITIVE if k in sensitive else value(v))

    if c.action is Action.FORGET:
        return "stop managing (nothing live is deleted)"
    if c.action is Action.CREATE:
        return ", ".join(f"{k}={shown(k, v)}" for k, v in after.items() if v not in ({}, None) or k in c.after_unknown)
    parts = []
    for k in dict.fromkeys([*after, *before]):
        if k in c.after_unknown or before.get(k) != after.get(k):
            old = SENSITIVE if k in sensitive else value(before.get(k))
            parts.append(f"{k}: {old} → {shown(k, after.get(k))}")
    return ", ".join(parts)


def plan_markdown(plan: Plan) -> str:
    from mlreg.planner.kinds.catalog import KINDS

    changes = plan.actionable
    if plan.has_errors:
        verdict = f"❌ **mlreg plan failed** with {sum(d.is_error for d in plan.diagnostics)} error(s)."
    elif changes:
        verdict = f"📝 **{summary_line(plan)}**"
    else:
        verdict = f"✅ {NO_CHANGES}"
    head = [verdict, ""]
    if plan.backends:
        head += [f"<sub>{backends_line(plan.backends)}</sub>", ""]
    if any(c.action is Action.DELETE for c in changes):
        head += ["> [!CAUTION]", "> This plan **deletes** live objects.", ""]
    rows = [
        f"| `{_md_escape(c.address)}` | {c.action.symbol} {c.action.value} | "
        f"{_md_escape(_what_changes(c, KINDS[c.type].sensitive))} |"
        for c in changes
    ]
    table = ["| Address | Action | What changes |", "| --- | --- | --- |", *rows] if rows else []
    promo = []
    if plan.promotions:
        promo = [
            "### Promotions",
            "",
            "| Model | Version | From → To | Gate metrics | Replaces |",
            "| --- | --- | --- | --- | --- |",
        ]
        for p in plan.promotions:
            metrics = ", ".join(f"{k}={fmt_metric(v)}" for k, v in p.metrics.items())
            rep = ""
            if p.replaces:
                rep = f"v{p.replaces['version']}: " + ", ".join(
                    f"{k}={fmt_metric(v)}" for k, v in p.replaces["metrics"].items()
                )
            promo.append(
                f"| {p.model} | {p.version or '(known after apply)'} | {p.from_stage} → {p.to_stage} | "
                f"{metrics} | {rep} |"
            )
        promo.append("")
    picture = Picture.of_plan(plan)
    lineage = ["### Lineage", "", "```mermaid", picture.mermaid().rstrip(), "```", ""] if picture.nodes else []
    diags = []
    if plan.diagnostics:
        diags = (
            ["### Diagnostics", ""]
            + [
                f"- {'❌' if d.is_error else '⚠️'} **{_md_escape(d.summary)}** — `{_md_escape(d.where())}`"
                + (f": {_md_escape(d.detail)}" if d.detail else "")
                for d in plan.diagnostics
            ]
            + [""]
        )
    text = plan_text(plan, header=False)
    details = ["<details><summary>Full plan</summary>", "", "```", text.rstrip(), "```", "", "</details>"]
    out = "\n".join(head + table + [""] + promo + lineage + diags + details) + "\n"
    if len(out) > GITHUB_COMMENT_LIMIT - 1000:
        shown = rows[:200]
        more = len(rows) - len(shown)
        table = table[:2] + shown + ([f"| … | | {more} more changes; see the full plan in CI |"] if more else [])
        budget = GITHUB_COMMENT_LIMIT - 2000 - len("\n".join(head + table + promo + lineage + diags))
        clipped = text[: max(budget, 0)]
        details = [
            "<details><summary>Full plan (truncated)</summary>",
            "",
            "```",
            clipped.rstrip(),
            "… (truncated: run `mlreg plan` for the rest)",
            "```",
            "",
            "</details>",
        ]
        out = "\n".join(head + table + [""] + promo + lineage + diags + details) + "\n"
    return redact(out)


def drift_markdown(items: list[DriftItem]) -> str:
    if not items:
        return "✅ No drift: live objects match what mlreg last applied.\n"
    rows = [
        f"| `{_md_escape(d.address)}` | {d.attribute or '—'} | {_md_escape(value(d.recorded))} | "
        f"{_md_escape(value(d.live))} | {_md_escape(d.note or '')} |"
        for d in items
    ]
    out = [
        f"⚠️ **Drift detected** on {len({d.address for d in items})} resource(s).",
        "",
        "| Address | Attribute | Recorded | Live | Note |",
        "| --- | --- | --- | --- | --- |",
        *rows,
    ]
    return redact("\n".join(out) + "\n")
