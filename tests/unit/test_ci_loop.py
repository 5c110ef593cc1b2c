"""The CI loop's parts on plain data and a local stand-in forge: which forge the environment
names, the token kept to its API, one comment or issue per label, the comment within the forge's
size limit with the warnings first, and the CI files (action.yml, workflows, the GitLab template,
the pre-commit hook) against their schemas."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import yaml

from mlreg.forge import sticky
from mlreg.forge.api import Api, ForgeError
from mlreg.forge.clients import client
from mlreg.forge.sticky import Note
from mlreg.forge.target import GITHUB, GITLAB, Target, detect
from mlreg.planner import planfile, redact
from mlreg.planner.changes import DriftItem
from mlreg.planner.errors import UserError
from mlreg.planner.render import comment
from mlreg.planner.render.json import plan_json
from tests.support import forge as stand_ins
from tests.support.forge import ForgeStandIn
from tests.support.workspace import ROOT
from tests.unit.engine_support import plan_for

TOKEN = "glpat-" + "Kx9w" * 6
STAMP = comment.Stamp("0123456789abcdef0123", "2026-12-04 09:01 UTC", "https://ci.example/job/1")


# --- where: the environment only ---------------------------------------------------------------


def test_outside_ci_comment_and_issue_name_the_missing_variables():
    with pytest.raises(UserError) as e:
        detect({}, "--comment", pull_request=True)
    for name in ("GITHUB_ACTIONS=true", "GITHUB_EVENT_PATH", "GITHUB_TOKEN", "GITLAB_CI=true", "MLREG_FORGE_TOKEN"):
        assert name in str(e.value)
    with pytest.raises(UserError) as e:
        detect({"GITHUB_ACTIONS": "true", "GITHUB_API_URL": "https://api.github.com"}, "--issue", pull_request=False)
    assert (
        str(e.value)
        == "--issue on GitHub: GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_TOKEN (or MLREG_FORGE_TOKEN) are not set"
    )
    gitlab = {"GITLAB_CI": "true", "CI_API_V4_URL": "https://gl/api/v4", "CI_PROJECT_ID": "7", "CI_COMMIT_SHA": "abc"}
    with pytest.raises(UserError) as e:  # the job token cannot write notes: never taken
        detect({**gitlab, "CI_JOB_TOKEN": "job-token-value"}, "--comment", pull_request=True)
    assert "CI_MERGE_REQUEST_IID" in str(e.value) and "MLREG_FORGE_TOKEN" in str(e.value)


def test_github_reads_the_pull_request_from_the_event_and_mlreg_forge_token_overrides(tmp_path):
    event = tmp_path / "event.json"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": "https://ghe.example/api/v3/",
        "GITHUB_REPOSITORY": "acme/registry",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": "abc",
        "GITHUB_TOKEN": "github-token-value",
        "MLREG_FORGE_TOKEN": "forge-token-value",
    }
    event.write_text(json.dumps({"number": 12, "pull_request": {"number": 12}}))
    target = detect(env, "--comment", pull_request=True)
    assert (target.forge, target.api_url, target.number, target.token) == (
        GITHUB,
        "https://ghe.example/api/v3",
        12,
        "forge-token-value",
    )
    assert "forge-token-value" not in repr(target) and redact.redact("x forge-token-value") == "x ***"
    event.write_text(json.dumps({"ref": "refs/heads/main", "commits": []}))  # a push: no pull request
    with pytest.raises(UserError, match="not a pull request"):
        detect(env, "--comment", pull_request=True)
    assert detect(env, "--issue", pull_request=False).number is None


# --- the token goes to that API only ----------------------------------------------------------


@pytest.fixture
def stand_in():
    forge = ForgeStandIn(stand_ins.GITLAB, TOKEN, repository="42")
    yield forge
    forge.stop()


def _gitlab(stand_in, number: int | None = 3):
    return client(Target(GITLAB, stand_in.url, "42", number, "abc", TOKEN))


def test_redirects_and_links_elsewhere_are_not_followed(stand_in):
    elsewhere = ForgeStandIn(stand_ins.GITLAB, TOKEN, repository="42")
    try:
        stand_in.redirect_to = elsewhere.url + "/projects/42/merge_requests/3/notes"
        with pytest.raises(ForgeError, match="answered 302"):
            _gitlab(stand_in).comments(3)
        assert elsewhere.requests == []  # the token went nowhere else
        api = Api(GITLAB, stand_in.url, {"PRIVATE-TOKEN": TOKEN})
        with pytest.raises(ForgeError, match="outside its API"):
            api.request("GET", elsewhere.url + "/projects")
        with pytest.raises(ForgeError, match="outside its API"):  # same host, another path
            api.request("GET", stand_in.url.replace("/api/v4", "/other"))
        for dotted in ("/api/v4/../other", "/api/v4/%2e%2e/other"):  # under the API only by its prefix
            with pytest.raises(ForgeError, match="outside its API"):
                api.request("GET", f"http://127.0.0.1:{stand_in.port}{dotted}")
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()
    with pytest.raises(ForgeError, match="not an http"):
        Api(GITLAB, "https://user:pw@gitlab.example/api/v4", {})


def test_an_unreachable_forge_is_one_line_in_bounded_time(monkeypatch):
    monkeypatch.setattr("mlreg.forge.api.BACKOFF", 0.01)
    started = time.monotonic()
    with pytest.raises(ForgeError) as e:
        Api(GITHUB, "http://127.0.0.1:9", {}).get_all("/repos/a/b/issues/1/comments")
    assert time.monotonic() - started < 10
    assert str(e.value).startswith("GitHub could not be reached at http://127.0.0.1:9/repos/a/b/issues/1/comments")
    assert "\n" not in str(e.value)


def test_gitlab_notes_skip_system_notes_and_page_through_links(stand_in):
    stand_in.seed(3, ["merged 2 commits"] * 3, system=True)
    stand_in.seed(3, [f"note {i}" for i in range(150)])
    notes = _gitlab(stand_in).comments(3)
    assert [n.body for n in notes] == [f"note {i}" for i in range(150)]
    assert [r.query.get("page") for r in stand_in.requests] == [None, "2"]
    assert all(r.headers["PRIVATE-TOKEN"] == TOKEN for r in stand_in.requests)


# --- one comment, one issue per label -----------------------------------------------------------


class FakeForge:
    """In memory; `lose_next_create`: the forge makes it, the answer is lost (a 502)."""

    name, limit, full_output_at = "Fake", 65_536, "the log"

    def me(self):
        return "mlreg-bot"

    def __init__(self):
        self.threads: dict[int, list[Note]] = {}
        self.issues: dict[int, Note] = {}
        self.closed: set[int] = set()
        self.issue_comments: dict[int, list[str]] = {}
        self.lose_next_create = False
        self.ids = iter(range(100, 10_000))

    def comments(self, number):
        return list(self.threads.get(number, []))

    def create_comment(self, number, body):
        note = Note(next(self.ids), body, "mlreg-bot")
        self.threads.setdefault(number, []).append(note)
        if self.lose_next_create:
            self.lose_next_create = False
            raise ForgeError("Fake answered 502 Bad Gateway to POST", 502)
        return note

    def edit_comment(self, number, note_id, body):
        self.threads[number] = [Note(n.id, body, n.author) if n.id == note_id else n for n in self.threads[number]]

    def open_issues(self, title):
        return [i for n, i in self.issues.items() if n not in self.closed]

    def create_issue(self, title, body):
        number = len(self.issues) + 1
        self.issues[number] = Note(number, body, "mlreg-bot")
        return self.issues[number]

    def edit_issue(self, number, body):
        self.issues[number] = Note(number, body, self.issues[number].author)

    def comment_issue(self, number, body):
        self.issue_comments.setdefault(number, []).append(body)

    def close_issue(self, number):
        self.closed.add(number)


def test_one_comment_per_label_never_posted_twice():
    forge = FakeForge()
    forge.threads[7] = [
        Note(1, "<!-- mlreg:plan:registry.yaml --> quoted by someone, not first-line alone", "mlreg-bot"),
        # the marker in a comment mlreg did not write: not taken over (its author could edit the plan)
        Note(2, "<!-- mlreg:plan:registry.yaml -->\nlooks like a plan", "mallory"),
    ]
    assert sticky.keep_comment(forge, 7, "registry.yaml", "<!-- mlreg:plan:registry.yaml -->\nno changes", False) == ""
    forge.lose_next_create = True  # made, but the answer was lost: found again, not posted twice
    assert sticky.keep_comment(forge, 7, "registry.yaml", "<!-- mlreg:plan:registry.yaml -->\nv1", True) == "created"
    assert sticky.keep_comment(forge, 7, "registry.yaml", "<!-- mlreg:plan:registry.yaml -->\nv2", True) == "updated"
    assert sticky.keep_comment(forge, 7, "teams/b", "<!-- mlreg:plan:teams/b -->\nb", True) == "created"
    bodies = [n.body for n in forge.threads[7]]
    assert bodies[2:] == ["<!-- mlreg:plan:registry.yaml -->\nv2", "<!-- mlreg:plan:teams/b -->\nb"]
    assert bodies[1] == "<!-- mlreg:plan:registry.yaml -->\nlooks like a plan"


def _drift(*addresses):
    return [DriftItem(a, "model", "description", "d", "hand") for a in addresses]


def _report(items):
    return sticky.DriftReport(
        "reg",
        comment.drift_issue("reg", STAMP, 65_536, items) if items else "",
        comment.drift_digest(items) if items else None,
        comment.drift_changed(STAMP, items) if items else "",
        comment.drift_resolved(STAMP, {"id": "a1", "who": "ci", "finished": "2026-12-04T09:00:00+00:00"}),
    )


def test_one_drift_issue_commented_only_when_the_drifted_set_changes():
    forge = FakeForge()
    assert sticky.keep_issue(forge, _report(_drift("model.a"))) == "opened issue #1"
    assert sticky.keep_issue(forge, _report(_drift("model.a"))) == "updated issue #1 (the same drift)"
    assert forge.issue_comments == {}
    assert sticky.keep_issue(forge, _report(_drift("model.a", "model.b"))).endswith("(the drifted resources changed)")
    assert forge.issue_comments[1][0].startswith("⚠️ The drift changed: 2 resource(s)")
    assert sticky.keep_issue(forge, _report([])) == "closed issue #1"
    assert forge.closed == {1} and "The last apply: <code>a1</code> by ci" in forge.issue_comments[1][-1]
    assert sticky.keep_issue(forge, _report([])) == ""
    assert sticky.keep_issue(forge, _report(_drift("model.a"))) == "opened issue #2"  # drift again: a new issue


def test_a_drift_issue_someone_else_opened_with_the_marker_is_not_mlregs():
    forge = FakeForge()
    forge.issues[1] = Note(1, _report(_drift("model.a")).body, "mallory")
    assert sticky.keep_issue(forge, _report(_drift("model.a"))) == "opened issue #2"
    assert sticky.keep_issue(forge, _report([])) == "closed issue #2"
    assert forge.closed == {2} and forge.issues[1].author == "mallory"


# --- the comment: warnings first, the commit, the size limit -----------------------------------


def test_labels_cannot_break_out_of_the_marker():
    assert comment.label_problem("registry/teams.yaml") is None
    for bad in ("a-->b", "x\ny", "a b", "<b>", ""):
        assert comment.label_problem(bad)


def test_a_huge_plan_fits_the_comment_with_its_warnings_and_summary(tmp_path):
    n = 3000
    state = {"model.big_model": {"type": "model", "identity": {"name": "big_model"}, "attributes": {}}}
    versions = []
    for i in range(1, n + 1):
        state[f"model_version.big_model[v{i}]"] = {
            "type": "model_version",
            "identity": {"name": "big_model", "version": str(i)},
            "attributes": {"version": str(i), "tags": {}},
        }
        versions.append({"version": i, "run_id": f"r{i}", "source": "s", "tags": {}})
    live = {"models": {"big_model": {}}, "versions": {"big_model": versions}}
    plan = plan_for(tmp_path, "models:\n  big_model: {}\n", live, state)
    body = comment.plan_comment("registry.yaml", STAMP, 65_536, plan)
    assert len(body) <= 65_536
    lines = body.splitlines()
    assert lines[0] == "<!-- mlreg:plan:registry.yaml -->"
    assert lines[3] == "> [!WARNING]" and "is forgotten: mlreg stops managing it" in lines[5]
    assert f"> - … and {n - 40} more (see the changes below)" in body
    assert f"📝 **Plan: 0 to add, 0 to change, 0 to delete, {n} to forget.**" in body
    assert "the full plan is in the CI job's log (https://ci.example/job/1)" in body
    assert "Planned at commit <code>0123456789ab</code> on 2026-12-04 09:01 UTC" in lines[-1]
    assert body.count("```") % 2 == 0
    tiny = comment.plan_comment("registry.yaml", STAMP, 5_000, plan)  # even the sections cut, line by line
    assert len(tiny) <= 5_000 and "📝 **Plan:" in tiny and "Cut at the size limit" in tiny


def test_warnings_come_from_the_kinds(tmp_path):
    desired = """
    models:
      a_model:
        versions: [{version: 2, stage: production}]
    access:
      roles:
        writers:
          permissions: [{resource_type: registered_model, resource_pattern: a_model, permission: EDIT}]
    removed:
      - {address: "model_version.a_model[v1]", destroy: true}
    """
    live = {
        "models": {"a_model": {}},
        "versions": {
            "a_model": [
                {"version": 1, "source": "s", "tags": {"stage": "production"}},
                {"version": 2, "run_id": "r2", "source": "s", "tags": {"stage": "candidate"}},
            ]
        },
        "runs": [{"run_id": "r2", "metrics": {"plan_alignment_score": 0.9, "constraint_respect_score": 1.0}}],
        "names": {"registered_model": ["a_model"]},
        "roles": {},
    }
    md = comment.plan_comment("r", STAMP, 65_536, plan_for(tmp_path, desired, live))
    warnings = md.split("> **A reviewer must not miss:**\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert md.splitlines()[3:5] == ["> [!CAUTION]", "> This plan **deletes** live objects."]
    assert sorted(warnings) == [
        "> - model_version.a_model&#91;v1&#93; is deleted live",
        "> - model_version.a_model&#91;v2&#93; (version 2) is promoted to production (from candidate)",
        "> - role writers gains EDIT on registered_model a_model",
    ]
    assert md.index("> [!CAUTION]") < md.index("📝 **Plan:") < md.index("| Address | Action |")


def test_the_json_plan_says_which_terraform_plan_format_it_follows(tmp_path):
    doc = json.loads(plan_json(plan_for(tmp_path, "models:\n  a_model: {}\n")))
    assert doc["format_version"] == "1.2" and doc["terraform_version"] == planfile.TERRAFORM_VERSION == "1.9.0"


# --- the CI files --------------------------------------------------------------------------------

WORKFLOWS = sorted((ROOT / "examples" / "ci").glob("mlreg-*.yml"))
GITLAB_FILES = [ROOT / "examples" / "ci" / "mlreg.gitlab-ci.yml", ROOT / "examples" / "ci" / "gitlab-ci.yml"]


def _schema(name: str, *paths) -> subprocess.CompletedProcess:
    """check-jsonschema with its vendored schema (no network)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", name, *map(str, paths)],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    "schema, paths",
    [
        ("vendor.github-actions", [ROOT / "action.yml"]),
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.gitlab-ci", GITLAB_FILES),
    ],
    ids=["action", "workflows", "gitlab"],
)
def test_ci_files_pass_their_json_schemas(schema, paths):
    assert paths
    out = _schema(schema, *paths)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_schema_check_can_fail(tmp_path):
    broken = tmp_path / "action.yml"
    broken.write_text("name: x\nruns: {using: composite, steps: [{run: echo}]}\n")  # no description, no shell
    assert _schema("vendor.github-actions", broken).returncode == 1


def test_example_workflows_use_the_action_and_name_every_secret_they_read():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert set(action["inputs"]) >= {"command", "file", "label", "args"}
    assert action["runs"]["using"] == "composite"
    install = action["runs"]["steps"][1]
    assert install["env"]["MLREG_ACTION_PATH"] == "${{ github.action_path }}" and "$MLREG_ACTION_PATH" in install["run"]
    for path in WORKFLOWS:
        text = path.read_text()
        doc = yaml.safe_load(text)
        uses = [s.get("uses", "") for job in doc["jobs"].values() for s in job["steps"]]
        assert any(re.fullmatch(r"your-org/mlreg@v\d+\.\d+\.\d+", u) for u in uses), uses
        header = text.split("\nname:", 1)[0]
        for secret in set(re.findall(r"secrets\.([A-Z_]+)", text)):
            assert secret in header, f"{path.name}: secret {secret} is not listed in the header comment"
    template = yaml.safe_load(GITLAB_FILES[0].read_text())
    assert {"mlreg-plan", "mlreg-apply", "mlreg-drift"} <= set(template)
    assert "mlreg plan --comment" in template["mlreg-plan"]["script"][0]


def test_pre_commit_hook_matches_a_file_and_a_folder_of_files():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    files = re.compile(hook["files"])
    for path in (
        "registry.yaml",
        "registry.yml",
        "ml/registry.yaml",
        "registry/_settings.yaml",
        "registry/planner.yml",
    ):
        assert files.search(path), path
    for path in ("registry.yaml.bak", "other.yaml", "registry/deep/x.yaml", "registry/README.md"):
        assert not files.search(path), path
