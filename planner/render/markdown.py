"""Markdown for pull-request comments (plans) and scheduled-job reports (drift).

A reviewer trusts this comment, and a pull request's author writes the file it is made of (and
a hostile server what mlreg reads): every value goes through `escape` (no HTML, links, mentions
or table pipes of its own), every fenced block gets a fence its content cannot close.
"""

from __future__ import annotations

from mlreg.planner.changes import Action, Change, DriftItem, Plan
from mlreg.planner.kinds.catalog import kind_of
from mlreg.planner.redact import redact
from mlreg.planner.render.escape import fence, md, md_code
from mlreg.planner.render.graph import Picture
from mlreg.planner.render.text import (
    ADOPT,
    MOVE,
    SENSITIVE,
    adopted_ids,
    backends_line,
    flat,
    fmt_metric,
    no_changes,
    plan_text,
    summary_line,
    value,
)

GITHUB_COMMENT_LIMIT = 65_536


def _what_changes(c: Change) -> str:
    kind = kind_of(c.type)
    sensitive = kind.sensitive
    before, after = flat(c.before, kind.per_key), flat(c.after, kind.per_key)

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


def _row(c: Change, adopted: str | None) -> str:
    number = kind_of(c.type).number_label(c)
    shown = number and f"[{number}]" not in c.address  # `[v4]` says it already
    where = md_code(c.address) + (f" ({md(number)})" if shown else "")
    if c.action is Action.NOOP and c.moved_from:
        what = f"moved from {c.moved_from}; the same live object, nothing live is written"
        return f"| {where} | {MOVE} moved | {md(what)} |"
    if c.action is Action.NOOP:
        return f"| {where} | {ADOPT} adopt | {md(f'exists live as {adopted}; apply only records it')} |"
    what = _what_changes(c) + (f" (adopted: exists live as {adopted})" if adopted is not None else "")
    what += f" (moved from {c.moved_from})" if c.moved_from else ""
    return f"| {where} | {c.action.symbol} {c.action.value} | {md(what)} |"


def plan_markdown(plan: Plan) -> str:
    changes = plan.reviewed
    if plan.has_errors:
        verdict = f"❌ **mlreg plan failed** with {sum(d.is_error for d in plan.diagnostics)} error(s)."
    elif changes:
        verdict = f"📝 **{summary_line(plan)}**"
    else:
        verdict = f"✅ {no_changes(plan)}"
    head = [verdict, ""]
    if plan.backends:
        head += [f"<sub>{md(backends_line(plan.backends))}</sub>", ""]
    if any(c.action is Action.DELETE for c in changes):
        head += ["> [!CAUTION]", "> This plan **deletes** live objects.", ""]
    adopted = adopted_ids(plan)
    rows = [_row(c, adopted.get(c.address)) for c in changes]
    table = _tables(plan, changes, rows)
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
                f"| {md(p.model)} | {md(p.version or '(known after apply)')} | {p.from_stage} → {p.to_stage} | "
                f"{md(metrics)} | {md(rep)} |"
            )
        promo.append("")
    access = [n for c in changes if (n := kind_of(c.type).access_note(c))]
    if access:  # who gains or loses what, in words a reviewer checks against the request
        promo = ["### Access", "", *[f"- {md(n)}" for n in access], "", *promo]
    picture = Picture.of_plan(plan)
    lineage = ["### Lineage", "", *fence(picture.mermaid().rstrip(), "mermaid"), ""] if picture.nodes else []
    notes = [d for d in plan.drift if d.is_note]
    if notes:  # versions a pipeline registered: not changes, but a reviewer may want to take them in
        diags = ["### Notes", "", *[f"- {md_code(d.address)}: {md(d.note)}" for d in notes], ""]
    else:
        diags = []
    if plan.diagnostics:
        diags += (
            ["### Diagnostics", ""]
            + [
                f"- {'❌' if d.is_error else '⚠️'} **{md(d.summary)}**"
                + (f" — {md_code(d.where())}" if d.where() else "")
                + (f": {md(d.detail)}" if d.detail else "")
                for d in plan.diagnostics
            ]
            + [""]
        )
    text = plan_text(plan, header=False)
    details = ["<details><summary>Full plan</summary>", "", *fence(text.rstrip()), "", "</details>"]
    out = "\n".join(head + table + [""] + promo + lineage + diags + details) + "\n"
    if len(out) > GITHUB_COMMENT_LIMIT - 1000:
        shown = rows[:200]
        more = len(rows) - len(shown)
        table = _HEADER + shown + ([f"| … | | {more} more changes; see the full plan in CI |"] if more else [])
        budget = GITHUB_COMMENT_LIMIT - 2000 - len("\n".join(head + table + promo + lineage + diags))
        clipped = text[: max(budget, 0)]
        details = [
            "<details><summary>Full plan (truncated)</summary>",
            "",
            *fence(clipped.rstrip() + "\n… (truncated: run `mlreg plan` for the rest)"),
            "",
            "</details>",
        ]
        out = "\n".join(head + table + [""] + promo + lineage + diags + details) + "\n"
    return redact(out)


_HEADER = ["| Address | Action | What changes |", "| --- | --- | --- |"]


def _tables(plan: Plan, changes: list[Change], rows: list[str]) -> list[str]:
    """The changes table, one per file when the configuration is several files (each owner
    reviews their own part); changes no file declares (forgotten) come last."""
    if not rows:
        return []
    declared = plan.declared
    files = [declared.file_of(c.address) if declared is not None else None for c in changes]
    if len(set(files)) <= 1:
        return [*_HEADER, *rows]
    out: list[str] = []
    for file in sorted(set(files), key=lambda f: (f is None, f or "")):
        title = f"#### In {md_code(file)}" if file else "#### In no file (forgotten: nothing live is deleted)"
        out += [title, "", *_HEADER, *[r for r, f in zip(rows, files) if f == file], ""]
    return out[:-1]


def drift_markdown(items: list[DriftItem]) -> str:
    drift = [d for d in items if d.counts]
    notes = [f"- {md_code(d.address)}: {md(d.note or '')}" for d in items if not d.counts]
    notes = ["", "**Notes** (not drift):", "", *notes] if notes else []
    if not drift:
        return redact("\n".join(["✅ No drift: live objects match what mlreg last applied.", *notes]) + "\n")
    rows = [
        f"| {md_code(d.address)} | {md(d.attribute or '—')} | {md(value(d.recorded))} | "
        f"{md(value(d.live))} | {md(d.note or '')} |"
        for d in drift
    ]
    out = [
        f"⚠️ **Drift detected** on {len({d.address for d in drift})} resource(s).",
        "",
        "| Address | Attribute | Recorded | Live | Note |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        *notes,
    ]
    return redact("\n".join(out) + "\n")
