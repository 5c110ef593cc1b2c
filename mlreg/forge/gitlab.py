"""GitLab's REST API v4: a merge request's notes, and project issues (closed with
`state_event=close`). Token as `PRIVATE-TOKEN` (a project access token: CI_JOB_TOKEN cannot
write notes)."""

from __future__ import annotations

import functools
from urllib.parse import quote

from mlreg.forge.api import Api
from mlreg.forge.sticky import Note
from mlreg.forge.target import GITLAB, Target

_AUTHOR = ("author", "username")


class GitLab:
    name = GITLAB
    limit = 1_000_000  # characters of a note or an issue description
    full_output_at = "the job log"

    def __init__(self, target: Target):
        self.api = Api(GITLAB, target.api_url, {"PRIVATE-TOKEN": target.token})
        self.project = f"/projects/{quote(target.repository, safe='')}"

    def _mr(self, number: int) -> str:
        return f"{self.project}/merge_requests/{number}/notes"

    @functools.cache  # noqa: B019 (one per job)
    def me(self) -> str:
        """The user the token writes as (a project access token's bot user)."""
        return str(self.api.get("/user").get("username") or "")

    def comments(self, number: int) -> list[Note]:
        found = self.api.get_all(self._mr(number), {"sort": "asc", "order_by": "created_at"})
        return [Note.of(n, "body", author=_AUTHOR) for n in found if not n.get("system")]

    def create_comment(self, number: int, body: str) -> Note:
        return Note.of(self.api.send("POST", self._mr(number), {"body": body}), "body", author=_AUTHOR)

    def edit_comment(self, number: int, note_id: int, body: str) -> None:
        self.api.send("PUT", f"{self._mr(number)}/{note_id}", {"body": body})

    def open_issues(self, title: str) -> list[Note]:
        found = self.api.get_all(
            f"{self.project}/issues", {"state": "opened", "search": title, "in": "title", "sort": "asc"}
        )
        return [Note.of(i, "description", "iid", _AUTHOR) for i in found if i.get("title") == title]

    def create_issue(self, title: str, body: str) -> Note:
        made = self.api.send("POST", f"{self.project}/issues", {"title": title, "description": body})
        return Note.of(made, "description", "iid", _AUTHOR)

    def edit_issue(self, number: int, body: str) -> None:
        self.api.send("PUT", f"{self.project}/issues/{number}", {"description": body})

    def comment_issue(self, number: int, body: str) -> None:
        self.api.send("POST", f"{self.project}/issues/{number}/notes", {"body": body})

    def close_issue(self, number: int) -> None:
        self.api.send("PUT", f"{self.project}/issues/{number}", {"state_event": "close"})
