"""The renderers on plans built from plain data: text (Terraform's shape), Markdown (a PR
comment), the lineage picture (Mermaid and DOT), and apply's progress lines."""

from __future__ import annotations

import json

from mlreg.planner.apply import Event
from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.base import ALIASES, MAIN
from mlreg.planner.render import graph
from mlreg.planner.render.graph import Picture
from mlreg.planner.render.json import plan_json
from mlreg.planner.render.markdown import plan_markdown
from mlreg.planner.render.text import plan_text, progress_line
from tests.unit.engine_support import plan_for

PROMOTION = """
rules:
  production_alias: production
models:
  planner_model:
    versions:
      - {version: 1, stage: archived}
      - {version: 2, stage: production}
      - {run_id: r3, stage: candidate}
"""
LIVE = {
    "models": {"planner_model": {"aliases": {"production": 1}}},
    "versions": {
        "planner_model": [
            {"version": 1, "run_id": "r1", "source": "s", "tags": {"stage": "production"}},
            {"version": 2, "run_id": "r2", "source": "s", "tags": {"stage": "candidate"}},
        ]
    },
    "runs": [
        {"run_id": "r1", "metrics": {"plan_alignment_score": 0.87}},
        {"run_id": "r2", "metrics": {"plan_alignment_score": 0.91}},
        {"run_id": "r3"},
    ],
}


def test_text_plan_has_terraforms_shape(tmp_path):
    plan = plan_for(tmp_path, PROMOTION, LIVE)
    text = plan_text(plan)
    assert "Resource actions are indicated with:\n  + create\n  ~ update in-place\n\n" in text
    assert "- delete" not in text and ". forget" not in text  # only the symbols used
    assert "  # model_version.planner_model[run:r3/model] will be created" in text
    assert "+ version = (known after apply)" in text
    assert '~ stage   = "candidate" -> "production"' in text
    assert '~ aliases.production = "1" -> "2"' in text
    assert "Promotions:\n  planner_model version 2: candidate -> production" in text
    assert "plan_alignment_score = 0.91   (replaces version 1: 0.87)" in text
    assert '  # (adopted: it exists live as "planner_model/2")' in text  # state did not record it
    assert text.rstrip().endswith("Plan: 3 to adopt, 1 to add, 3 to change, 0 to delete, 0 to forget.")


def test_a_target_that_matches_nothing_is_an_error_and_targeting_is_always_said(tmp_path):
    live = {"models": {"a_model": {}, "b_model": {"description": "hand-made"}}}
    desired = "models:\n  a_model: {}\n  b_model: {description: wanted}\n"
    state = {
        "model.a_model": _rec("model", {"name": "a_model"}),
        "model.b_model": _rec("model", {"name": "b_model", "description": "hand-made"}),
    }
    typo = plan_for(tmp_path, desired, live, state, targets=("model.b_modle",))
    errors = [d.summary for d in typo.diagnostics if d.is_error]
    assert errors == ["--target model.b_modle matches nothing in the file or in state; did you mean 'model.b_model'?"]
    assert not typo.applyable and "No changes" not in plan_text(typo)
    quiet = plan_for(tmp_path, desired, live, state, targets=("model.a_model",))
    assert quiet.applyable and not quiet.actionable
    text = plan_text(quiet)
    assert "Warning: Resource targeting is in effect" in text
    assert "No changes for the targeted resources" in text and "The registry matches" not in text
    assert "resource targeting is in effect" in plan_markdown(quiet)


def test_text_plan_with_nothing_to_do_and_with_errors(tmp_path):
    live = {"models": {"a_model": {}}}
    plan = plan_for(tmp_path, "models:\n  a_model: {}\n", live, {"model.a_model": _rec("model", {"name": "a_model"})})
    assert plan_text(plan).strip() == "No changes. The registry matches registry.yaml."
    bad = plan_for(tmp_path, "models:\n  a_model:\n    versions: [{version: 9}]\n", live)
    text = plan_text(bad)
    assert "Error: Version 9 of 'a_model' does not exist" in text
    assert "registry.yaml:4: model_version.a_model[v9]" in text  # the file and line that declare it
    assert text.rstrip().endswith("The plan has errors and cannot be applied.")


def test_sensitive_values_are_never_shown(tmp_path):
    desired = "webhooks:\n  hook:\n    url: https://h.example/x\n    events: [model_version.created]\n"
    desired += "    secret: ${HOOK_SECRET}\n"
    plan = plan_for(tmp_path, desired, {}, env={"HOOK_SECRET": "very-secret-1"})
    text, md, js = plan_text(plan), plan_markdown(plan), plan_json(plan)
    assert "+ secret = (sensitive value)" in text
    for out in (text, md, js):
        assert "very-secret-1" not in out
    assert "pbkdf2" not in text and "pbkdf2" not in md  # not even the hash state keeps
    doc = json.loads(js)
    (rc,) = doc["resource_changes"]
    assert rc["change"]["after_sensitive"] == {"secret": True}


def test_deletions_are_loud(tmp_path):
    desired = 'models:\n  a_model: {}\nremoved:\n  - {address: "model_version.a_model[v1]", destroy: true}\n'
    live = {"models": {"a_model": {}}, "versions": {"a_model": [{"version": 1, "source": "s", "tags": {}}]}}
    plan = plan_for(tmp_path, desired, live)
    text = plan_text(plan)
    assert "!! WARNING: this plan DELETES live objects." in text
    assert "  # model_version.a_model[v1] will be deleted" in text
    assert "(because it is listed under removed with destroy: true)" in text
    md = plan_markdown(plan)
    assert "> [!CAUTION]" in md and "| <code>model_version.a_model&#91;v1&#93;</code> | - delete |" in md


def test_adoption_is_said_in_text_markdown_and_json(tmp_path):
    live = {"models": {"a_model": {"description": "made by hand"}}}
    plan = plan_for(tmp_path, "models:\n  a_model: {description: made by hand}\n", live)
    assert not plan.actionable and plan.has_changes and plan.summary.adopt == 1
    text = plan_text(plan)
    assert "  = adopt (exists live; state starts managing it)" in text
    assert "  # model.a_model will be adopted (it exists live; apply only records it)" in text
    assert '  = model.a_model {\n        id = "a_model"' in text
    assert text.rstrip().endswith("Plan: 1 to adopt, 0 to add, 0 to change, 0 to delete, 0 to forget.")
    md = plan_markdown(plan)
    assert md.startswith("📝 **Plan: 1 to adopt,")
    assert "| <code>model.a_model</code> | = adopt | exists live as a_model; apply only records it |" in md
    (rc,) = json.loads(plan_json(plan))["resource_changes"]
    assert rc["change"]["actions"] == ["no-op"] and rc["change"]["importing"] == {"id": "a_model"}


def test_markdown_says_who_gains_or_loses_what(tmp_path):
    desired = """
    models:
      planner_b_model: {}
    access:
      users:
        ana: {password: '${ANA_PASSWORD}'}
      roles:
        planners:
          permissions:
            - {resource_type: registered_model, resource_pattern: "planner_*", permission: EDIT}
          members: [ana]
    """
    live = {
        "models": {"planner_b_model": {}},
        "names": {"registered_model": ["planner_a_model", "planner_b_model"]},
        "users": {"ben": {"id": 7}},
        "roles": {
            "planners": {
                "id": 5,
                "permissions": [[1, "registered_model", "planner_a_model", "READ"], [2, "experiment", "*", "MANAGE"]],
                "members": ["ben"],
            }
        },
    }
    plan = plan_for(tmp_path, desired, live, env={"ANA_PASSWORD": "a-password-long-enough"})
    md = plan_markdown(plan)
    section = md.split("### Access\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        "- user ana is created",
        "- role planners: READ on registered_model planner_a_model becomes EDIT",
        "- role planners gains EDIT on registered_model planner_b_model",
        "- role planners loses MANAGE on every experiment",
        "- user ana joins role planners (and gains its grants)",
        "- user ben leaves role planners (and loses its grants)",
    ]


def test_markdown_comment(tmp_path):
    plan = plan_for(tmp_path, PROMOTION, LIVE)
    md = plan_markdown(plan)
    # above everything else, what a reviewer must not miss: the production moves, in the kinds' words
    assert md.splitlines()[:5] == [
        "> [!WARNING]",
        "> **A reviewer must not miss:**",
        "> - model_version.planner_model&#91;v1&#93; (version 1) leaves production (to archived)",
        "> - model_version.planner_model&#91;v2&#93; (version 2) is promoted to production (from candidate)",
        "",
    ]
    assert md.splitlines()[5] == "📝 **Plan: 3 to adopt, 1 to add, 3 to change, 0 to delete, 0 to forget.**"
    assert "| Address | Action | What changes |" in md
    row = (
        '| <code>model_version.planner_model&#91;v2&#93;</code> | ~ update | stage: "candidate" → "production" '
        "(adopted: exists live as planner_model/2) |"
    )
    assert row in md
    assert "### Promotions" in md and "| planner_model | 2 | candidate → production |" in md
    assert "```mermaid\ngraph LR" in md
    assert "<details><summary>Full plan</summary>" in md and md.rstrip().endswith("</details>")
    assert md.count("```") % 2 == 0


def test_lineage_picture_labels_come_from_the_kinds(tmp_path):
    desired = PROMOTION + (
        "policies:\n  planner_policy:\n    id: 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11\n    versions:\n"
        "      4: {model: planner_model, model_version: 2}\n"
    )
    plan = plan_for(tmp_path, desired, LIVE)
    pic = Picture.of_plan(plan)
    mermaid = pic.mermaid()
    assert '"planner_policy v4"' in mermaid and '"planner_model v2"' in mermaid
    assert '"planner_model run:r3/model (new)"' in mermaid
    assert "classDef create" in mermaid and "classDef update" in mermaid
    dot = pic.dot()
    assert dot.startswith("digraph mlreg {") and '"policy_version.planner_policy[4]" ->' in dot


def test_picture_is_bounded(tmp_path):
    edges = [(f"model_version.m[v{i}]", f"run:r{i}") for i in range(graph.MAX_NODES)]
    pic = Picture(edges, {a: "update" for a, _ in edges})
    pic._bound({a for a, _ in edges})
    assert len(pic.nodes) == graph.MAX_NODES and pic.more == graph.MAX_NODES
    assert "… and 40 more not shown" in pic.mermaid()


def test_dot_labels_escape_quotes_and_backslashes():
    pic = Picture([('model_version.m[source:s3://b/"x"\\y]', 'source:s3://b/"x"\\y')])
    dot = pic.dot()
    assert '\\"x\\"' in dot and "\\\\y" in dot


def test_progress_lines():
    c = Change("model.m", "model", Action.UPDATE, {"aliases": {}}, {"aliases": {"a": "1"}})
    assert progress_line(Event("start", "model.m", MAIN, c)) == "model.m: Modifying..."
    assert progress_line(Event("done", "model.m", ALIASES, c, "0.1s")) == "model.m (aliases): Aliases set after 0.1s"
    assert progress_line(Event("fail", "model.m", MAIN, None, "boom")) == "model.m: FAILED: boom"
    assert progress_line(Event("forget", "model.m", MAIN, c)).startswith("model.m: Forgotten")


def _rec(type_: str, identity: dict, attributes: dict | None = None) -> dict:
    return {"type": type_, "identity": identity, "attributes": attributes or {"tags": {}, "aliases": {}}}


def test_history_columns_line_up_whatever_the_values():
    from mlreg.planner.render.audit import applies_text

    records = [
        {
            "finished": "2026-12-01T10:00:00+00:00",
            "outcome": "succeeded",
            "id": "a1",
            "who": "ci",
            "host": "runner-1",
            "summary": {"create": 3},
            "changed": ["model.m"],
        },
        {
            "finished": "2026-12-01T11:00:00.123456+00:00",
            "outcome": "failed",
            "id": "b2222222",
            "who": "alice-from-the-platform-team",
            "host": "laptop",
            "summary": {"update": 1, "adopt": 2},
        },
    ]
    lines = applies_text(records).splitlines()
    header, rows = lines[0], [ln for ln in lines[1:] if not ln.startswith((" ", "changes:"))]
    assert len(rows) == 2
    for column, first_value in (("outcome", "succeeded"), ("apply id", "a1"), ("who", "ci@"), ("changes", "=0 +3")):
        at = header.index(column)
        assert rows[0][at:].startswith(first_value), (column, lines)
    assert rows[1][header.index("changes") :].startswith("=2 +0 ~1 -0 .0")
    assert "    model.m" in lines and lines[-1].startswith("changes: (= adopted")
