"""Markdown for pull-request comments (plans) and scheduled-job reports (drift).

A reviewer trusts this comment, and a pull request's author writes the file it is made of (and
a hostile server what mlreg reads): every value goes through `escape` (no HTML, links, mentions
or table pipes of its own), every fenced block gets a fence its content cannot close.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlreg.planner import secrets
from mlreg.planner.changes import Action, Change, DriftItem, Plan
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.kinds.catalog import kind_of, topics
from mlreg.planner.redact import redact
from mlreg.planner.render import fit
from mlreg.planner.render.escape import fence, md, md_code
from mlreg.planner.render.graph import Picture
from mlreg.planner.render.text import (
    ADOPT,
    MOVE,
    SENSITIVE,
    adopted_ids,
    backends_line,
    flat,
    no_changes,
    plan_text,
    summary_line,
    value,
)

GITHUB_COMMENT_LIMIT = 65_536
FULL_PLAN_AT = "the CI job's log (or run `mlreg plan`)"
REVIEW_LINES_SHOWN = 40


def _what_changes(c: Change) -> str:
    kind = kind_of(c.type)
    before, after = flat(c.before, kind.per_key), flat(c.after, kind.per_key)
    sensitive = secrets.sensitive_keys(kind.sensitive, before, after)

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


def plan_markdown(plan: Plan, limit: int = GITHUB_COMMENT_LIMIT, full_plan_at: str = FULL_PLAN_AT) -> str:
    """The plan for a pull request, at most `limit` characters: past it the details are cut
    (the warnings, the verdict and the summary stay) and it says where the full plan is.
    Above everything else, what a reviewer must not miss (the kinds' `review_lines`). A plan
    with errors shows its errors in place of the changes: it cannot be applied."""
    if plan.has_errors:
        return _failed(plan, limit, full_plan_at)
    changes = plan.reviewed
    verdict = f"📝 **{summary_line(plan)}**" if changes else f"✅ {no_changes(plan)}"
    head = [*review_block(changes), verdict, "", *_backends(plan)]
    adopted = adopted_ids(plan)
    table = _tables(plan, changes, [_row(c, adopted.get(c.address)) for c in changes])
    access = [n for c in changes if (n := kind_of(c.type).access_note(c))]
    # who gains or loses what, in words a reviewer checks against the request
    access_section = ["### Access", "", *[f"- {md(n)}" for n in access], ""] if access else []
    picture = Picture.of_plan(plan)
    lineage = ["### Lineage", "", *fence(picture.mermaid().rstrip(), "mermaid"), ""] if picture.nodes else []
    sections = [
        table + ([""] if table else []),
        access_section,
        _highlights(plan),
        lineage,
        _notes(plan),
        _diagnostics(plan.diagnostics),
    ]
    doc = fit.Document(head, sections, plan_text(plan, header=False), "Full plan", atomic=(3,))
    return redact(doc.render(limit, full_plan_at))


def review_block(changes: list[Change]) -> list[str]:
    """The warnings above everything else: deletions, forgets, production moves, access granted
    or taken, each in the words of its kind (`Kind.review_lines`)."""
    lines = [line for c in changes for line in kind_of(c.type).review_lines(c)]
    if not lines:
        return []
    deletes = any(c.action is Action.DELETE for c in changes)
    out = ["> [!CAUTION]", "> This plan **deletes** live objects."] if deletes else ["> [!WARNING]"]
    out.append("> **A reviewer must not miss:**")
    out += [f"> - {md(line)}" for line in lines[:REVIEW_LINES_SHOWN]]
    if len(lines) > REVIEW_LINES_SHOWN:
        out.append(f"> - … and {len(lines) - REVIEW_LINES_SHOWN} more (see the changes below)")
    return [*out, ""]


def failure_markdown(message: str, diagnostics: Iterable[Diagnostic] = (), limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """A plan that could not be made (an invalid file, a backend down): the errors, with the file
    and line of each, in Markdown where the plan would be."""
    head = [f"❌ **mlreg plan failed**: {md(message)}", "", "Nothing can be applied until this is fixed.", ""]
    doc = fit.Document(head, [_diagnostics(list(diagnostics), errors_first=True)])
    return redact(doc.render(limit, FULL_PLAN_AT))


def _failed(plan: Plan, limit: int, full_plan_at: str) -> str:
    n = sum(d.is_error for d in plan.diagnostics)
    head = [
        f"❌ **mlreg plan failed** with {n} error{'s' if n != 1 else ''}: nothing can be applied until "
        f"{'they are' if n != 1 else 'it is'} fixed.",
        "",
        *_backends(plan),
    ]
    doc = fit.Document(
        head,
        [_diagnostics(plan.diagnostics, errors_first=True)],
        plan_text(plan, header=False),
        "The plan as computed (not applyable)",
    )
    return redact(doc.render(limit, full_plan_at))


def _backends(plan: Plan) -> list[str]:
    return [f"<sub>{md(backends_line(plan.backends))}</sub>", ""] if plan.backends else []


def _highlights(plan: Plan) -> list[str]:
    """A table per topic the kinds contribute to (promotions, …), a row per highlight."""
    out: list[str] = []
    for topic in topics():
        found = plan.about(topic.key)
        if not found:
            continue
        out += [f"### {topic.title}", "", _cells(topic.columns), "| " + " | ".join("---" for _ in topic.columns) + " |"]
        out += [_cells(md(cell) for cell in h.cells()) for h in found]
        out.append("")
    return out


def _cells(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _notes(plan: Plan) -> list[str]:
    """Versions a pipeline registered: not changes, but a reviewer may want to take them in."""
    notes = [d for d in plan.drift if d.is_note]
    return ["### Notes", "", *[f"- {md_code(d.address)}: {md(d.note)}" for d in notes], ""] if notes else []


def _diagnostics(diagnostics, errors_first: bool = False) -> list[str]:
    """Each diagnostic with where it is (file:line:column, key path, address)."""
    if not diagnostics:
        return []
    ordered = sorted(diagnostics, key=lambda d: not d.is_error) if errors_first else list(diagnostics)
    title = "### Errors" if errors_first and any(d.is_error for d in ordered) else "### Diagnostics"
    lines = [
        f"- {'❌' if d.is_error else '⚠️'} **{md(d.summary)}**"
        + (f" — {md_code(d.where())}" if d.where() else "")
        + (f": {md(d.detail)}" if d.detail else "")
        for d in ordered
    ]
    return [title, "", *lines, ""]


_HEADER = ["| Address | Action | What changes |", "| --- | --- | --- |"]


def _tables(plan: Plan, changes: list[Change], rows: list[str]) -> list[str]:
    """The changes table, one per file when the configuration is several files (each owner
    reviews their own part); changes no file declares (forgotten) come last."""
    if not rows:
        return []
    declared = plan.declared
    files = [declared.file_of(c.at) if declared is not None else None for c in changes]
    if len(set(files)) <= 1:
        return [*_HEADER, *rows]
    out: list[str] = []
    for file in sorted(set(files), key=lambda f: (f is None, f or "")):
        title = f"#### In {md_code(file)}" if file else "#### In no file (forgotten: nothing live is deleted)"
        out += [title, "", *_HEADER, *[r for r, f in zip(rows, files) if f == file], ""]
    return out[:-1]


def drift_markdown(
    items: list[DriftItem], limit: int = GITHUB_COMMENT_LIMIT, full_report_at: str = FULL_PLAN_AT
) -> str:
    """The drift report for a scheduled job's issue, at most `limit` characters; notes (versions a
    pipeline registered) after it, as notes, not drift."""
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
    head = [f"⚠️ **Drift detected** on {len({d.address for d in drift})} resource(s).", ""]
    table = ["| Address | Attribute | Recorded | Live | Note |", "| --- | --- | --- | --- | --- |", *rows, *notes]
    return redact(fit.Document(head, [table]).render(limit, full_report_at))
