"""GitHub's REST API (v3, `X-GitHub-Api-Version: 2022-11-28`): a pull request's comments are its
issue's comments; the drift issue is an issue. Token as `Authorization: Bearer`."""

from __future__ import annotations

import functools
from urllib.parse import quote

from mlreg.forge.api import Api, ForgeError
from mlreg.forge.sticky import Note
from mlreg.forge.target import GITHUB, Target

ACTIONS_BOT = "github-actions[bot]"


class GitHub:
    name = GITHUB
    limit = 65_536  # characters of a comment or an issue body
    full_output_at = "the job summary and log"

    def __init__(self, target: Target):
        self.api = Api(
            GITHUB,
            target.api_url,
            {
                "Authorization": f"Bearer {target.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        self.repo = "/".join(quote(part, safe="") for part in target.repository.split("/", 1))

    @functools.cache  # noqa: B019 (one per job)
    def me(self) -> str:
        """The login the token writes as. Actions' GITHUB_TOKEN may not read /user (403): it
        writes as github-actions[bot]."""
        try:
            return str(self.api.get("/user").get("login") or "")
        except ForgeError as e:
            if e.status in (401, 403):
                return ACTIONS_BOT
            raise

    def comments(self, number: int) -> list[Note]:
        return [Note.of(c, "body") for c in self.api.get_all(f"/repos/{self.repo}/issues/{number}/comments")]

    def create_comment(self, number: int, body: str) -> Note:
        return Note.of(self.api.send("POST", f"/repos/{self.repo}/issues/{number}/comments", {"body": body}), "body")

    def edit_comment(self, number: int, note_id: int, body: str) -> None:
        self.api.send("PATCH", f"/repos/{self.repo}/issues/comments/{note_id}", {"body": body})

    def open_issues(self, title: str) -> list[Note]:
        found = self.api.get_all(f"/repos/{self.repo}/issues", {"state": "open", "sort": "created", "direction": "asc"})
        # the issues list holds pull requests too
        return [Note.of(i, "body", "number") for i in found if i.get("title") == title and "pull_request" not in i]

    def create_issue(self, title: str, body: str) -> Note:
        return Note.of(
            self.api.send("POST", f"/repos/{self.repo}/issues", {"title": title, "body": body}), "body", "number"
        )

    def edit_issue(self, number: int, body: str) -> None:
        self.api.send("PATCH", f"/repos/{self.repo}/issues/{number}", {"body": body})

    def comment_issue(self, number: int, body: str) -> None:
        self.create_comment(number, body)

    def close_issue(self, number: int) -> None:
        self.api.send("PATCH", f"/repos/{self.repo}/issues/{number}", {"state": "closed", "state_reason": "completed"})
