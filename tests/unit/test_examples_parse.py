"""Everything mlreg shows as YAML parses as YAML: every ```yaml block of the README (and a whole
registry file among them loads without errors), and every YAML fragment in a hint the engine prints
(backticked `key: value` snippets, the `removed: [...]` entries it suggests)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from mlreg.planner.config.load import load_config
from tests.unit.engine_support import load_case, plan_for
from tests.unit.test_config import BAD, PROMPTS_AND_WEBHOOKS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```ya?ml\n(.*?)^```", README, flags=re.S | re.M)
CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
SNIPPET = re.compile(r"`([^`\n]+)`")
SUGGESTED = re.compile(r"(removed: \[.*\])")


def yaml_fragments(text: str) -> list[str]:
    """The parts of a message a reader would paste into registry.yaml."""
    found = [m.group(1) for m in SUGGESTED.finditer(text)]
    for m in SNIPPET.finditer(text):
        frag = m.group(1)
        if re.match(r"^(- )?\{|^(- )?[A-Za-z_][\w.]*: ", frag):
            found.append(frag)
    return found


def test_readme_has_yaml_examples():
    assert len(BLOCKS) >= 5, "the README's YAML examples were not found"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_readme_yaml_block_parses(block, tmp_path):
    data = yaml.safe_load(block)
    assert data is not None
    if isinstance(data, dict) and data.get("version") == 1:
        path = tmp_path / "registry.yaml"
        path.write_text(block)
        _, diags = load_config(path, env={"DEPLOY_BOT_SECRET": "s" * 16, "MLREG_DATABASE_URL": "postgresql://h/db"})
        assert not [d for d in diags if d.is_error], [d.summary for d in diags]


def test_the_example_registry_loads():
    _, diags = load_config(ROOT / "registry.yaml", env={})
    assert not [d for d in diags if d.is_error], [d.summary for d in diags]


def _printed(diags) -> list[str]:
    return [f"{d.summary}\n{d.detail}" for d in diags]


def _config_messages(tmp_path) -> list[str]:
    out = []
    for i, (text, *_rest) in enumerate([*BAD.values(), *PROMPTS_AND_WEBHOOKS.values()]):
        path = tmp_path / f"bad{i}.yaml"
        path.write_text("version: 1\n" + text)
        _, diags = load_config(path, env={})
        out += _printed(diags)
    return out


def _engine_messages(tmp_path) -> list[str]:
    out = []
    for i, case_path in enumerate(CASES):
        case = load_case(case_path)
        where = tmp_path / str(i)
        where.mkdir()
        plan = plan_for(where, case["desired"], case.get("live"), case.get("state"), env=case.get("env"))
        out += _printed(plan.diagnostics)
        out += [n for c in plan.changes for n in getattr(c, "notes", ())]
    return out


def test_every_yaml_hint_printed_parses(tmp_path):
    messages = _config_messages(tmp_path) + _engine_messages(tmp_path)
    fragments = [f for m in messages for f in yaml_fragments(m)]
    # the corpus must reach the hints that carry YAML, or this test proves nothing
    assert any(f.startswith("removed: [") for f in fragments), fragments
    assert len(fragments) >= 5, fragments
    bad = []
    for frag in fragments:
        try:
            yaml.safe_load(frag)
        except yaml.YAMLError as e:
            bad.append((frag, str(e).splitlines()[0]))
    assert not bad, bad


def test_the_fragment_finder_catches_the_old_broken_hint():
    old = "delete the extras: removed: [{address: model_version.m[v3], destroy: true}]"
    (frag,) = yaml_fragments(old)
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(frag)


def test_the_walkthrough_is_a_script_with_promised_output():
    """`make demo` runs it (examples/demo/walkthrough.py); here: it is found and well-formed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("walkthrough", ROOT / "examples" / "demo" / "walkthrough.py")
    walk = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = walk  # its dataclasses look themselves up there
    spec.loader.exec_module(walk)
    steps = walk.steps(README)
    assert len(steps) >= 5 and all(s.expect for s in steps[1:])
    commands = "\n".join(s.script for s in steps)
    for needed in ("train.py", "mlreg plan", "mlreg apply", "mlreg drift", "mlreg history"):
        assert needed in commands
    assert walk._matches("Plan: … to add", "Plan: 9 to add, 0 to change") and not walk._matches("x … y", "y x")


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "ci").glob("*.yml")), ids=lambda p: p.name)
def test_ci_examples_parse_and_install_what_exists(path):
    """GitHub workflows install mlreg through its action at a release tag; the GitLab template
    from the repository at a release tag."""
    doc = yaml.safe_load(path.read_text())
    if "jobs" in doc:
        uses = [s.get("uses", "") for job in doc["jobs"].values() for s in job["steps"]]
        assert any(re.fullmatch(r"[\w-]+/mlreg@v[\d.]+", u) for u in uses), uses
    elif "include" in doc:
        assert any("@v" in str(i) or "/v" in str(i) for i in doc["include"]), doc["include"]
    else:
        install = doc["variables"]["MLREG_INSTALL"]
        assert "git+" in install and "@v" in install, install


def test_make_demo_shows_each_step_commands_and_output(tmp_path, capfd):
    """`make demo` is for a newcomer: every step's commands, then what they printed, not only a
    count of steps that ran."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("walkthrough_show", ROOT / "examples" / "demo" / "walkthrough.py")
    walk = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = walk
    spec.loader.exec_module(walk)
    readme = (
        "<!-- walkthrough -->\n```sh\necho first-step-output\n```\n\n```text\nfirst-step…\n```\n"
        "```sh\nprintf 'second\\n'\n```\n<!-- /walkthrough -->\n"
    )
    assert walk.run(walk.steps(readme), show=True, root=tmp_path) == 0
    out = capfd.readouterr().out
    assert out.index("--- step 1 of 2") < out.index("$ echo first-step-output") < out.index("\nfirst-step-output")
    assert out.index("$ printf 'second\\n'") < out.index("\nsecond\n")
    assert "2 steps ran and printed what the README says" in out
    assert walk.run(walk.steps(readme), show=False, root=tmp_path) == 0
    assert "$ echo" not in capfd.readouterr().out
