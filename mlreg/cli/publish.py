"""`plan --comment` and `drift --issue`: after the plan or the drift report is printed, keep the
pull request's comment or the schedule's issue on the forge the CI job runs on, and on GitHub
Actions write the job summary and the step outputs (`changes`, `exitcode`).

A forge that refuses or cannot be reached does not hide the plan: it was printed first, then one
line names the forge's answer, and the job fails (exit 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from mlreg.forge import sticky
from mlreg.forge.api import ForgeError
from mlreg.forge.clients import client
from mlreg.forge.target import GITHUB, Target, detect
from mlreg.planner.changes import DriftItem, Plan
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.errors import MlregError, UserError
from mlreg.planner.render import comment

EXIT_ERROR = 1
SUMMARY_LIMIT = 1_000_000  # GitHub's job summary takes up to 1 MiB per step


def label_for(label: str | None, file: str) -> str:
    """The label: given, or the path given to -f (MLREG_FILE)."""
    chosen = label or os.path.normpath(file)
    problem = comment.label_problem(chosen)
    if problem:
        hint = "" if label else " (the label defaults to the path given to -f; give --label NAME)"
        raise UserError(f"--label: {problem}{hint}")
    return chosen


class Publisher:
    """One label's comment or issue on the forge of this CI job."""

    def __init__(self, target: Target, label: str, env: Mapping[str, str]):
        self.target = target
        self.label = label
        self.env = env
        self.forge = client(target)
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.stamp = comment.Stamp(target.commit, when, target.job_url, self.forge.full_output_at)

    @classmethod
    def for_plan(cls, file: str, label: str | None, env: Mapping[str, str]) -> Publisher:
        """Before anything is read: outside a CI job on a pull request, an error naming what is missing."""
        return cls(detect(env, "--comment", pull_request=True), label_for(label, file), env)

    @classmethod
    def for_drift(cls, file: str, label: str | None, env: Mapping[str, str]) -> Publisher:
        return cls(detect(env, "--issue", pull_request=False), label_for(label, file), env)

    # -- the plan comment -----------------------------------------------------------------------
    def plan(self, ctx, plan: Plan, code: int) -> int:
        """Keep the comment for a plan that was made (with errors or not); the exit code to use."""
        body = comment.plan_comment(self.label, self.stamp, self.forge.limit, plan)
        self._summary(comment.plan_comment(self.label, self.stamp, SUMMARY_LIMIT, plan))
        return self._keep(ctx, body, plan.has_changes or plan.has_errors, plan.has_changes, code)

    def failed(self, ctx, message: str, diagnostics: Iterable[Diagnostic]) -> None:
        """Keep the comment for a plan that could not be made: its errors in place of the plan."""
        body = comment.failure_comment(self.label, self.stamp, self.forge.limit, message, diagnostics)
        self._summary(body)
        self._keep(ctx, body, True, False, EXIT_ERROR)

    def _keep(self, ctx, body: str, create: bool, changes: bool, code: int) -> int:
        where = f"{self.target.request_name} ({self.target.forge})"
        try:
            done = sticky.keep_comment(self.forge, self.target.number, self.label, body, create)
            ctx.echo(
                f"mlreg: {done} the plan comment on {where}" if done else f"mlreg: no changes: no comment on {where}",
                err=True,
            )
        except ForgeError as e:
            ctx.echo(f"Error: {e}; the plan was not posted to {where}", err=True)
            code = EXIT_ERROR
        self._outputs({"changes": "true" if changes else "false", "exitcode": str(code)})
        return code

    # -- the drift issue ------------------------------------------------------------------------
    def drift(self, ctx, items: list[DriftItem], last_apply: dict | None) -> bool:
        """Keep the label's drift issue; False when the forge refused (the line is printed)."""
        report = sticky.DriftReport(
            self.label,
            comment.drift_issue(self.label, self.stamp, self.forge.limit, items) if items else "",
            comment.drift_digest(items) if items else None,
            comment.drift_changed(self.stamp, items) if items else "",
            comment.drift_resolved(self.stamp, last_apply),
        )
        try:
            done = sticky.keep_issue(self.forge, report)
        except ForgeError as e:
            ctx.echo(f"Error: {e}; the drift issue was not updated", err=True)
            return False
        done = done or "no drift, and no open drift issue"
        ctx.echo(f"mlreg: {done} ({self.target.forge}, {comment.drift_title(self.label)})", err=True)
        return True

    # -- GitHub Actions' files --------------------------------------------------------------------
    def _summary(self, markdown: str) -> None:
        self._append("GITHUB_STEP_SUMMARY", markdown + "\n")

    def _outputs(self, outputs: dict[str, str]) -> None:
        self._append("GITHUB_OUTPUT", "".join(f"{k}={v}\n" for k, v in outputs.items()))

    def _append(self, variable: str, text: str) -> None:
        path = self.env.get(variable, "").strip() if self.target.forge == GITHUB else ""
        if path:
            with Path(path).open("a", encoding="utf-8") as f:
                f.write(text)


def last_apply(session) -> dict | None:
    """The last apply that succeeded, where state's history says (for the comment that closes a
    drift issue); None when unknown."""
    try:
        records = session.state.history()
    except (MlregError, OSError, ValueError):  # a state that cannot say: a closing comment without it is still right
        return None
    for r in reversed(records):
        if r.get("operation") == "apply" and r.get("outcome") == "succeeded":
            return r
    return None
