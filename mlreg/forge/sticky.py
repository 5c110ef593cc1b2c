"""Exactly one of mlreg's comments per pull request and label, and one open drift issue per
label: found again by their marker (planner/render/comment.py), edited in place, never posted
twice. Works on any `Forge` (GitHub, GitLab, or a test's in-memory one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mlreg.forge.api import ForgeError
from mlreg.planner.render import comment


@dataclass(frozen=True)
class Note:
    """A comment (id) or an issue (its number), with its Markdown body and who wrote it."""

    id: int
    body: str
    author: str = ""

    @classmethod
    def of(cls, item: dict, body: str, key: str = "id", author: tuple[str, str] = ("user", "login")) -> Note:
        """From a forge's JSON; `author`: where it keeps the writer's name (GitHub: user.login,
        GitLab: author.username)."""
        who = item.get(author[0])
        name = who.get(author[1]) if isinstance(who, dict) else None
        return cls(int(item.get(key) or 0), str(item.get(body) or ""), str(name or ""))


class Forge(Protocol):
    name: str
    limit: int  # the longest comment or issue body it takes, in characters
    full_output_at: str  # where a job's full output is, for a comment that had to be cut

    def me(self) -> str: ...  # the name the token writes as
    def comments(self, number: int) -> list[Note]: ...
    def create_comment(self, number: int, body: str) -> Note: ...
    def edit_comment(self, number: int, note_id: int, body: str) -> None: ...
    def open_issues(self, title: str) -> list[Note]: ...
    def create_issue(self, title: str, body: str) -> Note: ...
    def edit_issue(self, number: int, body: str) -> None: ...
    def comment_issue(self, number: int, body: str) -> None: ...
    def close_issue(self, number: int) -> None: ...


def _create_once(create: Callable[[], Note], find: Callable[[], Note | None]) -> Note:
    """Create; if the forge failed or the answer was lost (it may have created it all the same),
    look for it before creating again, once."""
    try:
        return create()
    except ForgeError as e:
        if e.status is not None and e.status < 500:
            raise
        return find() or create()


def keep_comment(forge: Forge, number: int, label: str, body: str, create: bool) -> str:
    """Edit the pull request's comment of this label, or create it when `create` (a plan with
    changes or errors). Says what it did: "updated", "created" or "" (nothing)."""

    def find() -> Note | None:
        # only mlreg's own: a comment anyone posts with the marker is not taken over (its author
        # could edit the plan shown in it afterwards)
        mine = (n for n in forge.comments(number) if n.author == forge.me())
        return next((n for n in mine if comment.is_plan_comment(n.body, label)), None)

    found = find()
    if found is not None:
        forge.edit_comment(number, found.id, body)
        return "updated"
    if not create:
        return ""
    _create_once(lambda: forge.create_comment(number, body), find)
    return "created"


@dataclass(frozen=True)
class DriftReport:
    label: str
    body: str  # the issue's body: the latest report, with the set of drifted addresses
    digest: str | None  # that set (None: no drift)
    changed: str  # the comment when the set changed
    resolved: str  # the comment that closes the issue


def keep_issue(forge: Forge, report: DriftReport) -> str:
    """One open issue per label: opened on drift, its body replaced by each report, a comment
    only when the set of drifted addresses changed, closed with a comment when drift is gone.
    Says what it did."""
    title = comment.drift_title(report.label)

    def find() -> Note | None:
        me = forge.me()
        found = [i for i in forge.open_issues(title) if i.author == me and comment.is_drift_issue(i.body, report.label)]
        return min(found, key=lambda i: i.id) if found else None

    issue = find()
    if report.digest is None:
        if issue is None:
            return ""
        forge.comment_issue(issue.id, report.resolved)
        forge.close_issue(issue.id)
        return f"closed issue #{issue.id}"
    if issue is None:
        made = _create_once(lambda: forge.create_issue(title, report.body), find)
        return f"opened issue #{made.id}"
    forge.edit_issue(issue.id, report.body)
    if comment.recorded_digest(issue.body) != report.digest:
        forge.comment_issue(issue.id, report.changed)
        return f"updated issue #{issue.id} (the drifted resources changed)"
    return f"updated issue #{issue.id} (the same drift)"
