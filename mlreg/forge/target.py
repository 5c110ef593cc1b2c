"""Which forge, repository, pull request and token: from the environment a CI job has, and from
nowhere else (a pull request's author writes registry.yaml, not the job's environment).

- GitHub Actions (`GITHUB_ACTIONS=true`): GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH
  (the event's pull request number), GITHUB_SHA, token GITHUB_TOKEN.
- GitLab CI (`GITLAB_CI=true`): CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, CI_COMMIT_SHA,
  token MLREG_FORGE_TOKEN (a project access token: the job token cannot write notes).
MLREG_FORGE_TOKEN overrides either token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlreg.planner import redact
from mlreg.planner.errors import UserError

TOKEN = "MLREG_FORGE_TOKEN"
GITHUB, GITLAB = "GitHub", "GitLab"
_GITHUB_VARS = ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_SHA")
_GITLAB_VARS = ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_COMMIT_SHA")


@dataclass(frozen=True)
class Target:
    forge: str  # GITHUB or GITLAB
    api_url: str
    repository: str  # owner/name on GitHub, the project id on GitLab
    number: int | None  # the pull (merge) request, when one is needed
    commit: str | None
    token: str = field(repr=False)
    job_url: str | None = None

    @property
    def request_name(self) -> str:
        return f"pull request #{self.number}" if self.forge == GITHUB else f"merge request !{self.number}"


def _set(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _is_true(env: Mapping[str, str], name: str) -> bool:
    return (_set(env, name) or "").lower() == "true"


def detect(env: Mapping[str, str], option: str, pull_request: bool) -> Target:
    """The forge this CI job runs on; `pull_request`: the job must be about one (`--comment`).
    Raises UserError naming every missing variable."""
    if _is_true(env, "GITHUB_ACTIONS"):
        return _github(env, option, pull_request)
    if _is_true(env, "GITLAB_CI"):
        return _gitlab(env, option, pull_request)
    github = ", ".join(_GITHUB_VARS + (("GITHUB_EVENT_PATH",) if pull_request else ()) + ("GITHUB_TOKEN",))
    gitlab = ", ".join(_GITLAB_VARS + (("CI_MERGE_REQUEST_IID",) if pull_request else ()) + (TOKEN,))
    raise UserError(
        f"{option} runs in a CI job, and this is not one: GitHub Actions sets GITHUB_ACTIONS=true with {github}; "
        f"GitLab CI sets GITLAB_CI=true with {gitlab}"
    )


def _missing(option: str, forge: str, names: list[str]) -> UserError:
    return UserError(f"{option} on {forge}: {', '.join(names)} {'is' if len(names) == 1 else 'are'} not set")


def _token(env: Mapping[str, str], own: str | None) -> str | None:
    token = _set(env, TOKEN) or (_set(env, own) if own else None)
    if token:
        redact.add_secret(token)
    return token


def _github(env: Mapping[str, str], option: str, pull_request: bool) -> Target:
    missing = [n for n in _GITHUB_VARS if not _set(env, n)]
    token = _token(env, "GITHUB_TOKEN")
    if token is None:
        missing.append("GITHUB_TOKEN (or MLREG_FORGE_TOKEN)")
    number = None
    if pull_request:
        if not _set(env, "GITHUB_EVENT_PATH"):
            missing.append("GITHUB_EVENT_PATH")
        else:
            number = _pull_request_number(env["GITHUB_EVENT_PATH"], option)
    if missing:
        raise _missing(option, GITHUB, missing)
    server, run = _set(env, "GITHUB_SERVER_URL"), _set(env, "GITHUB_RUN_ID")
    job = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{run}" if server and run else None
    return Target(
        GITHUB, env["GITHUB_API_URL"].rstrip("/"), env["GITHUB_REPOSITORY"], number, env["GITHUB_SHA"], token, job
    )


def _pull_request_number(path: str, option: str) -> int:
    """The pull request of the event that started the job (`pull_request` and the like)."""
    try:
        event = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{option}: cannot read the event in GITHUB_EVENT_PATH ({path}): {e}") from None
    if not isinstance(event, dict):
        event = {}
    pr, issue = event.get("pull_request"), event.get("issue")
    number = None
    if isinstance(pr, dict):
        number = pr.get("number", event.get("number"))
    elif isinstance(issue, dict) and issue.get("pull_request"):  # a comment on a pull request
        number = issue.get("number")
    if not isinstance(number, int) or number <= 0:
        raise UserError(
            f"{option}: the event that started this job is not a pull request (run `mlreg plan {option}` on "
            "`pull_request` events)"
        )
    return number


def _gitlab(env: Mapping[str, str], option: str, pull_request: bool) -> Target:
    missing = [n for n in _GITLAB_VARS if not _set(env, n)]
    if pull_request and not _set(env, "CI_MERGE_REQUEST_IID"):
        missing.append("CI_MERGE_REQUEST_IID (run on merge request pipelines)")
    token = _token(env, None)
    if token is None:
        missing.append(f"{TOKEN} (a project access token with the api scope)")
    if missing:
        raise _missing(option, GITLAB, missing)
    number = None
    if pull_request:
        iid = env["CI_MERGE_REQUEST_IID"].strip()
        if not iid.isdigit():
            raise UserError(f"{option}: CI_MERGE_REQUEST_IID is not a number: {iid!r}")
        number = int(iid)
    return Target(
        GITLAB,
        env["CI_API_V4_URL"].rstrip("/"),
        env["CI_PROJECT_ID"].strip(),
        number,
        env["CI_COMMIT_SHA"],
        token,
        _set(env, "CI_JOB_URL"),
    )
