"""What a pull request's file (and a hostile server's answers) can do to reviewers and the CI log:
nothing. Markdown keeps its fences paired and gets no heading, HTML, link or live mention from a
value; no printed line starts a CI workflow command; secrets are masked in every encoding."""

from __future__ import annotations

import json
import re

import pytest

from mlreg.planner import redact
from mlreg.planner.config.load import load_config
from mlreg.planner.render import escape
from mlreg.planner.render.json import plan_json
from mlreg.planner.render.markdown import plan_markdown
from mlreg.planner.render.text import plan_text
from tests.unit.engine_support import plan_for

EVIL = "x\n```\n\n## Security review passed\n<img src=https://evil/x> @org/team [link](https://evil) ::add-mask::y"
QUIET_EVIL = "<img src=https://evil/x> @org/team ::notice title=ok::approved `code` [l](https://evil) | cell"


def _fences_paired(md: str) -> bool:
    """Every fence that opens is closed by a fence of the same length (CommonMark's rule)."""
    open_mark = None
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if not m:
            continue
        if open_mark is None:
            open_mark = m.group(1)
        elif line.strip() == open_mark or (line.startswith(open_mark) and not line[len(open_mark) :].strip()):
            open_mark = None
    return open_mark is None


def _outside_fences(md: str) -> list[str]:
    out, open_mark = [], None
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if m and open_mark is None:
            open_mark = m.group(1)
        elif m and line.strip() == open_mark:
            open_mark = None
        elif open_mark is None:
            out.append(line)
    return out


@pytest.mark.parametrize(
    "yaml_text",
    [
        'models:\n  a_model:\n    versions:\n      - source: "s3://b/m\\n```\\n## Security review passed"\n',
        'models:\n  a_model:\n    versions:\n      - run_id: "r1\\u2028::add-mask::x"\n',
        'models:\n  a_model:\n    tags:\n      "k\\nk": v\n',
        'webhooks:\n  "hook\\r": {url: "https://h/x", events: [model_version.created]}\n',
        'removed:\n  - {address: "model.a_model\\n## hi", destroy: true}\n',
    ],
    ids=["source", "run_id", "tag_key", "webhook_name", "removed_address"],
)
def test_control_characters_in_names_keys_and_addresses_are_refused_with_the_line(tmp_path, yaml_text):
    path = tmp_path / "registry.yaml"
    path.write_text("version: 1\n" + yaml_text)
    loaded, diags = load_config(path, env={})
    assert loaded is None and diags
    assert all(d.line is not None and d.file for d in diags), [(d.summary, d.line) for d in diags]
    said = " ".join(d.summary + d.detail for d in diags).lower()
    assert "control character" in said or "expected an address" in said, said


def _hostile_plan(tmp_path):
    desired = f"""
    models:
      a_model:
        description: {json.dumps(QUIET_EVIL)}
        versions:
          - version: 1
            stage: candidate
            description: {json.dumps(QUIET_EVIL)}
    """
    live = {  # what a hostile server answers: control characters, fences, HTML, mentions
        "models": {"a_model": {"description": EVIL, "tags": {"owner": EVIL}}},
        "versions": {"a_model": [{"version": 1, "run_id": "r1", "source": EVIL, "description": EVIL}]},
        "runs": [{"run_id": "r1", "name": EVIL}],
    }
    return plan_for(tmp_path, desired, live)


def test_markdown_of_hostile_values_keeps_fences_and_gets_no_heading_html_or_mention(tmp_path):
    plan = _hostile_plan(tmp_path)
    md = plan_markdown(plan)
    assert _fences_paired(md), md
    outside = _outside_fences(md)
    assert not [line for line in outside if line.lstrip().startswith("#") and "Security" in line]
    assert not [line for line in outside if "<img" in line or "@org/team" in line or "](https://evil)" in line]
    assert "&lt;img" in md and "&#64;org/team" in md  # shown, as text


def test_no_printed_line_starts_a_ci_workflow_command(tmp_path):
    plan = _hostile_plan(tmp_path)
    for out in (plan_text(plan), plan_markdown(plan), escape.ci_safe(plan_json(plan))):
        starts = [line for line in out.splitlines() if line.lstrip().startswith("::")]
        assert not starts, starts
    assert escape.ci_safe("ok\n::add-mask::x\n  ::notice::y") == "ok\n:\u200b:add-mask::x\n  :\u200b:notice::y"


@pytest.mark.parametrize("secret", ['pa"ss\\word', "pässwörd-ünïcode", 'a\\"b</script>', "tab\there"])
def test_every_encoding_of_a_secret_is_masked(secret):
    redact.add_secret(secret)
    forms = {
        "raw": secret,
        "json": json.dumps(secret),
        "json_ascii": json.dumps(secret, ensure_ascii=True),
        "json_utf8": json.dumps(secret, ensure_ascii=False),
        "markdown": escape.md(secret),
        "text": escape.text(secret),
        "url": __import__("urllib.parse").parse.quote(secret, safe=""),
    }
    for name, form in forms.items():
        shown = redact.redact(f"before {form} after")
        inner = form.strip('"')
        assert inner not in shown, (name, shown)
        assert "***" in shown, (name, shown)
