"""What mlreg keeps on a forge: the plan comment of a pull request and the drift issue of a
schedule. Each is found again by a hidden marker (`<!-- mlreg:plan:LABEL -->` on the comment's
first line, `<!-- mlreg:drift:LABEL -->` in the issue's body), so there is one per pull request
(or repository) and label, edited in place. Pure: the caller says when and at which commit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlreg import __version__
from mlreg.planner.changes import DriftItem, Plan
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.redact import redact
from mlreg.planner.render.escape import md, md_code
from mlreg.planner.render.markdown import drift_markdown, failure_markdown, plan_markdown

PLAN, DRIFT = "plan", "drift"
# A label goes into an HTML comment and an issue title: nothing that could close the comment
# (`-->`), start a line or a tag of its own.
_LABEL = re.compile(r"^[A-Za-z0-9._/@+-]{1,100}$")
_DIGEST = re.compile(r"^<!-- mlreg:drift-set:(sha256:[0-9a-f]{64}) -->$", re.MULTILINE)
_URL = re.compile(r"^https?://[^\s()<>\[\]\"'`]+$")
NAMES_SHOWN = 20


def label_problem(label: str) -> str | None:
    """Why a label cannot name a comment or an issue (None: it can)."""
    if not _LABEL.match(label) or "--" in label:
        return f"{label!r} is not a label mlreg can use: up to 100 letters, digits and . _ / @ + - (no `--`)"
    return None


def marker(kind: str, label: str) -> str:
    return f"<!-- mlreg:{kind}:{label} -->"


def is_plan_comment(body: str, label: str) -> bool:
    """The comment's first line is the marker."""
    return (body or "").split("\n", 1)[0].strip() == marker(PLAN, label)


def is_drift_issue(body: str, label: str) -> bool:
    """A line of the issue's body is the marker."""
    return marker(DRIFT, label) in (line.strip() for line in (body or "").splitlines())


def drift_title(label: str) -> str:
    return f"mlreg drift: {label}"


@dataclass(frozen=True)
class Stamp:
    """Which commit was planned or checked, when, and where the job's full output is."""

    commit: str | None
    when: str  # "2026-12-04 09:01 UTC"
    job_url: str | None = None
    full_output_at: str = "the CI job's log"

    def line(self, verb: str) -> str:
        commit = f" at commit {md_code(self.commit[:12])}" if self.commit else ""
        return f"<sub>{verb}{commit} on {md(self.when)}{self._job()} · mlreg {md(__version__)}</sub>"

    def where(self) -> str:
        """Where the full plan is, for a comment that had to be cut."""
        return f"{self.full_output_at} ({self.job_url})" if self._url() else self.full_output_at

    def _url(self) -> str | None:
        return self.job_url if self.job_url and _URL.match(self.job_url) else None

    def _job(self) -> str:
        url = self._url()
        return f" · [the job]({url})" if url else ""


def _framed(kind: str, label: str, body_for, stamp: Stamp, verb: str, limit: int) -> str:
    top = f"{marker(kind, label)}\n#### mlreg {kind} · {md_code(label)}\n\n"
    bottom = f"\n{stamp.line(verb)}\n"
    return redact(top + body_for(limit - len(top) - len(bottom) - 100) + bottom)


def plan_comment(label: str, stamp: Stamp, limit: int, plan: Plan) -> str:
    """The pull request's comment: the Markdown plan (warnings first), the commit and time."""
    return _framed(PLAN, label, lambda room: plan_markdown(plan, room, stamp.where()), stamp, "Planned", limit)


def failure_comment(label: str, stamp: Stamp, limit: int, message: str, diagnostics: Iterable[Diagnostic]) -> str:
    """The comment of a plan that could not be made: its errors in place of the plan."""
    diagnostics = list(diagnostics)
    return _framed(PLAN, label, lambda room: failure_markdown(message, diagnostics, room), stamp, "Planned", limit)


def drift_digest(items: Iterable[DriftItem]) -> str:
    """The set of drifted addresses, as the issue remembers it (a digest: addresses are names
    from the live registry, and this line lives in an HTML comment)."""
    names = "\n".join(sorted({d.address for d in items}))
    return "sha256:" + hashlib.sha256(names.encode()).hexdigest()


def recorded_digest(body: str) -> str | None:
    found = _DIGEST.search(body or "")
    return found.group(1) if found else None


def drift_issue(label: str, stamp: Stamp, limit: int, items: list[DriftItem]) -> str:
    """The issue's body: the latest drift report."""
    top = f"{marker(DRIFT, label)}\n<!-- mlreg:drift-set:{drift_digest(items)} -->\n"
    bottom = f"\n{stamp.line('Checked')}\n"
    room = limit - len(top) - len(bottom) - 100
    return redact(top + drift_markdown(items, room, stamp.where()) + bottom)


def drift_changed(stamp: Stamp, items: list[DriftItem]) -> str:
    """The comment when the set of drifted resources changed since the last report."""
    names = sorted({d.address for d in items})
    shown = ", ".join(md_code(n) for n in names[:NAMES_SHOWN])
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return redact(
        f"⚠️ The drift changed: {len(names)} resource(s) now differ from what mlreg last applied: {shown}{more}. "
        f"The description above holds the latest report.\n\n{stamp.line('Checked')}\n"
    )


def drift_resolved(stamp: Stamp, last_apply: dict | None) -> str:
    """The comment that closes the issue: no drift any more, and the apply that fixed it, if any."""
    fixed = ""
    if last_apply:
        who = f" by {md(last_apply['who'])}" if last_apply.get("who") else ""
        fixed = f" The last apply: {md_code(last_apply.get('id'))}{who}, finished {md(last_apply.get('finished'))}."
    return redact(
        f"✅ No drift any more: live objects match what mlreg last applied.{fixed} Closing this issue.\n\n"
        f"{stamp.line('Checked')}\n"
    )
